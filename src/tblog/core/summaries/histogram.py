"""Histograms: plugin ``histograms``, as a ``[k, 3]`` float64 tensor of (left, right, count)
(``encoding=TENSOR``, tf.summary's form, the default here) or as torch's legacy
``HistogramProto`` (``encoding=HISTO``: min, max, num, sum, sum_squares, ``bucket_limit``
and ``bucket`` exactly as ``torch.utils.tensorboard`` writes them, which tbparse and the
legacy ``EventAccumulator`` API read; ``tblog.SummaryWriter`` writes this form).

Every finite value is counted: values beyond the outer edges (TensorBoard's exponential
edges stop below 1e20) get one more bucket on that side, up to the minimum or maximum
(torch drops them from the buckets, keeping them only in ``num``).

Three ways in:

- :func:`histogram_pb` bins values like ``torch.utils.tensorboard`` (``np.histogram`` over
  TensorBoard's exponential edges, an int, a numpy rule name or explicit edges) and writes
  directly what TensorBoard's Python loader shows for torch's legacy ``HistogramProto``
  (docs/event-format.md §5, "Conversion ... PY"): empty outer buckets dropped, the first left
  edge replaced by the minimum and the last right edge by the maximum.
- :func:`buckets_pb` does the same from counts computed elsewhere (on a GPU, in a Keras
  callback); :func:`histogram_pb` goes through it, so the paths cannot drift apart.
- :func:`uniform_pb` buckets like ``tf.summary.histogram`` (30 equal-width buckets).

Empty input is not an error: it gives an empty (``[0, 3]``) histogram, the form TensorBoard
itself produces for a histogram without counts (torch raises instead). NaN or infinite
values raise ``ValueError``, as in torch.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from tblog.core.proto import summary_pb2
from tblog.core.summaries._counting import Counted, count_values
from tblog.core.summaries.common import (
    DATA_CLASS_TENSOR,
    metadata,
    summary_value,
    tensor_proto,
)
from tblog.core.summaries.histo_proto import histo_pb
from tblog.core.tags import clean_tag

PLUGIN_NAME = "histograms"
TENSOR = "tensor"  # [k, 3] tensor with the plugin's metadata (tf.summary)
HISTO = "histo"  # HistogramProto, no metadata (torch.utils.tensorboard)
_ENCODINGS = (TENSOR, HISTO)
DEFAULT_BUCKET_COUNT = 30
_BIN_RULES = ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt")


def histogram_metadata(description: str = "") -> summary_pb2.SummaryMetadata:
    """Metadata of a histogram series (empty HistogramPluginData content, data_class TENSOR)."""
    return metadata(PLUGIN_NAME, b"", DATA_CLASS_TENSOR, description=description)


def histogram_from_buckets_pb(
    tag: str, left_edges: np.ndarray, right_edges: np.ndarray, counts: np.ndarray
) -> summary_pb2.Summary:
    """Summary of a histogram given per-bucket left edges, right edges and counts (length k)."""
    tag = clean_tag(tag)
    left = np.asarray(left_edges, dtype=np.float64).reshape(-1)
    right = np.asarray(right_edges, dtype=np.float64).reshape(-1)
    cnt = np.asarray(counts, dtype=np.float64).reshape(-1)
    if not (left.shape == right.shape == cnt.shape):
        raise ValueError(
            f"left_edges, right_edges and counts must have equal lengths, got "
            f"{left.shape[0]}, {right.shape[0]}, {cnt.shape[0]}"
        )
    return summary_value(
        tag, tensor_proto(np.stack([left, right, cnt], axis=1)), histogram_metadata()
    )


_METADATA = histogram_metadata()


@functools.lru_cache(maxsize=1)
def _tensorflow_edges() -> np.ndarray:
    limits = []
    v = 1e-12
    while v < 1e20:
        limits.append(v)
        v *= 1.1
    positive = np.array(limits, dtype=np.float64)
    edges = np.concatenate([-positive[::-1], [0.0], positive])
    edges.setflags(write=False)
    return edges


def tensorflow_edges() -> np.ndarray:
    """TensorBoard's exponential bucket edges (``±1e-12 * 1.1**k`` below 1e20, and 0), as
    torch's ``bins="tensorflow"`` builds them. Read-only float64 array, cached."""
    return _tensorflow_edges()


def _finite_values(values: Any, name: str = "values") -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    flat = arr.reshape(-1).astype(np.float64, copy=False)
    if flat.size and not np.isfinite(flat).all():
        raise ValueError(f"{name} must be finite; got NaN or infinity")
    return flat


