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
``tf.summary`` (:mod:`tblog.core.api.summary_ops`).
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tblog.core import convert, registry
from tblog.core.api.summary_writer import _prepare_scalar
from tblog.core.convert import to_step
from tblog.core.format import events
from tblog.core.write.writer import SCALAR, EventWriter

_time = time.time


class _State(threading.local):
    """Per-thread summary state, as ``tf.summary`` keeps it."""

    def __init__(self) -> None:
        self.writer: SummaryWriter | None = None
        self.step: Any = None
        self.is_recording: Any = None  # None (record), a bool, or a callable returning one


_state = _State()


# ---------------------------------------------------------------------- writers
class SummaryWriter:
    """Interface of a summary writer (``tf.summary.SummaryWriter``)."""

    def set_as_default(self, step: Any = None) -> None:
        """Make this the default writer of the current thread (and ``step`` its step)."""
        self.as_default(step).__enter__()

    def as_default(self, step: Any = None) -> _DefaultContext:
        """A context manager making this the default writer (and ``step``, when not ``None``,
        the default step) inside it; on exit the previous ones return and it flushes."""
        return _DefaultContext(self, step)

    def init(self) -> None:
        """Nothing to do (TensorFlow's graph-mode initializer)."""

    def flush(self) -> None:
        """Write everything logged so far to storage."""

    def close(self) -> None:
        """Flush and close."""


class _DefaultContext:
    """``as_default``'s context manager (a class, so ``set_as_default`` can just enter it)."""

    __slots__ = ("_flush", "_old_step", "_old_writer", "_step", "_writer")

    def __init__(self, writer: SummaryWriter, step: Any, flush: bool = True) -> None:
        self._writer = writer
        self._step = step
        self._flush = flush
        self._old_writer: SummaryWriter | None = None
        self._old_step: Any = None

    def __enter__(self) -> SummaryWriter:
        self._old_writer = _state.writer
        _state.writer = self._writer
        if self._step is not None:
            self._old_step = _state.step
            _state.step = self._step
        return self._writer

    def __exit__(self, *exc: object) -> None:
        current = _state.writer
        try:
            if current is not None:
                if self._flush:
                    current.flush()
                elif isinstance(current, SummaryFileWriter):
                    current._kick()
        finally:
            _state.writer = self._old_writer
            if self._step is not None:
                _state.step = self._old_step


class SummaryFileWriter(SummaryWriter):
    """A ``tf.summary`` writer on a tblog :class:`EventWriter` run (one event file).

    Made by :func:`create_file_writer` (it owns its writer) or :meth:`attach` (it shares an
    existing writer's run and file, e.g. the Keras callback's train/validation runs).
    Besides ``tf.summary``'s methods it offers what tblog's checkpoint hooks use:
    ``restart(step)``, ``add_scalar``, ``add_text``.
    """

    def __init__(self, event_writer: EventWriter, run: str = "", *, owned: bool = True) -> None:
        if not isinstance(event_writer, EventWriter):
            raise TypeError(
                f"event_writer must be a tblog EventWriter, got {type(event_writer).__name__}"
            )
        self._events = event_writer
        self._run = run
        self._owned = owned
        self._closed = False

    @classmethod
    def attach(cls, event_writer: EventWriter, run: str = "") -> SummaryFileWriter:
        """A writer into ``run`` of an existing ``event_writer`` (shared file, not closed by
        :meth:`close`, which only flushes)."""
        if not isinstance(run, str):
            raise TypeError(f"run must be a str, got {type(run).__name__}")
        if os.path.isabs(run) or ".." in run.replace("\\", "/").split("/"):
            raise ValueError(f"run must be a relative path inside the log dir, got {run!r}")
        return cls(event_writer, run, owned=False)

    @property
    def logdir(self) -> str:
        """The run directory this writer writes to."""
        return self._events.run_dir(self._run)

    @property
    def event_writer(self) -> EventWriter:
        return self._events

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"SummaryWriter {self!r} is already closed")

    def set_as_default(self, step: Any = None) -> None:
        self._check_open()
        super().set_as_default(step)

    def as_default(self, step: Any = None) -> _DefaultContext:
        self._check_open()
        return super().as_default(step)

    def init(self) -> None:
        self._check_open()

    def flush(self) -> None:
        if not self._closed:
            self._events.flush()

    def _kick(self) -> None:
        if not self._closed:
            self._events._wake.set()

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self._owned:
                self._events.close()
            else:
                self._events.flush()
        finally:
            self._closed = True

    # what tblog's checkpoint hooks call on a writer
    def restart(self, step: int) -> None:
        """Mark the run as resumed at ``step`` (TensorBoard drops later points written before)."""
        self._events.restart(step)

    def add_scalar(self, tag: str, value: Any, global_step: Any = None) -> None:
        self._events.put(
            (SCALAR, self._run, tag, _prepare_scalar(value), to_step(global_step), _time())
        )

    def add_text(self, tag: str, text: Any, global_step: Any = None) -> None:
        from tblog.core.summaries import text as text_summary

        self._events.summary(
            self._run, text_summary.text_pb(tag, text), to_step(global_step), _time()
        )

    def __repr__(self) -> str:
        return f"<tblog.summary writer {self.logdir!r}>"


class _NoopWriter(SummaryWriter):
    """``create_noop_writer()``: using it as the default changes nothing."""

    def set_as_default(self, step: Any = None) -> None:
        pass

    def as_default(self, step: Any = None) -> Any:
        return _NoopContext(self)


class _NoopContext:
    def __init__(self, writer: _NoopWriter) -> None:
        self._writer = writer

    def __enter__(self) -> _NoopWriter:
        return self._writer

    def __exit__(self, *exc: object) -> None:
        return None


