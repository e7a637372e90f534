"""Graphs in every form an integration knows, as event bytes: :func:`graph_bytes` (used by
``tblog.SummaryWriter``, its FileWriter surface and TF1's ``tblog.summary.FileWriter``)."""

from __future__ import annotations

from typing import Any

from tblog.core import registry

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
