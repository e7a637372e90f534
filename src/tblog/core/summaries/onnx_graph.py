"""ONNX graphs for the Graphs dashboard: an ONNX model (bytes) in, a GraphDef out.

Reads the model with our own subset of ``onnx.proto`` (no ``onnx`` package needed) and
lays it out as ``torch.utils.tensorboard``'s ``add_onnx_graph`` does: graph inputs and
outputs as ``Variable`` nodes with their dtype and shape, then one node per ONNX node,
named after its first output, with the ONNX op type and the node's attributes as text.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError

from tblog.core.proto import graph_pb2, onnx_pb2

GRAPH_PRODUCER = 22


def onnx_graph_def(model: bytes) -> graph_pb2.GraphDef:
    """GraphDef of a serialized ONNX ``ModelProto``.

    Raises ``TypeError`` if ``model`` is not bytes and ``ValueError`` if it is not an ONNX
    model with a graph.
    """
    if not isinstance(model, (bytes, bytearray, memoryview)):
        raise TypeError(f"model must be the bytes of an ONNX file, got {type(model).__name__}")
    proto = onnx_pb2.ModelProto()
    try:
        proto.ParseFromString(bytes(model))
    except DecodeError as exc:
        raise ValueError(f"model is not an ONNX model: {exc}") from exc
    if not proto.HasField("graph") or not (proto.graph.node or proto.graph.input):
        raise ValueError("model is not an ONNX model with a graph (no nodes, no inputs)")
    graph = graph_pb2.GraphDef()
    graph.versions.producer = GRAPH_PRODUCER
    for value in [*proto.graph.input, *proto.graph.output]:
        node = graph.node.add(name=value.name, op="Variable")
        tensor_type = value.type.tensor_type
        node.attr["dtype"].type = tensor_type.elem_type
        shape = node.attr["shape"].shape
        for dim in tensor_type.shape.dim:
            shape.dim.add(size=dim.dim_value)
    for onnx_node in proto.graph.node:
        if not onnx_node.output:
            raise ValueError(f"ONNX node {onnx_node.name!r} ({onnx_node.op_type}) has no output")
        attrs = ", ".join(
            " = ".join(str(field_value) for _, field_value in attribute.ListFields())
            for attribute in onnx_node.attribute
        )
        node = graph.node.add(name=onnx_node.output[0], op=onnx_node.op_type)
        node.input.extend(onnx_node.input)
        node.attr["parameters"].s = attrs.encode("utf-8")
    return graph