def create_file_writer(
    logdir: Any,
    max_queue: int | None = None,
    flush_millis: int | None = None,
    filename_suffix: str | None = None,
    name: str | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
) -> SummaryWriter:
    """A writer of a new event file in ``logdir`` (a path or fsspec URL; ``None`` gives a
    no-op writer, as TensorFlow). ``flush_millis``: longest time data stays in memory
    (default 120 s). ``filename_suffix``: default ``".v2"``. ``max_queue`` and ``name`` are
    accepted as TensorFlow's (tblog's writer thread decides when to write)."""
    del name
    if logdir is None:
        return _NoopWriter()
    if isinstance(logdir, bytes):
        logdir = logdir.decode()
    if not isinstance(logdir, (str, os.PathLike)):
        logdir = str(convert.to_numpy(logdir).reshape(()).item(), "utf-8")
    logdir = os.fspath(logdir)
    if not logdir:
        raise ValueError("logdir must be a non-empty string")
    if max_queue is not None and (isinstance(max_queue, bool) or not isinstance(max_queue, int)):
        raise TypeError(f"max_queue must be an int, got {type(max_queue).__name__}")
    flush_secs = 120.0
    if flush_millis is not None:
        if isinstance(flush_millis, bool) or not isinstance(flush_millis, (int, float)):
            raise TypeError(f"flush_millis must be a number, got {type(flush_millis).__name__}")
        if flush_millis <= 0:
            raise ValueError(f"flush_millis must be positive, got {flush_millis}")
        flush_secs = flush_millis / 1000.0
    suffix = ".v2" if filename_suffix is None else filename_suffix
    if not isinstance(suffix, str):
        raise TypeError(f"filename_suffix must be a str, got {type(suffix).__name__}")
    writer = EventWriter(
        logdir, flush_secs=flush_secs, filename_suffix=suffix, storage_options=storage_options
    )
    return SummaryFileWriter(writer)


def create_noop_writer() -> SummaryWriter:
    """A writer that writes nothing (making it the default keeps the current one)."""
    return _NoopWriter()


# ---------------------------------------------------------------------- state
def set_step(step: Any) -> None:
    """Set the default step of the current thread (a number, or a variable read at each op)."""
    _state.step = step


def get_step() -> Any:
    """The default step of the current thread (``None`` when unset)."""
    return _state.step


@contextmanager
def record_if(condition: Any) -> Iterator[None]:
    """Inside, ops record only when ``condition`` (a bool, or a callable returning one, called
    at each op) is true."""
    old = _state.is_recording
    _state.is_recording = condition
    try:
        yield
    finally:
        _state.is_recording = old


def _recording() -> bool:
    cond = _state.is_recording
    if cond is None:
        return True
    if callable(cond):
        cond = cond()
    if cond is None:
        return True
    return bool(convert.to_float(cond)) if not isinstance(cond, bool) else cond


def should_record_summaries() -> bool:
    """Whether an op called now would write: a default writer and a true ``record_if``."""
    return _state.writer is not None and _recording()


def flush(writer: SummaryWriter | None = None, name: str | None = None) -> None:
    """Flush ``writer`` (default: the default writer; nothing when there is none)."""
    del name
    if writer is None:
        writer = _state.writer
        if writer is None:
            return
    if not isinstance(writer, SummaryWriter):
        raise ValueError(f"Invalid argument to flush(): {writer!r}")
    writer.flush()


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
    writer._check_open()
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
    from tblog.core.summaries._common import summary_value, tensor_proto

    md = summary_pb2.SummaryMetadata()
    if metadata is not None:
        md.ParseFromString(
            metadata.SerializeToString() if hasattr(metadata, "SerializeToString") else metadata
        )
    value = tensor() if callable(tensor) else tensor
    from tblog.core.summaries._common import string_tensor_proto

    if isinstance(value, (str, bytes)):
        proto = string_tensor_proto(value)
    else:
        proto = tensor_proto(convert.to_numpy(value))
    _emit(target, summary_value(tag, proto, md))
    return True


def _emit(target: tuple[SummaryFileWriter, int], summary: Any) -> None:
    writer, step = target
    writer._events.summary(writer._run, summary, step, _time())


def scalar(name: str, data: Any, step: Any = None, description: str | None = None) -> bool:
    """Write a scalar (a number or one-element tensor) as a float32 scalars-plugin point."""
    w = _state.writer
    if w is None:
        return False
    tag = _tag(name, "scalar_summary")
    target = _target(step)
    if target is None:
        return False
    writer, istep = target
    if description:
        from tblog.core.summaries import scalar as scalar_summary

        _emit(target, scalar_summary.scalar_pb(tag, data, description))
        return True
    value = data if type(data) is float else _prepare_scalar(data)
    writer._events.put((SCALAR, writer._run, tag, value, istep, _time()))
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
    from tblog.core.api import summary_ops

    if buckets is not None and not isinstance(buckets, int):
        buckets = convert.to_numpy(buckets)
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
    from tblog.core.api import summary_ops

    if not isinstance(max_outputs, int):
        max_outputs = convert.to_numpy(max_outputs)
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
    from tblog.core.api import summary_ops

    if not isinstance(sample_rate, (int, float)):
        sample_rate = convert.to_numpy(sample_rate)
    if not isinstance(max_outputs, int):
        max_outputs = convert.to_numpy(max_outputs)
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
    from tblog.core.api import summary_ops

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
    writer._check_open()
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
    writer._events.event(writer._run, events.graph_event(data, _time()))
    return True
