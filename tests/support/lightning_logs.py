"""What TensorBoard shows of a Lightning log dir: the files, the HPARAMS session and
groups, text tags (shared by the Lightning tests)."""

from __future__ import annotations

import os

import tb
from tensorboard import context as tb_request_context
from tensorboard.backend.event_processing import data_provider
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups
from tensorboard.plugins.hparams import metadata as hp_metadata


def tree(root: str) -> set[str]:
    """Relative paths under ``root``, with every event file named ``<events>``."""
    out = set()
    for here, dirs, files in os.walk(root):
        rel = os.path.relpath(here, root)
        out.update(os.path.normpath(os.path.join(rel, d)) for d in dirs)
        out.update(
            os.path.normpath(os.path.join(rel, "<events>" if "tfevents" in f else f)) for f in files
        )
    return out


def session_hparams(run_dir: str) -> dict[str, tuple[str, object]]:
    """``{hparam: (kind, value)}``: the kind matters (a bool_value and a number_value 1.0
    compare equal in Python but are different columns in the HPARAMS tab)."""
    acc = tb.accumulator(run_dir)
    content = acc.SummaryMetadata(hp_metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = hp_metadata.parse_session_start_info_plugin_data(content)
    out: dict[str, tuple[str, object]] = {}
    for key, value in info.hparams.items():
        kind = value.WhichOneof("kind")
        out[key] = (kind, getattr(value, kind))
    return out


def texts(run_dir: str, tag: str) -> list[tuple[int, str]]:
    acc = tb.accumulator(run_dir)
    return [(e.step, tb.array(e).item().decode()) for e in acc.Tensors(tag)]


def session_groups(logdir: str) -> api_pb2.ListSessionGroupsResponse:
    """What the HPARAMS dashboard lists, from TensorBoard's hparams plugin backend."""
    mux = tb.multiplexer(logdir)
    provider = data_provider.MultiplexerDataProvider(mux, logdir)
    context = base_plugin.TBContext(logdir=logdir, multiplexer=mux, data_provider=provider)
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0, slice_size=100, allowed_statuses=list(api_pb2.Status.values())
    )
    handler = list_session_groups.Handler(
        tb_request_context.RequestContext(), backend_context.Context(context), "", request
    )
    return handler.run()
