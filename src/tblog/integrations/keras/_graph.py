"""A Keras model as a GraphDef for TensorBoard's Graphs dashboard, on every backend.

Built from the model's own structure (no tracing, no TensorFlow): one node per layer,
named by the layer, with ``op`` = the layer class, ``input`` = the layers that feed it
and ``_output_shapes`` (unknown dimensions as -1). Nested Functional/Sequential models
become name scopes holding their own layers.
"""

from __future__ import annotations

from typing import Any

from tblog.core.proto import graph_pb2


def _shape_attr(node: graph_pb2.NodeDef, shapes: list[Any]) -> None:
    if not shapes:
        return
    attr = node.attr["_output_shapes"]
    for shape in shapes:
        proto = attr.list.shape.add()
        for dim in shape:
            proto.dim.add(size=-1 if dim is None else int(dim))


def _output_shapes(layer: Any) -> list[Any]:
    shapes: list[Any] = []
    for node in getattr(layer, "_inbound_nodes", [])[:1]:
        for tensor in getattr(node, "output_tensors", []):
            shape = getattr(tensor, "shape", None)
            if shape is not None:
                shapes.append(tuple(shape))
    return shapes


def _inbound(layer: Any) -> list[Any]:
    """Layers whose outputs feed ``layer`` (first call of the layer)."""
    out = []
    for node in getattr(layer, "_inbound_nodes", [])[:1]:
        for tensor in getattr(node, "input_tensors", []):
            history = getattr(tensor, "_keras_history", None)
            if history is not None and history.operation is not layer:
                out.append(history.operation)
    return out


def _graph_layers(model: Any) -> list[Any]:
    functional = getattr(model, "_functional", None)  # a built Sequential's graph
    source = functional if functional is not None else model
    return list(getattr(source, "layers", []) or [])


def _add_layers(graph: graph_pb2.GraphDef, model: Any, scope: str) -> dict[int, str]:
    """Add nodes for ``model``'s layers under ``scope``; return ``{id(layer): node name}``."""
    names: dict[int, str] = {}
    layers = _graph_layers(model)
    if not layers:
        return names
    connected = any(_inbound(layer) for layer in layers)
    previous: str | None = None
    for layer in layers:
        name = f"{scope}/{layer.name}" if scope else layer.name
        names[id(layer)] = name
        node = graph.node.add(name=name, op=type(layer).__name__)
        node.attr["dtype"].s = str(getattr(layer, "dtype", "") or "").encode()
        if connected:
            for source in _inbound(layer):
                if id(source) in names:
                    node.input.append(names[id(source)])
        elif previous is not None and _is_sequential(model):
            node.input.append(previous)
        _shape_attr(node, _output_shapes(layer))
        previous = name
        if getattr(layer, "_layers", None) and _is_container(layer):
            _add_layers(graph, layer, name)
    return names


def _is_sequential(model: Any) -> bool:
    return any(k.__name__ == "Sequential" for k in type(model).__mro__)


def _is_container(layer: Any) -> bool:
    return any(k.__name__ in ("Functional", "Sequential", "Model") for k in type(layer).__mro__)


def model_graph_def(model: Any) -> graph_pb2.GraphDef:
    """GraphDef of ``model`` (any Keras 3 model, on any backend): one node per layer.

    Raises ``TypeError`` if ``model`` has no Keras layers.
    """
    if not hasattr(model, "layers"):
        raise TypeError(f"model must be a Keras model, got {type(model).__name__}")
    graph = graph_pb2.GraphDef()
    graph.versions.producer = 22
    _add_layers(graph, model, "")
    return graph
