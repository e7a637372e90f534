"""The Keras model config (the Graphs dashboard's conceptual graph) is found by
TensorBoard's own Graphs plugin, as it finds the one keras.callbacks.TensorBoard writes."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
from tensorboard import context
from tensorboard.backend.event_processing import data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
from tensorboard.plugins import base_plugin
from tensorboard.plugins.graph import graphs_plugin

import tblog
from tblog.integrations.keras._callback import _model_json_summary


def _graphs_info(logdir: str) -> dict:
    mux = pem.EventMultiplexer()
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, logdir)
    ctx = base_plugin.TBContext(logdir=logdir, data_provider=provider, multiplexer=mux)
    return graphs_plugin.GraphsPlugin(ctx).info_impl(context.RequestContext(), experiment="")


def test_conceptual_graph_is_listed_and_readable(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="fc")])
    summary = _model_json_summary(model)
    assert summary is not None
    with tblog.SummaryWriter(tmp_path) as w:
        w.writer.summary("", summary, 0, 1.0)
    info = _graphs_info(str(tmp_path))
    assert info["."]["tags"]["keras"]["conceptual_graph"] is True
