"""Scalars: plugin ``scalars``, a rank-0 DT_FLOAT tensor (the form both loaders read)."""

from __future__ import annotations

from typing import Any

from tblog.core.convert import to_float
from tblog.core.proto import summary_pb2
from tblog.core.summaries.common import (
    DATA_CLASS_SCALAR,
    metadata,
    scalar_float_proto,
    summary_value,
)
from tblog.core.tags import clean_tag

PLUGIN_NAME = "scalars"


def scalar_metadata(display_name: str = "", description: str = "") -> summary_pb2.SummaryMetadata:
    """Metadata of a scalar series (empty ScalarPluginData content, data_class SCALAR)."""
    return metadata(PLUGIN_NAME, b"", DATA_CLASS_SCALAR, display_name, description)


def scalar_pb(tag: str, value: Any, description: str = "") -> summary_pb2.Summary:
    """Summary of one scalar. ``value``: a real number or one-element array/tensor.

    NaN and infinities are valid values. Raises ``TypeError`` for non-numeric values and
    ``ValueError`` for arrays with more than one element.
    """
    tag = clean_tag(tag)
    number = to_float(value)
    return summary_value(tag, scalar_float_proto(number), scalar_metadata(description=description))
