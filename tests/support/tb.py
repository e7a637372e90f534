"""Read log dirs back with TensorBoard's own loaders: the judge of everything we write."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tensorboard.backend.event_processing import event_accumulator as legacy
from tensorboard.backend.event_processing import plugin_event_accumulator as pea
from tensorboard.backend.event_processing import (
    plugin_event_multiplexer,
)
from tensorboard.backend.event_processing.event_multiplexer import (
    EventMultiplexer,
)
from tensorboard.util import tensor_util


def accumulator(run_dir: str) -> pea.EventAccumulator:
    """TensorBoard's server-side (migrating) accumulator for one run, fully loaded."""
    acc = pea.EventAccumulator(str(run_dir), size_guidance={pea.TENSORS: 0, pea.GRAPH: 0})
    acc.Reload()
    return acc


def multiplexer(logdir: str) -> plugin_event_multiplexer.EventMultiplexer:
    """TensorBoard's multiplexer over every run under ``logdir`` (what ``--load_fast=false`` uses)."""
    mux = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={pea.TENSORS: 0})
    mux.AddRunsFromDirectory(str(logdir))
    mux.Reload()
    return mux


def legacy_accumulator(run_dir: str) -> legacy.EventAccumulator:
    acc = legacy.EventAccumulator(
        str(run_dir), size_guidance={k: 0 for k in legacy.DEFAULT_SIZE_GUIDANCE}
    )
    acc.Reload()
    return acc


def array(event: Any) -> np.ndarray:
    """Decode a TensorEvent's tensor."""
    return tensor_util.make_ndarray(event.tensor_proto)


def scalar_series(run_dir: str, tag: str) -> list[tuple[int, float]]:
    """``[(step, value)]`` of a scalar tag as TensorBoard's server sees it."""
    acc = accumulator(run_dir)
    return [(e.step, float(array(e).item())) for e in acc.Tensors(tag)]


def plugin_tags(run_dir: str, plugin: str) -> list[str]:
    return sorted(accumulator(run_dir).PluginTagToContent(plugin))


def mux_scalars(logdir: str) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """``{(run, tag): [(step, value)]}`` for every scalar under ``logdir``."""
    mux = multiplexer(logdir)
    out: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for run, tags in mux.PluginRunToTagToContent("scalars").items():
        for tag in tags:
            out[(run, tag)] = [(e.step, float(array(e).item())) for e in mux.Tensors(run, tag)]
    return out


def projector(logdir) -> Any:
    """``get(route, **query) -> bytes`` against TensorBoard's projector plugin over ``logdir``
    (asserting HTTP 200), as its frontend would call it."""
    from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.projector import projector_plugin
    from werkzeug.test import Client

    mux = multiplexer(logdir)
    ctx = base_plugin.TBContext(
        logdir=str(logdir), data_provider=MultiplexerDataProvider(mux, str(logdir))
    )
    apps = projector_plugin.ProjectorPlugin(ctx).get_plugin_apps()

    def get(route: str, **args: Any) -> bytes:
        resp = Client(apps[route]).get(route, query_string=args)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_data()

    return get


__all__ = [
    "EventMultiplexer",
    "accumulator",
    "array",
    "legacy_accumulator",
    "multiplexer",
    "mux_scalars",
    "plugin_tags",
    "projector",
    "scalar_series",
]
