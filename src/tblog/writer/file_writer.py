"""``FileWriter``: TF1's ``tf.compat.v1.summary.FileWriter`` and torch's ``FileWriter``
surface (``writer.file_writer``) on our core.

Both take protos as their frameworks make them: a Summary, Event, SessionLog, GraphDef or
RunMetadata from TensorFlow, ``tensorboard.compat.proto`` or tblog, or serialized bytes
(what ``sess.run(tf.compat.v1.summary.merge_all())`` returns). Old-style values are
re-encoded as TensorBoard reads them (``tblog.core.summaries.legacy``). Graphs are taken in
every form an integration knows (:func:`tblog.writer.graphs.graph_bytes`).
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import TYPE_CHECKING, Any

from tblog.core.convert import to_step, to_wall_time
from tblog.core.format import events
from tblog.core.write.writer import EventWriter
from tblog.writer.graphs import GRAPH_KINDS, graph_bytes

if TYPE_CHECKING:
    from tblog.core.proto import event_pb2


class FileWriter:
    """TF1's ``tf.compat.v1.summary.FileWriter``: writes Summary protos, graphs, run
    metadata and session logs to an event file in ``logdir``.

    ``graph`` (a ``tf.Graph`` such as ``sess.graph``, or a GraphDef) is written at once.
    ``max_queue``: queued events that wake the writer thread; ``flush_secs``: longest time
    data stays in memory. As in TF1, using a closed writer warns and does nothing until
    :meth:`reopen`. ``session`` is accepted for TF1's signature (events are written
    directly). ``storage_options``: fsspec options for URL log dirs.
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        graph: Any = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        graph_def: Any = None,
        filename_suffix: str | None = None,
        session: Any = None,
        *,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(logdir, (str, os.PathLike)):
            raise TypeError(f"logdir must be a str or os.PathLike, got {type(logdir).__name__}")
        if filename_suffix is not None and not isinstance(filename_suffix, str):
            raise TypeError(f"filename_suffix must be a str, got {type(filename_suffix).__name__}")
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise ValueError(f"max_queue must be a positive int, got {max_queue!r}")
        self._logdir = os.fspath(logdir)
        self._options: dict[str, Any] = {
            "max_queue": max_queue,
            "flush_secs": flush_secs,
            "filename_suffix": filename_suffix or "",
            "storage_options": storage_options,
        }
        self._events: EventWriter | None = EventWriter(self._logdir, **self._options)
        self._closed = False
        self._run_metadata_tags: set[str] = set()
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    # ---------------------------------------------------------------- where events go
    def _target(self) -> EventWriter | None:
        """The EventWriter to write to, or ``None`` to drop (closed: TF1 warns)."""
        if self._closed:
            warnings.warn(
                "Attempting to use a closed FileWriter. The operation will be a noop"
                " unless the FileWriter is explicitly reopened.",
                stacklevel=3,
            )
            return None
        return self._events

    def _run(self) -> str:
        return ""

    def _write(self, event: event_pb2.Event, step: Any, walltime: Any) -> None:
        w = self._target()
        if w is None:
            return
        event.wall_time = to_wall_time(walltime)
        if step is not None:
            event.step = to_step(step)
        w.event(self._run(), event.SerializeToString())

    # ---------------------------------------------------------------- TF1 / torch API
    def add_summary(self, summary: Any, global_step: Any = None, walltime: Any = None) -> None:
        """Write a Summary (any origin, or serialized bytes) at ``global_step``."""
        from tblog.core.summaries import legacy

        parsed = legacy.as_summary(summary, "summary")
        w = self._target()
        if w is None:
            return
        w.summary(self._run(), parsed, to_step(global_step), to_wall_time(walltime))

    def add_event(self, event: Any, step: Any = None, walltime: Any = None) -> None:
        """Write an Event (any origin, or bytes) as it is; ``step``/``walltime`` override
        its own (a missing wall time becomes now)."""
        from tblog.core.summaries import legacy

        parsed = legacy.as_event(event, "event")
        if walltime is None and parsed.wall_time:
            walltime = parsed.wall_time
        self._write(parsed, step, walltime)

    def add_session_log(self, session_log: Any, global_step: Any = None) -> None:
        """Write a SessionLog (``START`` at a step makes TensorBoard drop later points)."""
        from tblog.core.proto import event_pb2
        from tblog.core.summaries import legacy

        event = event_pb2.Event()
        event.session_log.CopyFrom(legacy.as_session_log(session_log))
        self._write(event, global_step, None)

    def add_graph(
        self,
        graph: Any = None,
        global_step: Any = None,
        graph_def: Any = None,
        walltime: Any = None,
    ) -> None:
        """Write a graph for the Graphs dashboard: a ``tf.Graph``, a GraphDef of any origin,
        or torch's ``(GraphDef, RunMetadata)`` profile (its run metadata tagged ``step1``)."""
        if graph is not None and graph_def is not None:
            raise ValueError("pass only graph, or graph_def (deprecated), but not both")
        if graph is None and graph_def is None:
            raise TypeError(f"graph must be {GRAPH_KINDS}; got None")
        name = "graph" if graph is not None else "graph_def"
        data, meta = graph_bytes(graph if graph is not None else graph_def, name=name)
        w = self._target()
        if w is None:
            return
        from tblog.core.proto import event_pb2

        step = to_step(global_step)
        wall = to_wall_time(walltime)
        event = event_pb2.Event(wall_time=wall, step=step, graph_def=data)
        w.event(self._run(), event.SerializeToString())
        if meta is not None:
            w.event(self._run(), events.run_metadata_event("step1", meta, step, wall))

    def add_onnx_graph(self, graph: Any, walltime: Any = None) -> None:
        """Write an ONNX graph already converted to a GraphDef (torch's FileWriter)."""
        self.add_graph(graph, walltime=walltime)

    def add_meta_graph(self, meta_graph_def: Any, global_step: Any = None) -> None:
        """Write a MetaGraphDef (TensorFlow's, or its bytes)."""
        from tblog.core.proto import event_pb2
        from tblog.core.summaries import legacy

        data = legacy.proto_bytes(
            meta_graph_def, legacy.META_GRAPH_DEF, "meta_graph_def", "MetaGraphDef"
        )
        self._write(event_pb2.Event(meta_graph_def=data), global_step, None)

    def add_run_metadata(self, run_metadata: Any, tag: str, global_step: Any = None) -> None:
        """Write the RunMetadata of one ``session.run`` under ``tag`` (the Graphs
        dashboard's per-step compute stats). ``ValueError`` for a tag already used."""
        from tblog.core.proto import event_pb2
        from tblog.core.summaries import legacy

        if not isinstance(tag, str) or not tag:
            raise TypeError(f"tag must be a non-empty str, got {tag!r}")
        data = legacy.proto_bytes(run_metadata, legacy.RUN_METADATA, "run_metadata", "RunMetadata")
        if tag in self._run_metadata_tags:
            raise ValueError(f"tag {tag!r} was already used for run metadata")
        self._run_metadata_tags.add(tag)
        event = event_pb2.Event()
        event.tagged_run_metadata.tag = tag
        event.tagged_run_metadata.run_metadata = data
        self._write(event, global_step, None)

    # ---------------------------------------------------------------- lifecycle
    def get_logdir(self) -> str:
        """The directory this writer writes to."""
        return self._logdir

    def flush(self) -> None:
        """Return once everything added so far is written (a no-op once closed)."""
        w = self._events
        if w is not None and not self._closed and not w.closed:
            w.flush()

    def close(self) -> None:
        """Flush and close the event file. Idempotent."""
        self._closed = True
        if self._events is not None:
            self._events.close()

    def reopen(self) -> None:
        """After :meth:`close`, write on into a new event file in the same log dir."""
        if not self._closed:
            return
        self._events = EventWriter(self._logdir, **self._options)
        self._closed = False

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SummaryWriterFileWriter(FileWriter):
    """torch's ``writer.file_writer``: the FileWriter surface of one run of a
    ``tblog.SummaryWriter`` (``run`` "" is its log dir; ``add_scalars`` runs have their own).

    It follows its SummaryWriter: after ``close()`` the next call reopens it, as any
    ``add_*`` does; ``flush``/``close`` act on the SummaryWriter.
    """

    def __init__(
        self, owner: Any, run: str = ""
    ) -> None:  # no super().__init__: no writer of its own
        self._owner = owner
        self._run_name = run
        self._run_metadata_tags = set()
        self._closed = False
        self._events = None

    def _target(self) -> EventWriter | None:
        w: EventWriter | None = self._owner._writer
        return w

    def _run(self) -> str:
        return self._run_name

    def get_logdir(self) -> str:
        logdir: str = self._owner.log_dir
        return f"{logdir}/{self._run_name}" if self._run_name else logdir

    def flush(self) -> None:
        self._owner.flush()

    def close(self) -> None:
        self._owner.close()

    def reopen(self) -> None:
        self._owner._reopen()


