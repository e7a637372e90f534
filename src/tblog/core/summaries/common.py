"""Helpers shared by the summary modules: tensor protos and plugin metadata."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tblog.core.proto import summary_pb2, tensor_pb2

DATA_CLASS_SCALAR = summary_pb2.DATA_CLASS_SCALAR
DATA_CLASS_TENSOR = summary_pb2.DATA_CLASS_TENSOR
DATA_CLASS_BLOB_SEQUENCE = summary_pb2.DATA_CLASS_BLOB_SEQUENCE

_NP_TO_DT = {
    np.dtype(np.float32): tensor_pb2.DT_FLOAT,
    np.dtype(np.float64): tensor_pb2.DT_DOUBLE,
    np.dtype(np.int32): tensor_pb2.DT_INT32,
    np.dtype(np.uint8): tensor_pb2.DT_UINT8,
    np.dtype(np.int16): tensor_pb2.DT_INT16,
    np.dtype(np.int8): tensor_pb2.DT_INT8,
    np.dtype(np.int64): tensor_pb2.DT_INT64,
    np.dtype(np.bool_): tensor_pb2.DT_BOOL,
    np.dtype(np.uint16): tensor_pb2.DT_UINT16,
    np.dtype(np.float16): tensor_pb2.DT_HALF,
    np.dtype(np.uint32): tensor_pb2.DT_UINT32,
    np.dtype(np.uint64): tensor_pb2.DT_UINT64,
    np.dtype(np.complex64): tensor_pb2.DT_COMPLEX64,
    np.dtype(np.complex128): tensor_pb2.DT_COMPLEX128,
}


def metadata(
    plugin_name: str,
    content: bytes = b"",
    data_class: int = DATA_CLASS_TENSOR,
    display_name: str = "",
    description: str = "",
) -> summary_pb2.SummaryMetadata:
    """Build a SummaryMetadata for ``plugin_name`` with serialized plugin ``content``."""
    md = summary_pb2.SummaryMetadata(
        display_name=display_name, summary_description=description, data_class=data_class
    )
    md.plugin_data.plugin_name = plugin_name
    md.plugin_data.content = content
    return md


def _shape(proto: tensor_pb2.TensorProto, shape: Sequence[int]) -> None:
    for size in shape:
        proto.tensor_shape.dim.add(size=int(size))


def tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """Encode a numeric or bool numpy array as a TensorProto (``tensor_content`` bytes).

    Raises ``TypeError`` for dtypes TensorBoard cannot read.
    """
    arr = np.asarray(array)
    dtype = arr.dtype.newbyteorder("=") if arr.dtype.byteorder == ">" else arr.dtype
    dt = _NP_TO_DT.get(np.dtype(dtype))
    if dt is None:
        if arr.dtype.kind in "OUS":
            return string_tensor_proto(arr)
        raise TypeError(f"cannot write a tensor of dtype {arr.dtype}")
    proto = tensor_pb2.TensorProto(dtype=dt)
    _shape(proto, arr.shape)
    proto.tensor_content = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
    return proto


def scalar_float_proto(value: float) -> tensor_pb2.TensorProto:
    """A rank-0 DT_FLOAT tensor, the form TensorBoard's data server requires for scalars."""
    proto = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_FLOAT)
    proto.float_val.append(value)
    return proto


def _to_bytes(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    if isinstance(item, np.bytes_):
        return bytes(item)
    return str(item).encode("utf-8")


def string_tensor_proto(values: Any, shape: Sequence[int] | None = None) -> tensor_pb2.TensorProto:
    """A DT_STRING tensor of ``values`` (str or bytes, any nesting) with ``shape``."""
    arr = np.asarray(values, dtype=object)
    proto = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_STRING)
    _shape(proto, arr.shape if shape is None else shape)
    proto.string_val.extend(_to_bytes(v) for v in arr.reshape(-1))
    return proto


def summary_value(
    tag: str, tensor: tensor_pb2.TensorProto, md: summary_pb2.SummaryMetadata
) -> summary_pb2.Summary:
    """A Summary with one value: ``tag``, ``tensor`` and metadata ``md``."""
    summary = summary_pb2.Summary()
    value = summary.value.add(tag=tag)
    value.tensor.CopyFrom(tensor)
    value.metadata.CopyFrom(md)
    return summary
