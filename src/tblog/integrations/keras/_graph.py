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


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _flat(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _flat(item)]
    return [value] if hasattr(value, "shape") else []


class _Call:
    """One recorded layer call: the layer, its nesting depth, input and output tensors."""

    __slots__ = ("depth", "inputs", "layer", "outputs")

    def __init__(self, layer: Any, depth: int, inputs: list[Any]) -> None:
        self.layer = layer
        self.depth = depth
        self.inputs = inputs
        self.outputs: list[Any] = []


def _record_calls(model: Any) -> list[_Call] | None:
    """Run ``model.call`` symbolically (no compute) on its build shape, recording every
    sublayer call in call order (outer before inner); ``None`` when that is not possible."""
    shapes = getattr(model, "_build_shapes_dict", None)
    if not isinstance(shapes, dict) or len(shapes) != 1:
        return None
    shape = next(iter(shapes.values()))
    if not isinstance(shape, (tuple, list)) or not shape:
        return None
    import keras

    calls: list[_Call] = []
    depth = [0]
    original = keras.layers.Layer.__call__

    def recording(layer: Any, *args: Any, **kwargs: Any) -> Any:
        call = _Call(layer, depth[0], _flat((args, kwargs)))
        calls.append(call)
        depth[0] += 1
        try:
            outputs = original(layer, *args, **kwargs)
        finally:
            depth[0] -= 1
        call.outputs = _flat(outputs)
        return outputs

    keras.layers.Layer.__call__ = recording
    try:
        dtype = getattr(model, "input_dtype", None) or "float32"
        model.compute_output_spec(keras.KerasTensor((None, *shape[1:]), dtype=dtype))
    except Exception:  # noqa: BLE001 - a model we cannot trace gets the structural graph
        return None
    finally:
        keras.layers.Layer.__call__ = original
    # Some backends (torch) run the call twice to find the dynamic dims: keep the first.
    half = len(calls) // 2
    if len(calls) % 2 == 0 and all(
        a.layer is b.layer and a.depth == b.depth
        for a, b in zip(calls[:half], calls[half:], strict=True)
    ):
        return calls[:half]
    return calls


def _scoped_names(model: Any) -> dict[int, str]:
    """``{id(layer): "attr/sub"}``: torch-style attribute paths as graph name scopes."""
    from tblog.integrations.keras._weights import _children

    names: dict[int, str] = {}

    def walk(layer: Any, prefix: str) -> None:
        for name, child in _children(layer):
            path = f"{prefix}/{name}" if prefix else name
            names.setdefault(id(child), path)
            walk(child, path)

    walk(model, "")
    return names


def _traced_graph(model: Any) -> graph_pb2.GraphDef | None:
    """Graph of a subclassed model from one symbolic call: leaf layers as nodes, edges
    where one layer's output feeds another. Tensors made by plain ops inside a container
    layer (``x + residual``) count as made by that container's last leaf layer."""
    calls = _record_calls(model)
    if not calls:
        return None
    scoped = _scoped_names(model)
    graph = graph_pb2.GraphDef()
    producer: dict[int, str] = {}
    used: dict[str, int] = {}
    # Open containers: (call, names of the layers feeding it, last leaf emitted inside).
    stack: list[list[Any]] = []

    def close(depth: int) -> None:
        while stack and stack[-1][0].depth >= depth:
            call, _, last = stack.pop()
            for tensor in call.outputs:
                if last is not None:
                    producer.setdefault(id(tensor), last)
            if stack and last is not None:
                stack[-1][2] = last

    def sources(tensors: list[Any]) -> list[str]:
        found = [producer[id(t)] for t in tensors if id(t) in producer]
        if not found and stack:
            found = list(stack[-1][1])
        return list(dict.fromkeys(found))

    for call in calls:
        close(call.depth)
        if getattr(call.layer, "_layers", None):
            stack.append([call, sources(call.inputs), None])
            continue
        base = scoped.get(id(call.layer), call.layer.name)
        count = used.get(base, 0)
        used[base] = count + 1
        name = base if count == 0 else f"{base}_{count}"
        node = graph.node.add(name=name, op=type(call.layer).__name__)
        node.attr["dtype"].s = str(getattr(call.layer, "dtype", "") or "").encode()
        node.input.extend(sources(call.inputs))
        # The trace ran on a symbolic batch: show the batch dimension as unknown.
        _shape_attr(node, [(None, *tuple(t.shape)[1:]) for t in call.outputs])
        for tensor in call.outputs:
            producer[id(tensor)] = name
        if stack:
            stack[-1][2] = name
    close(0)
    return graph


def model_graph_def(model: Any) -> graph_pb2.GraphDef:
    """GraphDef of ``model`` (any Keras 3 model, on any backend): one node per layer.

    Functional and Sequential models are read from their layer graph; subclassed models
    are traced with one symbolic call (no compute) on the shape they were built with.
    Raises ``TypeError`` if ``model`` has no Keras layers.
    """
    if not hasattr(model, "layers"):
        raise TypeError(f"model must be a Keras model, got {type(model).__name__}")
    graph = None
    if not _is_graph_model(model):
        graph = _traced_graph(model)
    if graph is None:
        graph = graph_pb2.GraphDef()
        _add_layers(graph, model, "")
    graph.versions.producer = 22
    return graph


def _is_graph_model(model: Any) -> bool:
    return any(k.__name__ in ("Functional", "Sequential") for k in type(model).__mro__)
