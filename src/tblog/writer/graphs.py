"""Graphs: :func:`graph_bytes` turns every graph form an integration knows into event
bytes (for ``SummaryWriter`` and ``FileWriter``), and :class:`GraphMethods` are the graph
methods of ``tblog.SummaryWriter`` (torch's ``add_graph``, ``add_graph_def``,
``add_onnx_graph``)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from tblog.core import registry

if TYPE_CHECKING:
    from tblog.core.write.writer import EventWriter

GRAPH_KINDS = (
    "a GraphDef (or its bytes), a (GraphDef, RunMetadata) pair, a torch.nn.Module with"
    " example inputs, a tf.Graph, a tf.function with example inputs or a ConcreteFunction"
)


def graph_bytes(
    graph: Any,
    inputs: Any = None,
    verbose: bool = False,
    use_strict_trace: bool = True,
    name: str = "graph",
) -> tuple[bytes, bytes | None]:
    """``(serialized GraphDef, serialized RunMetadata or None)`` for ``graph``: a GraphDef
    of any origin or its bytes, a ``(GraphDef, RunMetadata)`` pair (torch's graph profile),
    or a model its framework's integration traces with ``inputs``. ``TypeError`` naming
    ``name`` and the accepted kinds otherwise."""
    from tblog.core.summaries import legacy

    if isinstance(graph, (bytes, bytearray, memoryview)):
        return bytes(graph), None
    kind = legacy.proto_name(graph)
    if kind in legacy.GRAPH_DEF:
        return graph.SerializeToString(), None
    if isinstance(graph, tuple) and len(graph) == 2 and legacy.proto_name(graph[0]):
        data, _ = graph_bytes(graph[0], name=name)
        meta = None
        if graph[1] is not None:
            meta = legacy.proto_bytes(graph[1], legacy.RUN_METADATA, name, "RunMetadata")
        return data, meta
    adapter = registry.adapter_for(graph)
    if adapter is None or adapter.graph_def is None:
        raise TypeError(f"{name} must be {GRAPH_KINDS}; got {type(graph).__name__}")
    try:
        graph_def, run_metadata = adapter.graph_def(graph, inputs, verbose, use_strict_trace)
    except TypeError as exc:
        raise TypeError(f"{name}: {exc}") from exc
    meta = None if run_metadata is None else run_metadata.SerializeToString()
    return graph_def.SerializeToString(), meta


class GraphMethods:
    """Mixin of :class:`~tblog.writer.summary_writer.SummaryWriter` (it provides
    ``_writer``)."""

    _writer: EventWriter | None

    def add_graph(
        self,
        model: Any,
        input_to_model: Any = None,
        verbose: bool = False,
        use_strict_trace: bool = True,
    ) -> None:
        """Log a model's graph (the Graphs dashboard); torch models trace ``input_to_model``."""
        if self._writer is None:
            return
        graph_def, run_metadata = graph_bytes(
            model, input_to_model, verbose, use_strict_trace, name="model"
        )
        self.add_graph_def(graph_def, run_metadata=run_metadata)

    def add_graph_def(self, graph_def: Any, run_metadata: Any = None, tag: str = "step1") -> None:
        """Log a GraphDef proto (or its bytes) and optional RunMetadata for the Graphs dashboard."""
        if self._writer is None:
            return
        from tblog.core.format import events

        data = graph_def if isinstance(graph_def, bytes) else graph_def.SerializeToString()
        wall = time.time()
        self._writer.event("", events.graph_event(data, wall))
        if run_metadata is not None:
            meta = (
                run_metadata
                if isinstance(run_metadata, bytes)
                else run_metadata.SerializeToString()
            )
            self._writer.event("", events.run_metadata_event(tag, meta, 0, wall))

    def add_onnx_graph(self, prototxt: str | os.PathLike[str]) -> None:
        """Log the graph of an ONNX model file (the path torch calls ``prototxt``).

        Read with our own ONNX schema: the ``onnx`` package is not needed. Raises
        ``FileNotFoundError`` for a missing file and ``ValueError`` for a non-ONNX file.
        """
        if self._writer is None:
            return
        from tblog.core.summaries.onnx_graph import onnx_graph_def

        with open(os.fspath(prototxt), "rb") as f:
            self.add_graph_def(onnx_graph_def(f.read()))