class ReopeningEventWriter(EventWriter):
    """The EventWriter of a ``tblog.SummaryWriter``: used after :meth:`close`, it reopens
    itself (:meth:`EventWriter.reopen`: a new event file in each run it writes to, a new
    thread), as torch's writer reopens on the next ``add_*``. Reopening happens in
    :meth:`check`, which every queueing path (``put`` and the scalar fast paths) calls on a
    closed writer, so the object the callers hold stays the one to write to.
    """

    def check(self) -> None:
        if self._closed and not self._errors:
            with _reopen_lock:
                self.reopen()
            return
        super().check()

    def flush(self, timeout: float | None = None) -> None:
        """As :meth:`EventWriter.flush`; a no-op once closed (flushing does not reopen)."""
        if self._closed and not self._errors:
            return
        super().flush(timeout)


_reopen_lock = threading.Lock()


class FileWriterMethods:
    """torch's FileWriter surface of ``tblog.SummaryWriter`` (a mixin: the writer provides
    ``_writer`` and ``log_dir``)."""

    _writer: EventWriter | None
    _file_writer: SummaryWriterFileWriter
    log_dir: str

    @property
    def file_writer(self) -> SummaryWriterFileWriter:
        """torch's ``writer.file_writer``: ``add_summary``, ``add_event``, ``add_graph``,
        ``get_logdir``, ``flush``, ``close`` on this writer's run (e.g. for hparams
        summaries built with ``torch.utils.tensorboard.summary.hparams``)."""
        fw: SummaryWriterFileWriter | None = getattr(self, "_file_writer", None)
        if fw is None:
            fw = self._file_writer = SummaryWriterFileWriter(self)
        return fw

    @property
    def all_writers(self) -> dict[str, SummaryWriterFileWriter]:
        """torch's ``{log dir: FileWriter}`` of this writer's run and each
        ``add_scalars`` run (``<log_dir>/<main_tag>_<key>``) written so far (waits for
        what is queued, like ``flush``)."""
        w = self._writer
        if w is not None and not w.closed:
            w.flush()  # runs are opened on the writer thread: let it catch up
        runs = [] if w is None else w.run_names()
        out = {self.log_dir: self.file_writer}
        for run in runs:
            out[f"{self.log_dir}/{run}"] = SummaryWriterFileWriter(self, run)
        return out

    def _get_file_writer(self) -> SummaryWriterFileWriter:
        """torch's ``_get_file_writer()``: the FileWriter of this run, reopened if closed."""
        self._reopen()
        return self.file_writer

    def add_summary(
        self, summary: Any, global_step: Any = None, walltime: float | None = None
    ) -> None:
        """Write a Summary proto (tblog's, TensorFlow's, ``tensorboard.compat.proto``'s, or
        its serialized bytes); TF1's old-style values are re-encoded as TensorBoard reads them."""
        self.file_writer.add_summary(summary, global_step, walltime)

    def add_event(self, event: Any, step: Any = None, walltime: float | None = None) -> None:
        """Write an Event proto (any origin, or its bytes) as torch's FileWriter does."""
        self.file_writer.add_event(event, step, walltime)

    def _reopen(self) -> None:
        """After ``close()``: write on into new event files in the same log dir, with the
        same options (a resume's purge step carried over). Any ``add_*`` on a closed
        writer does this (``ReopeningEventWriter.check``)."""
        w = self._writer
        if isinstance(w, ReopeningEventWriter) and w.closed:
            w.reopen()