def _real_values(values: Any, name: str = "values") -> np.ndarray:
    """``values`` as a flat real numpy array in its own dtype (no float64 copy)."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    flat = arr.reshape(-1)
    return flat.astype(np.uint8) if flat.dtype.kind == "b" else flat


def _subsample(
    edges: np.ndarray, counts: np.ndarray, max_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge neighbouring buckets exactly as torch's ``make_histogram`` does for ``max_bins``."""
    n = counts.size
    step = n // max_bins
    remainder = n % step
    if remainder:
        counts = np.pad(counts, (0, step - remainder))
    counts = counts.reshape(-1, step).sum(axis=-1)
    new_edges = np.empty(counts.size + 1, dtype=edges.dtype)
    new_edges[:-1] = edges[:-1:step]
    new_edges[-1] = edges[-1]
    return new_edges, counts


def _check_encoding(encoding: str) -> None:
    if encoding not in _ENCODINGS:
        raise ValueError(f"encoding must be one of {_ENCODINGS}, got {encoding!r}")


def buckets_pb(
    tag: str,
    edges: np.ndarray,
    counts: np.ndarray,
    vmin: float,
    vmax: float,
    num: float | None = None,
    sum: float | None = None,  # noqa: A002 - torch's argument name
    sum_squares: float | None = None,
    *,
    max_bins: int | None = None,
    encoding: str = TENSOR,
) -> summary_pb2.Summary:
    """Summary of a histogram from bucket counts, as torch writes (``HISTO``) or as
    TensorBoard shows torch's histograms (``TENSOR``).

    ``counts``: k bucket counts (k >= 0). ``edges``: either all k + 1 bucket edges (what
    ``np.histogram``/``torch.histogram`` return) or the k right edges (``HistogramProto``'s
    ``bucket_limit``). ``vmin``/``vmax``: the smallest and largest value. ``max_bins``
    merges neighbouring buckets as torch does (needs all k + 1 edges). ``num``, ``sum``
    and ``sum_squares`` go into the ``HistogramProto`` (``num`` defaults to the counts'
    total); the ``[k, 3]`` encoding has no place for them. Raises ``ValueError`` for
    mismatched lengths, negative or non-finite counts.
    """
    tag = clean_tag(tag)
    _check_encoding(encoding)
    cnt = np.asarray(counts, dtype=np.float64).reshape(-1)
    lim = np.asarray(edges, dtype=np.float64).reshape(-1)
    if lim.size not in (cnt.size, cnt.size + 1):
        raise ValueError(
            f"edges must have len(counts) or len(counts) + 1 entries, got {lim.size} edges "
            f"for {cnt.size} counts"
        )
    if cnt.size and not (np.isfinite(cnt).all() and (cnt >= 0).all()):
        raise ValueError("counts must be finite and non-negative")
    for name, value in (("vmin", vmin), ("vmax", vmax)):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name} must be finite, got {value}")
    if max_bins is not None:
        if (
            isinstance(max_bins, bool)
            or not isinstance(max_bins, (int, np.integer))
            or max_bins < 1
        ):
            raise ValueError(f"max_bins must be a positive int or None, got {max_bins!r}")
        if cnt.size > max_bins:
            if lim.size != cnt.size + 1:
                raise ValueError("max_bins needs all len(counts) + 1 edges")
            lim, cnt = _subsample(lim, cnt, int(max_bins))
    if lim.size == cnt.size:  # right edges only: the first left edge becomes vmin anyway
        lim = np.concatenate([[float(vmin)], lim])
    if encoding == HISTO:
        total = float(cnt.sum()) if num is None else float(num)
        return histo_pb(tag, lim, cnt, float(vmin), float(vmax), total, sum, sum_squares)
    return _counted_pb(tag, lim, cnt, float(vmin), float(vmax))


def _counted_pb(
    tag: str, edges: np.ndarray, counts: np.ndarray, vmin: float, vmax: float
) -> summary_pb2.Summary:
    """The Summary :func:`buckets_pb` encodes, from k + 1 edges and k counts known to be
    valid (:func:`histogram_pb` calls it directly for the counts it computed: no checks or
    copies, since small histograms are logged often, e.g. every layer at every step).
    Empty outer buckets are dropped; the first left edge becomes ``vmin`` and the last
    right edge ``vmax``, as TensorBoard's loader shows torch's histograms."""
    nonzero = np.flatnonzero(counts)
    if nonzero.size == 0:
        empty = np.zeros(0)
        return histogram_from_buckets_pb(tag, empty, empty, empty)
    first, last = int(nonzero[0]), int(nonzero[-1]) + 1
    rows = np.empty((last - first, 3))
    rows[:, 0] = edges[first:last]
    rows[:, 1] = edges[first + 1 : last + 1]
    rows[:, 2] = counts[first:last]
    rows[0, 0] = vmin
    rows[-1, 1] = vmax
    return summary_value(tag, tensor_proto(rows), _METADATA)


