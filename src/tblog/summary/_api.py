"""``tblog.summary``: the API of ``tf.summary`` (TF2) on tblog's writer core.

Code written for ``tf.summary`` runs with only the import changed::

    from tblog import summary as tf_summary     # was: tf.summary
    writer = tf_summary.create_file_writer("logs/train")
    with writer.as_default(step=0):
        tf_summary.scalar("loss", 0.5)           # True: written at step 0

The state is TensorFlow's: per thread, a default writer (``as_default``/``set_as_default``),
a default step (``as_default(step)``/``experimental.set_step``, a number or a variable read
at each call) and a recording condition (``record_if``). Every op returns ``True`` when it
wrote, ``False`` when there is no default writer or recording is off, and raises
``ValueError`` when it would write but no step is known. Tags are prefixed by the enclosing
``tf.name_scope`` when TensorFlow is loaded (read through the registry adapter's
``name_scope``; nothing here imports TensorFlow). Values may be Python numbers, numpy
arrays or torch/TensorFlow/JAX tensors (:mod:`tblog.core.convert`). Encodings are those of
``tf.summary`` (:mod:`tblog.core.summaries.tf_style`).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tblog.core import convert, registry
from tblog.core.convert import prepare_scalar, to_step
from tblog.core.format import events
from tblog.summary._state import (
    SummaryFileWriter,
    SummaryWriter,
    _recording,
    _state,
    create_file_writer,
    create_noop_writer,
    flush,
    get_step,
    record_if,
    set_step,
    should_record_summaries,
)

__all__ = [
    "SummaryFileWriter",
    "SummaryWriter",
    "audio",
    "create_file_writer",
    "create_noop_writer",
    "flush",
    "get_step",
    "graph",
    "histogram",
    "image",
    "record_if",
    "scalar",
    "set_step",
    "should_record_summaries",
    "summary_scope",
    "text",
    "write",
]

_time = time.time


# ---------------------------------------------------------------------- tags
_scope_fn: Callable[[], str] | None = None
_modules_seen = -1
_INVALID_SCOPE_CHARACTERS = re.compile(r"[^-_/.A-Za-z0-9]")


def _name_scope() -> str:
    """The enclosing ``tf.name_scope`` when TensorFlow is loaded, else ``""``."""
    global _scope_fn, _modules_seen
    fn = _scope_fn
    if fn is None:
        n = len(sys.modules)
        if n == _modules_seen:
            return ""
        _modules_seen = n
        fn = _scope_fn = registry.name_scope_fn()
        if fn is None:
            return ""
    return fn()


def _tag(name: Any, default: str) -> str:
    if not isinstance(name, str):
        if isinstance(name, bytes):
            name = name.decode("utf-8")
        else:
            raise TypeError(f"name must be a str, got {type(name).__name__}")
    name = name or default
    scope = _name_scope()
    return f"{scope}/{name}" if scope else name


@contextmanager
def summary_scope(
    name: str, default_name: str = "summary", values: Any = None
) -> Iterator[tuple[str, str]]:
    """``(tag, scope)`` for a custom summary op: ``name`` prefixed by the enclosing name
    scopes (``tf.summary.experimental.summary_scope``)."""
    del values
    tag = _tag(name, default_name)
    scope = _INVALID_SCOPE_CHARACTERS.sub("", name or "") or default_name
    yield tag, f"{_name_scope() + '/' if _name_scope() else ''}{scope}/"


# ---------------------------------------------------------------------- ops
def _target(step: Any) -> tuple[SummaryFileWriter, int] | None:
    """The default writer and the int step an op writes at, ``None`` when it must not write."""
    writer = _state.writer
    if writer is None or not _recording():
        return None
    if step is None:
        step = _state.step
        if step is None:
            raise ValueError(
                "No step set. Please specify one either through the `step` argument or "
                "through tblog.summary.experimental.set_step()"
            )
    if not isinstance(writer, SummaryFileWriter):
        return None
    writer.check_open()
    return writer, (step if type(step) is int else to_step(step))


def write(tag: str, tensor: Any, step: Any = None, metadata: Any = None, name: Any = None) -> bool:
    """Write ``tensor`` (an array, tensor or a callable returning one, called only when it
    writes) under ``tag`` (no name-scope prefix) with ``metadata`` (a SummaryMetadata proto
    or its serialized bytes)."""
    del name
    if not isinstance(tag, str):
        raise TypeError(f"tag must be a str, got {type(tag).__name__}")
    target = _target(step)
    if target is None:
        return False
    from tblog.core.proto import summary_pb2
    from tblog.core.summaries.common import summary_value, tensor_proto

    md = summary_pb2.SummaryMetadata()
    if metadata is not None:
        md.ParseFromString(
            metadata.SerializeToString() if hasattr(metadata, "SerializeToString") else metadata
        )
    value = tensor() if callable(tensor) else tensor
    from tblog.core.summaries.common import string_tensor_proto

    if isinstance(value, (str, bytes)):
        proto = string_tensor_proto(value)
    else:
        proto = tensor_proto(convert.to_numpy(value))
    _emit(target, summary_value(tag, proto, md))
    return True


def _number(value: Any) -> Any:
    """A framework scalar tensor (a count, a rate) as numpy; anything else unchanged, for
    the encoder to check."""
    if value is None or isinstance(value, (int, float, str, bytes)):
        return value
    adapter = registry.adapter_for(value)
    if adapter is not None and adapter.to_numpy is not None:
        return adapter.to_numpy(value)
    return value


def _emit(target: tuple[SummaryFileWriter, int], summary: Any) -> None:
    writer, step = target
    writer.event_writer.summary(writer.run, summary, step, _time())


def scalar(name: str, data: Any, step: Any = None, description: str | None = None) -> bool:
    """Write a scalar (a number or one-element tensor) as a float32 scalars-plugin point."""
    st = _state
    w = st.writer
    if w is None:
        return False
    if st.is_recording is not None and not _recording():
        return False
    if type(name) is str and name:
        scope = _name_scope()
        tag = f"{scope}/{name}" if scope else name
    else:
        tag = _tag(name, "scalar_summary")
    if step is None:
        step = st.step
    if step is None or type(w) is not SummaryFileWriter or description:
        target = _target(step)  # raises for a missing step; None for a no-op writer
        if target is None:
            return False
        from tblog.core.summaries import scalar as scalar_summary

        _emit(target, scalar_summary.scalar_pb(tag, data, description or ""))
        return True
    if w.closed:
        w.check_open()
    if type(step) is not int or not -9223372036854775808 <= step <= 9223372036854775807:
        step = to_step(step)  # raises outside int64
    if type(data) is not float:
        data = prepare_scalar(data)
    w.event_writer.scalar(w.run, tag, data, step, _time())  # the writer's one scalar entry point
    return True


def histogram(
    name: str, data: Any, step: Any = None, buckets: Any = None, description: str | None = None
) -> bool:
    """Write a histogram of ``data`` (any shape) in ``buckets`` (30) equal buckets."""
    if _state.writer is None:
        return False
    tag = _tag(name, "histogram_summary")
    target = _target(step)
    if target is None:
        return False
    from tblog.core.summaries import tf_style as summary_ops

    buckets = _number(buckets)
    _emit(target, summary_ops.histogram_pb(tag, convert.to_numpy(data), buckets, description or ""))
    return True


def image(
    name: str, data: Any, step: Any = None, max_outputs: Any = 3, description: str | None = None
) -> bool:
    """Write the first ``max_outputs`` images of ``data`` ``[k, h, w, c]`` as separate
    samples (uint8 as is, floats in [0, 1])."""
    if _state.writer is None:
        return False
    tag = _tag(name, "image_summary")
    target = _target(step)
    if target is None:
        return False
    from tblog.core.summaries import tf_style as summary_ops

    max_outputs = _number(max_outputs)
    _emit(target, summary_ops.image_pb(tag, convert.to_numpy(data), max_outputs, description or ""))
    return True


def audio(
    name: str,
    data: Any,
    sample_rate: Any,
    step: Any = None,
    max_outputs: Any = 3,
    encoding: str | None = None,
    description: str | None = None,
) -> bool:
    """Write the first ``max_outputs`` clips of ``data`` ``[k, t, c]`` (floats in [-1, 1])
    as WAV at ``sample_rate`` Hz."""
    if _state.writer is None:
        return False
    tag = _tag(name, "audio_summary")
    target = _target(step)
    if target is None:
        return False
    from tblog.core.summaries import tf_style as summary_ops

    sample_rate = _number(sample_rate)
    max_outputs = _number(max_outputs)
    summary = summary_ops.audio_pb(
        tag, convert.to_numpy(data), sample_rate, max_outputs, encoding, description or ""
    )
    _emit(target, summary)
    return True


def text(name: str, data: Any, step: Any = None, description: str | None = None) -> bool:
    """Write Markdown ``data``: a string, or strings of any shape (a table when rank 2)."""
    if _state.writer is None:
        return False
    tag = _tag(name, "text_summary")
    target = _target(step)
    if target is None:
        return False
    from tblog.core.summaries import tf_style as summary_ops

    if not isinstance(data, (str, bytes, list, tuple)):
        adapter = registry.adapter_for(data)
        if adapter is not None and adapter.to_numpy is not None:
            data = adapter.to_numpy(data)
    _emit(target, summary_ops.text_pb(tag, data, description or ""))
    return True


def graph(graph_data: Any) -> bool:
    """Write a graph: a GraphDef (any proto with ``SerializeToString``) or a framework graph
    its adapter's ``graph_def`` converts (e.g. a ``tf.Graph``). Written at step 0."""
    writer = _state.writer
    if writer is None or not _recording() or not isinstance(writer, SummaryFileWriter):
        return False
    writer.check_open()
    if hasattr(graph_data, "SerializeToString"):
        data = graph_data.SerializeToString()
    else:
        adapter = registry.adapter_for(graph_data)
        if adapter is not None and adapter.graph_def is not None:
            data = adapter.graph_def(graph_data, None, False, False)[0].SerializeToString()
        elif callable(getattr(graph_data, "as_graph_def", None)):
            data = graph_data.as_graph_def(add_shapes=True).SerializeToString()
        else:
            raise ValueError(
                f"graph_data must be a tf.Graph or a GraphDef, got {type(graph_data).__name__}"
            )
    writer.event_writer.event(writer.run, events.graph_event(data, _time()))
    return True


# TensorFlow's autograph rewrites the Python functions a tf.function calls; these must run
# as written (their checks are plain Python). It calls functions carrying this attribute
# (what tf.autograph.experimental.do_not_convert sets) unconverted.
for _op in (scalar, histogram, image, audio, text, write, graph):
    vars(_op)["autograph_info__"] = frozenset()
