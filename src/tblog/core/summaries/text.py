"""Text: plugin ``text``, a DT_STRING tensor of UTF-8 Markdown.

Mirrors ``tensorboard/plugins/text/summary_v2.py``: a single string is written as a
rank-0 tensor, which TensorBoard renders as one Markdown paragraph; a list (or 2-D
nesting) of strings keeps its shape and is rendered as a table of Markdown cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tblog.core.proto import plugins_pb2, summary_pb2, tensor_pb2
from tblog.core.summaries.common import (
    DATA_CLASS_TENSOR,
    metadata,
    string_tensor_proto,
    summary_value,
)
from tblog.core.tags import clean_tag

PLUGIN_NAME = "text"


def text_metadata(description: str = "") -> summary_pb2.SummaryMetadata:
    """Metadata of a text series (``TextPluginData{version 0}``, data_class TENSOR)."""
    content = plugins_pb2.TextPluginData(version=0).SerializeToString()
    return metadata(PLUGIN_NAME, content, DATA_CLASS_TENSOR, description=description)


_METADATA = text_metadata()


def _check_cell(cell: Any) -> str | bytes:
    if isinstance(cell, (str, np.str_)):
        return str(cell)
    if isinstance(cell, (bytes, np.bytes_)):
        try:
            bytes(cell).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("text_string bytes must be valid UTF-8") from None
        return bytes(cell)
    raise TypeError(f"text_string must be a str (or strings), got {type(cell).__name__}")


def text_pb(tag: str, text: Any, description: str = "") -> summary_pb2.Summary:
    """Summary of Markdown ``text``: a ``str`` (or UTF-8 ``bytes``), or a list/array of them
    (rank 1 or 2, shown as a table). Raises ``TypeError`` for anything else and
    ``ValueError`` for bytes that are not UTF-8 or an empty list."""
    tag = clean_tag(tag)
    md = text_metadata(description) if description else _METADATA
    if isinstance(text, (str, bytes, np.str_, np.bytes_)):  # the common case, built directly
        cell = _check_cell(text)
        summary = summary_pb2.Summary()
        value = summary.value.add(tag=tag)
        value.tensor.dtype = tensor_pb2.DT_STRING
        value.tensor.string_val.append(cell.encode("utf-8") if isinstance(cell, str) else cell)
        value.metadata.CopyFrom(md)
        return summary
    if isinstance(text, (list, tuple, np.ndarray)):
        cells = np.asarray(text, dtype=object)
        if cells.size == 0:
            raise ValueError("text_string must not be an empty list")
        for item in cells.reshape(-1):
            _check_cell(item)
    else:
        raise TypeError(f"text_string must be a str (or strings), got {type(text).__name__}")
    return summary_value(tag, string_tensor_proto(cells), md)
