"""Writing protos of any origin into one run of an :class:`EventWriter`: the base of TF1's
``tblog.summary.FileWriter`` and of ``tblog.SummaryWriter``'s FileWriter surface
(``writer.file_writer``).

Both take protos as their frameworks make them: a Summary, Event, SessionLog, GraphDef or
RunMetadata from TensorFlow, ``tensorboard.compat.proto`` or tblog, or serialized bytes
(what ``sess.run(tf.compat.v1.summary.merge_all())`` returns). Old-style values are
re-encoded as TensorBoard reads them (``tblog.core.summaries.legacy``). Graphs are taken in
every form an integration knows (:func:`tblog.core.summaries.graph.graph_bytes`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from tblog.core.convert import to_step, to_wall_time
from tblog.core.format import events
from tblog.core.summaries.graph import GRAPH_KINDS, graph_bytes

if TYPE_CHECKING:
    from tblog.core.proto import event_pb2
    from tblog.core.write.writer import EventWriter


class ProtoFileWriter(ABC):
    """TF1's FileWriter methods (``add_summary``, ``add_event``, ``add_session_log``,
    ``add_graph``, ``add_meta_graph``, ``add_run_metadata``) on run ``run`` of the
    EventWriter that :meth:`target` returns (``None``: the call writes nothing).
    Subclasses call ``__init__`` and define :meth:`target` and the lifecycle."""

    def __init__(self, run: str = "") -> None:
        self._run_name = run
        self._run_metadata_tags: set[str] = set()

    @abstractmethod
    def target(self) -> EventWriter | None:
        """The EventWriter to write to now, or ``None`` to drop the call."""

    @property
    def run(self) -> str:
        """The run (relative to the EventWriter's log dir) this writer writes to."""
        return self._run_name

    @abstractmethod
    def get_logdir(self) -> str:
        """The directory this writer writes to."""

    @abstractmethod
    def flush(self) -> None:
        """Return once everything added so far is written."""

    @abstractmethod
    def close(self) -> None:
        """Flush and close."""

    @abstractmethod
    def reopen(self) -> None:
        """After :meth:`close`, write on into a new event file."""

    def _write(self, event: event_pb2.Event, step: Any, walltime: Any) -> None:
        w = self.target()
        if w is None:
            return
        event.wall_time = to_wall_time(walltime)
        if step is not None:
            event.step = to_step(step)
        w.event(self._run_name, event.SerializeToString())

    def add_summary(self, summary: Any, global_step: Any = None, walltime: Any = None) -> None:
        """Write a Summary (any origin, or serialized bytes) at ``global_step``."""
        from tblog.core.summaries import legacy

        parsed = legacy.as_summary(summary, "summary")
        w = self.target()
        if w is None:
            return
        w.summary(self._run_name, parsed, to_step(global_step), to_wall_time(walltime))

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
        w = self.target()
        if w is None:
            return
        from tblog.core.proto import event_pb2

        step = to_step(global_step)
        wall = to_wall_time(walltime)
        event = event_pb2.Event(wall_time=wall, step=step, graph_def=data)
        w.event(self._run_name, event.SerializeToString())
        if meta is not None:
            w.event(self._run_name, events.run_metadata_event("step1", meta, step, wall))

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
