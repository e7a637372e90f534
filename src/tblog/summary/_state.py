"""The state and writers of ``tblog.summary`` (``tf.summary``'s TF2 API): per thread, a
default writer, a default step and a recording condition, as TensorFlow keeps them; the
writers (:class:`SummaryFileWriter` on a tblog :class:`EventWriter` run, the no-op one).
The ops that use them are in :mod:`tblog.summary._api`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tblog.core import convert
from tblog.core.convert import prepare_scalar, to_step
from tblog.core.tags import check_run_name
from tblog.core.write.writer import EventWriter

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

    def as_default(self, step: Any = None, *, flush: bool = True) -> DefaultContext:
        """A context manager making this the default writer (and ``step``, when not ``None``,
        the default step) inside it; on exit the previous ones return and it flushes
        (``flush=False``, tblog's: it only wakes the writer thread, e.g. per Keras batch)."""
        return DefaultContext(self, step, flush)

    def init(self) -> None:
        """Nothing to do (TensorFlow's graph-mode initializer)."""

    def flush(self) -> None:
        """Write everything logged so far to storage."""

    def close(self) -> None:
        """Flush and close."""


class DefaultContext:
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
                    current.wake()
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
        return cls(event_writer, check_run_name(run, "run"), owned=False)

    @property
    def logdir(self) -> str:
        """The run directory this writer writes to."""
        return self._events.run_dir(self._run)

    @property
    def event_writer(self) -> EventWriter:
        """The :class:`EventWriter` this writer queues on."""
        return self._events

    @property
    def run(self) -> str:
        """The run (relative to the EventWriter's log dir) this writer writes to."""
        return self._run

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def check_open(self) -> None:
        """Raise ``RuntimeError`` once closed (what every op does with a closed default)."""
        if self._closed:
            raise RuntimeError(f"SummaryWriter {self!r} is already closed")

    @property
    def writer(self) -> EventWriter:
        """Same as :attr:`event_writer` (the name ``tblog.SummaryWriter`` and the
        checkpoint hooks use)."""
        return self._events

    def set_as_default(self, step: Any = None) -> None:
        self.check_open()
        super().set_as_default(step)

    def as_default(self, step: Any = None, *, flush: bool = True) -> DefaultContext:
        self.check_open()
        return super().as_default(step, flush=flush)

    def init(self) -> None:
        self.check_open()

    def flush(self) -> None:
        if not self._closed:
            self._events.flush()

    def wake(self) -> None:
        """Wake the writer thread to write what is queued, without waiting for it."""
        if not self._closed:
            self._events.wake()

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
        """``tblog.SummaryWriter.add_scalar`` (for the checkpoint hooks)."""
        self._events.scalar(self._run, tag, prepare_scalar(value), to_step(global_step), _time())

    def add_text(self, tag: str, text: Any, global_step: Any = None) -> None:
        """``tblog.SummaryWriter.add_text``: Markdown under ``<tag>/text_summary``."""
        from tblog.core.summaries import text as text_summary

        summary = text_summary.text_pb(tag + "/text_summary", text)
        self._events.summary(self._run, summary, to_step(global_step), _time())

    def __repr__(self) -> str:
        return f"<tblog.summary writer {self.logdir!r}>"


class _NoopWriter(SummaryWriter):
    """``create_noop_writer()``: using it as the default changes nothing."""

    def set_as_default(self, step: Any = None) -> None:
        pass

    def as_default(self, step: Any = None, *, flush: bool = True) -> Any:
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
    if not isinstance(logdir, (str, bytes, os.PathLike)):  # a string tensor
        try:
            logdir = convert.to_numpy(logdir).reshape(()).item()
        except (TypeError, ValueError):
            raise TypeError(f"logdir must be a path, got {type(logdir).__name__}") from None
    if isinstance(logdir, bytes):
        logdir = logdir.decode("utf-8")
    if not isinstance(logdir, (str, os.PathLike)):
        raise TypeError(f"logdir must be a path, got {type(logdir).__name__}")
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
        logdir,
        flush_secs=flush_secs,
        filename_suffix=suffix,
        storage_options=storage_options,
        metadata_every=True,  # tf.summary's files carry the plugin metadata on every event
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
