"""One ``Summary.Value`` read as TensorBoard's loaders read it: ``data_compat``'s migration
of the legacy ``simple_value``, ``histo``, ``image`` and ``audio`` fields, and the data
server's data classes (what fits a tag, what is data loss and never shown)."""

from __future__ import annotations

from typing import Any

import numpy as np

LEGACY_PLUGINS = {
    "simple_value": "scalars",
    "histo": "histograms",
    "image": "images",
    "audio": "audio",
}
_DT_STRING = 7
_NUMERIC_FIELDS = ("float_val", "double_val", "int_val", "int64_val", "half_val", "bool_val")
_CONTENT_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 9: "<i8", 19: "<f2", 4: "u1", 6: "i1", 5: "<i2"}


def plugin_of(value: Any) -> str | None:
    """The plugin a value names: its metadata's plugin (when it has metadata), else the
    plugin its legacy field migrates to (``data_compat``), else ``None``."""
    if value.HasField("metadata"):
        name: str = value.metadata.plugin_data.plugin_name
        return name
    return LEGACY_PLUGINS.get(value.WhichOneof("value") or "")


def value_kind(value: Any) -> str:
    """How the data server stores a tag whose first value is ``value``: ``"scalar"``,
    ``"blob"`` (images, audio, blob sequences) or ``"tensor"``."""
    data_class = value.metadata.data_class
    if data_class == 1:
        return "scalar"
    if data_class == 3:
        return "blob"
    if data_class == 2:
        return "tensor"
    which = value.WhichOneof("value")
    plugin = value.metadata.plugin_data.plugin_name
    if which == "simple_value" or plugin == "scalars":
        return "scalar"
    if which in ("image", "audio") or plugin in ("images", "audio"):
        return "blob"
    return "tensor"


def fits(value: Any, kind: str) -> bool:
    """Whether the data server keeps ``value`` as a point of a ``kind`` tag (a value that
    does not fit, such as a resume placeholder, is data loss and never served)."""
    which = value.WhichOneof("value")
    if kind == "scalar":
        return scalar_of(value) is not None
    if kind == "blob":
        return which in ("image", "audio") or (
            which == "tensor" and value.tensor.dtype == _DT_STRING
        )
    return which in ("tensor", "histo", "image", "audio")


def _tensor_numbers(tensor: Any) -> np.ndarray | None:
    """The numbers of a numeric TensorProto (flat float64), or ``None``."""
    if tensor.dtype == _DT_STRING:
        return None
    if tensor.tensor_content:
        dtype = _CONTENT_DTYPES.get(tensor.dtype)
        if dtype is None:
            return None
        return np.frombuffer(tensor.tensor_content, dtype=dtype).astype(np.float64)
    for name in _NUMERIC_FIELDS:
        field = getattr(tensor, name)
        if len(field):
            if name == "half_val":
                raw = np.array(list(field), np.uint16).view(np.float16)
                return raw.astype(np.float64)
            return np.array(list(field), np.float64)
    return np.zeros(0, np.float64)


def scalar_of(value: Any) -> float | None:
    """The number of a scalar value as TensorBoard reads it: ``simple_value``, or a
    numeric rank-0 tensor; ``None`` for anything else (a rank-1 placeholder included)."""
    which = value.WhichOneof("value")
    if which == "simple_value":
        return float(value.simple_value)
    if which != "tensor" or value.tensor.tensor_shape.dim:
        return None
    numbers = _tensor_numbers(value.tensor)
    if numbers is None or numbers.size == 0:
        return None
    return float(numbers[0])


def histogram_of(value: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(edges, counts)`` of a histogram value as TensorBoard shows it (``k + 1`` edges,
    ``k`` counts): a ``[k, 3]`` tensor (left, right, count), or a legacy ``histo``
    migrated as ``data_compat`` does (empty end buckets dropped, min and max as the outer
    edges). ``None`` for anything else (a resume placeholder included)."""
    which = value.WhichOneof("value")
    if which == "histo":
        h = value.histo
        counts = np.array(list(h.bucket), np.float64)
        nz = np.flatnonzero(counts > 0)
        if nz.size == 0:
            return np.zeros(0), np.zeros(0)
        a, b = int(nz[0]), int(nz[-1])
        inner = np.array(list(h.bucket_limit[a:b]), np.float64)
        edges = np.concatenate([[h.min], inner, [h.max]]).astype(np.float32)
        return edges.astype(np.float64), counts[a : b + 1].astype(np.float32).astype(np.float64)
    if which != "tensor":
        return None
    dims = [d.size for d in value.tensor.tensor_shape.dim]
    if len(dims) != 2 or dims[1] != 3:
        return None
    numbers = _tensor_numbers(value.tensor)
    if numbers is None or numbers.size != dims[0] * 3:
        return None
    table = numbers.reshape(dims[0], 3)
    if not dims[0]:
        return np.zeros(0), np.zeros(0)
    return np.append(table[:, 0], table[-1, 1]), table[:, 2].copy()
