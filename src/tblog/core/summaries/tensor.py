"""Raw tensors (``add_tensor``): plugin ``tensor``, any numeric dtype and shape.

torch writes these with plugin name ``tensor`` and no data class; TensorBoard's Python
loader keeps them as plain tensors but the Rust data server drops a tensor of an unknown
plugin unless ``data_class`` says what it is, so we set ``DATA_CLASS_TENSOR``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tblog.core.proto import summary_pb2
from tblog.core.summaries.common import (
    DATA_CLASS_TENSOR,
    metadata,
    summary_value,
    tensor_proto,
)
from tblog.core.tags import clean_tag

PLUGIN_NAME = "tensor"
MAX_BYTES = (1 << 31) - 1


def tensor_pb(tag: str, tensor: Any, description: str = "") -> summary_pb2.Summary:
    """Summary of ``tensor``: a bool, integer, float or complex array of any shape.

    Raises ``TypeError`` for other dtypes (strings, objects) and ``ValueError`` for a
    tensor of 2 GiB or more (protobuf's limit).
    """
    tag = clean_tag(tag)
    arr = np.asarray(tensor)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"tensor must be numeric or bool, got dtype {arr.dtype}")
    if arr.nbytes > MAX_BYTES:
        raise ValueError(f"tensor is {arr.nbytes} bytes; protobuf's limit is 2 GiB")
    return summary_value(
        tag,
        tensor_proto(arr),
        metadata(PLUGIN_NAME, b"", DATA_CLASS_TENSOR, description=description),
    )