def count_all(edges: np.ndarray, c: Counted) -> tuple[np.ndarray, np.ndarray]:
    """Edges and counts with one more bucket on each side that has values beyond the
    edges (up to the minimum / from the maximum), so every value is counted."""
    counts = c.counts
    if not (c.below or c.above):
        return edges, counts
    left = [c.vmin] if c.below else []
    right = [c.vmax] if c.above else []
    lows = [c.below] if c.below else []
    highs = [c.above] if c.above else []
    return (
        np.concatenate([left, edges, right]),
        np.concatenate([lows, counts, highs]).astype(np.float64),
    )


def _check_bins(bins: Any) -> Any:
    if isinstance(bins, str):
        if bins != "tensorflow" and bins not in _BIN_RULES:
            raise ValueError(
                f"bins must be 'tensorflow', one of {_BIN_RULES}, an int or edges; got {bins!r}"
            )
        return bins
    if isinstance(bins, bool):
        raise TypeError("bins must be a str, an int or an array of edges, got bool")
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise ValueError(f"bins must be a positive int, got {bins}")
        return int(bins)
    edges = np.asarray(bins, dtype=np.float64).reshape(-1)
    if edges.size < 2 or not np.isfinite(edges).all() or (np.diff(edges) < 0).any():
        raise ValueError("bins given as edges must be at least 2 finite, increasing numbers")
    return edges


def histogram_pb(
    tag: str,
    values: np.ndarray,
    bins: Any = "tensorflow",
    max_bins: int | None = None,
    *,
    encoding: str = TENSOR,
) -> summary_pb2.Summary:
    """Summary of a histogram of ``values`` (real numbers, any shape), binned like torch.

    ``bins``: ``"tensorflow"`` (TensorBoard's exponential edges, plus a bucket on each side
    for values beyond ±1e20), an int, a numpy rule name (``"auto"``, ``"fd"``, ...) or an
    increasing array of edges. ``max_bins`` merges buckets as torch does. ``encoding``:
    ``TENSOR`` (``[k, 3]``) or ``HISTO`` (torch's ``HistogramProto``). Empty input gives
    an empty histogram. Raises ``ValueError`` for NaN/infinite values or bad ``bins``,
    ``TypeError`` for non-numeric values.
    """
    tag = clean_tag(tag)
    _check_encoding(encoding)
    bins = _check_bins(bins)
    if isinstance(bins, np.ndarray) or (isinstance(bins, str) and bins == "tensorflow"):
        # Fixed edges: counts, min/max, sum and sum of squares in one pass, no float64 copy.
        arr = _real_values(values)
        if arr.size == 0:
            return buckets_pb(
                tag, np.zeros(0), np.zeros(0), 0.0, 0.0, 0, 0.0, 0.0, encoding=encoding
            )
        edges = _tensorflow_edges() if isinstance(bins, str) else bins
        counted = count_values(arr, edges)
        vmin, vmax = counted.vmin, counted.vmax
        if not (math.isfinite(vmin) and math.isfinite(vmax)):
            raise ValueError("values must be finite; got NaN or infinity")
        edges, counts = count_all(edges, counted)
        if max_bins is None:  # counts computed here: valid, no checks or copies
            if encoding == HISTO:
                return histo_pb(
                    tag, edges, counts, vmin, vmax, arr.size, counted.total, counted.sumsq
                )
            return _counted_pb(tag, edges, counts, vmin, vmax)
        return buckets_pb(
            tag,
            edges,
            counts,
            vmin,
            vmax,
            arr.size,
            counted.total,
            counted.sumsq,
            max_bins=max_bins,
            encoding=encoding,
        )
    flat = _finite_values(values)
    if flat.size == 0:
        return buckets_pb(tag, np.zeros(0), np.zeros(0), 0.0, 0.0, 0, 0.0, 0.0, encoding=encoding)
    counts, edges = np.histogram(flat, bins=bins)
    return buckets_pb(
        tag,
        edges,
        counts,
        float(flat.min()),
        float(flat.max()),
        flat.size,
        float(flat.sum()),
        float(flat.dot(flat)),
        max_bins=max_bins,
        encoding=encoding,
    )


