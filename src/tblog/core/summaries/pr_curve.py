"""PR curves: plugin ``pr_curves``, a ``[6, num_thresholds]`` DT_FLOAT tensor.

Rows: true positives, false positives, true negatives, false negatives, precision,
recall; column j is threshold ``j / (num_thresholds - 1)`` (docs/event-format.md §6.6).
Computed as TensorBoard's ``pr_curve`` summary and torch's ``add_pr_curve`` do, with
``num_thresholds`` capped at 127 as torch caps it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tblog.core.proto import plugins_pb2, summary_pb2
from tblog.core.summaries.common import (
    DATA_CLASS_TENSOR,
    metadata,
    summary_value,
    tensor_proto,
)
from tblog.core.tags import clean_tag

PLUGIN_NAME = "pr_curves"
MAX_THRESHOLDS = 127
_MINIMUM_COUNT = 1e-7


def pr_curve_metadata(num_thresholds: int) -> summary_pb2.SummaryMetadata:
    """Metadata of a PR curve series with ``num_thresholds`` columns."""
    content = plugins_pb2.PrCurvePluginData(version=0, num_thresholds=num_thresholds)
    return metadata(PLUGIN_NAME, content.SerializeToString(), DATA_CLASS_TENSOR)


def _check_thresholds(num_thresholds: Any) -> int:
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)):
        raise TypeError(f"num_thresholds must be an int, got {type(num_thresholds).__name__}")
    if num_thresholds < 2:
        raise ValueError(f"num_thresholds must be at least 2, got {num_thresholds}")
    return int(num_thresholds)


def _summary(tag: str, data: np.ndarray) -> summary_pb2.Summary:
    return summary_value(
        tag, tensor_proto(data.astype(np.float32)), pr_curve_metadata(int(data.shape[1]))
    )


def pr_curve_pb(
    tag: str,
    labels: np.ndarray,
    predictions: np.ndarray,
    num_thresholds: int = MAX_THRESHOLDS,
    weights: np.ndarray | float | None = None,
) -> summary_pb2.Summary:
    """Summary of a PR curve. ``labels``: 0/1 or bool, any shape; ``predictions``: numbers
    in [0, 1] of the same shape; ``weights``: a number or an array of that shape.

    ``num_thresholds`` above 127 is capped at 127 (as torch does). Raises ``ValueError``
    for labels other than 0/1, predictions outside [0, 1] (or NaN), mismatched shapes or
    fewer than 2 thresholds; ``TypeError`` for non-numeric input.
    """
    tag = clean_tag(tag)
    n = min(_check_thresholds(num_thresholds), MAX_THRESHOLDS)
    lab = np.asarray(labels)
    pred = np.asarray(predictions)
    if lab.dtype.kind not in "biuf":
        raise TypeError(f"labels must be bool or numeric, got dtype {lab.dtype}")
    if pred.dtype.kind not in "biuf":
        raise TypeError(f"predictions must be numeric, got dtype {pred.dtype}")
    if lab.shape != pred.shape:
        raise ValueError(
            f"labels and predictions must have the same shape, got {lab.shape} and {pred.shape}"
        )
    if lab.dtype.kind != "b" and not np.isin(lab, (0, 1)).all():
        raise ValueError("labels must be 0/1 or bool")
    if pred.dtype.kind == "b":
        pred = pred.astype(np.float32)
    if pred.size and not ((pred >= 0) & (pred <= 1)).all():
        raise ValueError("predictions must be in [0, 1] (and not NaN)")
    w: Any = 1.0
    if weights is not None:
        w = np.asarray(weights)
        if w.dtype.kind not in "biuf":
            raise TypeError(f"weights must be numeric, got dtype {w.dtype}")
        if w.ndim and w.shape != lab.shape:
            raise ValueError(
                f"weights must be a number or have the shape of labels {lab.shape}, got {w.shape}"
            )
        if not np.isfinite(w).all():
            raise ValueError("weights must be finite")
    # The same arithmetic as TensorBoard's pr_curve summary (in the predictions' dtype).
    bucket = np.floor(pred * (n - 1)).astype(np.int32).reshape(-1)
    positive = lab.astype(np.float64).reshape(-1)
    weight = np.broadcast_to(np.asarray(w, dtype=np.float64), lab.shape).reshape(-1)
    tp_buckets = np.bincount(bucket, weights=positive * weight, minlength=n)
    fp_buckets = np.bincount(bucket, weights=(1.0 - positive) * weight, minlength=n)
    tp = np.cumsum(tp_buckets[::-1])[::-1]
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    precision = tp / np.maximum(_MINIMUM_COUNT, tp + fp)
    recall = tp / np.maximum(_MINIMUM_COUNT, tp + fn)
    return _summary(tag, np.stack([tp, fp, tn, fn, precision, recall]))


def pr_curve_raw_pb(
    tag: str,
    tp: Any,
    fp: Any,
    tn: Any,
    fn: Any,
    precision: Any,
    recall: Any,
    num_thresholds: int = MAX_THRESHOLDS,
) -> summary_pb2.Summary:
    """Summary of a PR curve from precomputed rows (six 1-D arrays of equal length m >= 2).

    The arrays define the thresholds (``linspace(0, 1, m)``), as TensorBoard reads them;
    ``num_thresholds`` is accepted for torch's API and only checked to be an int >= 2.
    Raises ``ValueError`` for different lengths or non-1-D rows.
    """
    tag = clean_tag(tag)
    _check_thresholds(num_thresholds)
    names = (
        "true_positive_counts",
        "false_positive_counts",
        "true_negative_counts",
        "false_negative_counts",
        "precision",
        "recall",
    )
    rows = []
    for name, row in zip(names, (tp, fp, tn, fn, precision, recall), strict=True):
        arr = np.asarray(row)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
        rows.append(arr.astype(np.float64))
    lengths = {r.size for r in rows}
    if len(lengths) != 1:
        raise ValueError(
            f"the six PR curve rows must have equal lengths, got {[r.size for r in rows]}"
        )
    if rows[0].size < 2:
        raise ValueError(f"PR curve rows need at least 2 thresholds, got {rows[0].size}")
    return _summary(tag, np.stack(rows))
