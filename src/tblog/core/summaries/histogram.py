"""Histograms: plugin ``histograms``, a ``[k, 3]`` float64 tensor of (left, right, count).

TODO(summaries helper): histogram_pb, histogram_raw_pb, exponential_edges.
"""

from __future__ import annotations

import numpy as np

from tblog.core.proto import summary_pb2
from tblog.core.summaries._common import DATA_CLASS_TENSOR, check_tag, metadata, summary_value, tensor_proto

PLUGIN_NAME = "histograms"
DEFAULT_BUCKET_COUNT = 30


def histogram_metadata(description: str = "") -> summary_pb2.SummaryMetadata:
    """Metadata of a histogram series (empty HistogramPluginData content, data_class TENSOR)."""
    return metadata(PLUGIN_NAME, b"", DATA_CLASS_TENSOR, description=description)


def histogram_from_buckets_pb(
    tag: str, left_edges: np.ndarray, right_edges: np.ndarray, counts: np.ndarray
) -> summary_pb2.Summary:
    """Summary of a histogram given per-bucket left edges, right edges and counts (length k)."""
    check_tag(tag)
    left = np.asarray(left_edges, dtype=np.float64).reshape(-1)
    right = np.asarray(right_edges, dtype=np.float64).reshape(-1)
    cnt = np.asarray(counts, dtype=np.float64).reshape(-1)
    if not (left.shape == right.shape == cnt.shape):
        raise ValueError(
            f"left_edges, right_edges and counts must have equal lengths, got "
            f"{left.shape[0]}, {right.shape[0]}, {cnt.shape[0]}"
        )
    return summary_value(tag, tensor_proto(np.stack([left, right, cnt], axis=1)), histogram_metadata())