def uniform_buckets(values: np.ndarray, buckets: int = DEFAULT_BUCKET_COUNT) -> np.ndarray:
    """``tf.summary.histogram``'s ``[buckets, 3]`` float64 ``(left, right, count)`` rows.

    As TensorBoard's ``summary_v2._buckets``: edges ``min + i * (max - min) / buckets`` with
    the first exactly ``min`` and the last exactly ``max``; all values equal: every edge is
    that value and the last bucket holds the count; empty input: all-zero rows. Non-finite
    values as TensorFlow treats them: a NaN makes every edge NaN and every count 0; an
    infinite extreme makes the edges beyond ``min`` infinite and leaves out the values whose
    bucket is undefined (only finite offsets are counted, in the first bucket).
    """
    k = int(buckets)
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if k == 0 or flat.size == 0:
        return np.zeros((k, 3), dtype=np.float64)
    lo, hi = flat.min(), flat.max()  # NaN propagates, as tf.reduce_min/max
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        span = hi - lo
        if span == 0:
            same = np.full(k, lo)
            counts = np.zeros(k)
            counts[-1] = flat.size
            return np.stack([same, same, counts], axis=1)
        width = span / k
        index = np.floor((flat - lo) / width)
        # TensorFlow's one_hot drops the indices its int cast of NaN/infinity makes
        index = index[np.isfinite(index)].astype(np.int64)
        np.minimum(index, k - 1, out=index)
        counts = np.bincount(index, minlength=k).astype(np.float64)
        edges = lo + np.arange(k + 1, dtype=np.float64) * width
    edges[0] = lo
    edges[-1] = hi
    return np.stack([edges[:-1], edges[1:], counts], axis=1)


def uniform_pb(
    tag: str, values: np.ndarray, buckets: int = DEFAULT_BUCKET_COUNT, description: str = ""
) -> summary_pb2.Summary:
    """Summary of :func:`uniform_buckets` of ``values`` (any shape, real numbers), as
    ``tf.summary.histogram`` writes it. Raises ``ValueError`` for a negative ``buckets``,
    ``TypeError`` for non-numeric values."""
    tag = clean_tag(tag)
    if isinstance(buckets, bool) or not isinstance(buckets, (int, np.integer)) or buckets < 0:
        raise ValueError(f"buckets must be a non-negative int, got {buckets!r}")
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"values must be real numbers, got dtype {arr.dtype}")
    rows = uniform_buckets(arr, int(buckets))
    return summary_value(tag, tensor_proto(rows), histogram_metadata(description))


def histogram_raw_pb(
    tag: str,
    min: float,  # noqa: A002 - torch's argument names
    max: float,  # noqa: A002
    num: float,
    sum: float,  # noqa: A002
    sum_squares: float,
    bucket_limits: Any,
    bucket_counts: Any,
    *,
    encoding: str = TENSOR,
) -> summary_pb2.Summary:
    """Summary of a histogram given as torch's ``add_histogram_raw`` takes it.

    ``bucket_limits``: right edge of each bucket (``HistogramProto.bucket_limit``);
    ``bucket_counts``: the count of each bucket, same length. ``HISTO``: the
    ``HistogramProto`` as given (as torch writes it); ``TENSOR``: as TensorBoard shows that
    ``HistogramProto``. Raises ``ValueError`` for different lengths, NaN or
    negative counts, or ``min > max``.
    """
    tag = clean_tag(tag)
    _check_encoding(encoding)
    limits = np.asarray(bucket_limits, dtype=np.float64).reshape(-1)
    counts = np.asarray(bucket_counts, dtype=np.float64).reshape(-1)
    if limits.size != counts.size:
        raise ValueError(
            f"bucket_limits and bucket_counts must have equal lengths, got {limits.size} "
            f"and {counts.size}"
        )
    if np.isnan(limits).any():
        raise ValueError("bucket_limits must not contain NaN")
    if float(min) > float(max):
        raise ValueError(f"min must be <= max, got min={min}, max={max}")
    if encoding == HISTO:
        for name, value in (("min", min), ("max", max)):
            if not math.isfinite(float(value)):
                raise ValueError(f"{name} must be finite, got {value}")
        if counts.size and not (np.isfinite(counts).all() and (counts >= 0).all()):
            raise ValueError("bucket_counts must be finite and non-negative")
        summary = summary_pb2.Summary()
        histo = summary.value.add(tag=tag).histo
        histo.min, histo.max, histo.num = float(min), float(max), float(num)
        histo.sum, histo.sum_squares = float(sum), float(sum_squares)
        histo.bucket_limit.extend(limits.tolist())
        histo.bucket.extend(counts.tolist())
        return summary
    return buckets_pb(tag, limits, counts, float(min), float(max), num, sum, sum_squares)
