"""Counting values into fixed histogram edges, fast and without a float64 copy.

:func:`edge_counts` returns what ``np.histogram(values.astype(np.float64), edges)[0]``
returns (bins ``[e_i, e_i+1)``, the last one closed, values outside the edges dropped),
plus the minimum and maximum. There are two ways to count, and both give the same result:

- **native**: ``count`` of the ``tblog.core._native`` C extension, built at install when a C compiler is
  there. One pass over the values maps each value's bits (reordered so that integer order is
  float order) through a 65,536-entry table to its bucket. It is used for float32 and
  float64 input when each 16-bit key prefix holds at most one edge. That is always true of
  TensorBoard's exponential edges, which are 10% apart; a prefix spans under 1% (float32)
  or 6.25% (float64).
- **numpy**: sort chunks of the values and ``searchsorted`` the edges into them. It is used
  for other dtypes, for edges too dense for the table, and when the extension is missing.

Both release the GIL, so large inputs are split across a small per-process thread pool.
Extra memory is one sorted chunk per thread (numpy way) or a few KiB (native way).
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

try:
    from tblog.core import _native as _native_module

    _native: Any = _native_module
except ImportError:  # built without a C compiler: the numpy way alone
    _native = None

_SORT_CHUNK = 1 << 17  # values sorted at a time by the numpy way (512 KiB of float32)
_PARALLEL_MIN = 1 << 20  # inputs at least this large are counted on several threads
_TABLE_BITS = 16
_pool: Any = None
_pool_pid = 0
_pool_lock = threading.Lock()


class Counted(NamedTuple):
    """What :func:`count_values` finds: bucket counts, min, max, the numbers of values below
    the first and above the last edge (not in ``counts``), and the sum and sum of squares
    (in float64)."""

    counts: np.ndarray
    vmin: float
    vmax: float
    below: int
    above: int
    total: float
    sumsq: float


def thread_pool() -> Any:
    """A small shared pool (the counting loops release the GIL); a forked child gets its
    own, since its parent's worker threads do not exist in it."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool_pid = os.getpid()
            from concurrent.futures import ThreadPoolExecutor

            workers = max(1, min(4, os.cpu_count() or 1))
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="tblog-histogram")
        return _pool


def float32_keys(edges: np.ndarray) -> tuple[np.ndarray, np.float32]:
    """float32 keys with ``#{x < e} == #{x < key}`` for each edge and every float32 ``x``,
    and the last edge's key with ``#{x <= e} == #{x <= key}``."""
    with np.errstate(over="ignore"):
        up = edges.astype(np.float32)
        up = np.where(up.astype(np.float64) < edges, np.nextafter(up, np.float32(np.inf)), up)
        down = np.float32(edges[-1])
    if float(down) > float(edges[-1]):
        down = np.nextafter(down, np.float32(-np.inf))
    return up.astype(np.float32), np.float32(down)


def edge_counts(flat: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(np.histogram(flat.astype(float), edges)[0], min, max)`` for a non-empty flat real
    array and increasing finite edges. min/max are NaN when ``flat`` holds NaN (and
    infinite when it holds an infinity); the caller decides whether that is an error."""
    counted = count_values(flat, edges)
    return counted.counts, counted.vmin, counted.vmax


def count_values(flat: np.ndarray, edges: np.ndarray) -> Counted:
    """:func:`edge_counts` plus the values outside the edges and the sum and sum of
    squares, in the same pass (see :class:`Counted`)."""
    tables = _native_tables(flat.dtype, edges) if _native is not None else None
    if tables is not None and flat.flags.c_contiguous and flat.dtype.isnative:
        return _split(flat, edges.size - 1, functools.partial(_count_native, tables=tables))
    return _split(flat, edges.size - 1, functools.partial(_count_sorted, edges=edges))


def _split(flat: np.ndarray, bins: int, count: Callable[[np.ndarray], Counted]) -> Counted:
    """Run ``count`` over ``flat`` whole, or over a few parts on the pool and merge them."""
    parts = 1 if flat.size < _PARALLEL_MIN else min(4, os.cpu_count() or 1)
    if parts == 1:
        return count(flat)
    bounds = [flat.size * i // parts for i in range(parts + 1)]
    futures = [thread_pool().submit(count, flat[a:b]) for a, b in itertools.pairwise(bounds)]
    results = [f.result() for f in futures]
    counts = sum((r.counts for r in results), np.zeros(bins, dtype=np.int64))
    lows = [r.vmin for r in results]
    highs = [r.vmax for r in results]
    below = sum(r.below for r in results)
    above = sum(r.above for r in results)
    total = math.fsum(r.total for r in results)
    sumsq = math.fsum(r.sumsq for r in results)
    if any(math.isnan(v) for v in lows + highs):
        return Counted(counts, math.nan, math.nan, below, above, total, sumsq)
    return Counted(counts, min(lows), max(highs), below, above, total, sumsq)


# ------------------------------------------------------------------------ the numpy way
def _count_sorted(flat: np.ndarray, edges: np.ndarray) -> Counted:
    """Counts over sorted chunks: float16/float32 sorted in float32 against edges rounded to
    float32 (exact for float32 values), other dtypes in float64."""
    if flat.dtype.kind == "f" and flat.dtype.itemsize <= 4:
        work: Any = np.float32
        left, last = float32_keys(edges)
    else:
        work, left, last = np.float64, edges, edges[-1]
    cum = np.zeros(edges.size, dtype=np.int64)
    vmin, vmax = math.inf, -math.inf
    total = sumsq = 0.0
    for start in range(0, flat.size, _SORT_CHUNK):
        chunk = np.sort(flat[start : start + _SORT_CHUNK].astype(work, copy=False))
        found = np.searchsorted(chunk, left, side="left")
        found[-1] = np.searchsorted(chunk, last, side="right")
        cum += found
        wide = chunk.astype(np.float64, copy=False)
        with np.errstate(over="ignore"):  # |x| near 1e300: the sum of squares is inf
            total += float(wide.sum())
            sumsq += float(wide.dot(wide))
        # sorted: the ends are the extremes (NaN sorts last and propagates)
        vmin = min(vmin, float(chunk[0]))
        vmax = float(chunk[-1]) if math.isnan(chunk[-1]) else max(vmax, float(chunk[-1]))
    below, above = int(cum[0]), flat.size - int(cum[-1])
    return Counted(np.diff(cum), vmin, vmax, below, above, total, sumsq)


# ----------------------------------------------------------------------- the native way
_UINT = {4: np.uint32, 8: np.uint64}
_FLOAT = {4: np.float32, 8: np.float64}


def _monotone(values: np.ndarray) -> np.ndarray:
    """Unsigned keys in the order of the (non-NaN, -0.0-free) float values."""
    bits = values.view(_UINT[values.itemsize])
    sign = bits.dtype.type(1) << bits.dtype.type(8 * values.itemsize - 1)
    return np.where(bits & sign, ~bits, bits | sign)


def _from_monotone(key: int, itemsize: int) -> float:
    sign = 1 << (8 * itemsize - 1)
    bits = key & ~sign if key & sign else ~key & ((sign << 1) - 1)
    return float(np.array(bits, dtype=_UINT[itemsize]).view(_FLOAT[itemsize]))


def _native_tables(dtype: np.dtype[Any], edges: np.ndarray) -> tuple[Any, ...] | None:
    if dtype not in (np.float32, np.float64):
        return None
    return _tables_for(dtype.itemsize, edges.tobytes())


@functools.lru_cache(maxsize=8)
def _tables_for(itemsize: int, edge_bytes: bytes) -> tuple[Any, ...] | None:
    """(native table, itemsize, n_keys) for the native counter, or None when a 16-bit prefix
    of the keys holds two of them. Keys K_j are the edges in the values' precision, with
    ``#{x < K_j} == #{x < e_j}`` and, for the last, ``#{x < K} == #{x <= e_last}``."""
    edges = np.frombuffer(edge_bytes, dtype=np.float64)
    if itemsize == 4:
        up, down = float32_keys(edges)
        last = np.nextafter(down, np.float32(np.inf))
        keys = np.concatenate([up[:-1], [last]]).astype(np.float32)
    else:
        keys = np.concatenate([edges[:-1], [np.nextafter(edges[-1], np.inf)]])
    keys = keys + keys.dtype.type(0.0)  # -0.0 -> +0.0, as the counter reads values
    if np.isnan(keys).any():
        return None
    mono = _monotone(keys)
    shift = mono.dtype.type(8 * itemsize - _TABLE_BITS)
    prefix = (mono >> shift).astype(np.intp)
    if (np.diff(mono) == 0).any() or (np.diff(prefix) == 0).any():
        return None
    starts = np.arange(1 << _TABLE_BITS, dtype=mono.dtype) << shift
    idx = np.searchsorted(mono, starts, side="left").astype(np.uint32)
    key = np.full(1 << _TABLE_BITS, np.iinfo(mono.dtype).max, dtype=mono.dtype)
    key[prefix] = mono
    return _native.table(idx, key), itemsize, keys.size


def _sums(flat: np.ndarray) -> tuple[float, float]:
    """Sum and sum of squares in float64, a chunk at a time (no float64 copy of it all)."""
    total = sumsq = 0.0
    with np.errstate(over="ignore"):
        for start in range(0, flat.size, _SORT_CHUNK):
            wide = flat[start : start + _SORT_CHUNK].astype(np.float64)
            total += float(wide.sum())
            sumsq += float(wide.dot(wide))
    return total, sumsq


def _count_native(flat: np.ndarray, tables: tuple[Any, ...]) -> Counted:
    table, itemsize, n_keys = tables
    # [b] = #{values with b keys <= them}; one more slot, that only NaN can reach
    per_key = np.zeros(n_keys + 2, dtype=np.int64)
    found = _native.count(flat, table, per_key)
    if len(found) == 2:  # an extension built before it summed too: sum with numpy
        (umin, umax), (total, sumsq) = found, _sums(flat)
    else:
        umin, umax, total, sumsq = found
    below = np.cumsum(per_key[:n_keys])  # [j] = #{x < K_j}
    vmin, vmax = _from_monotone(umin, itemsize), _from_monotone(umax, itemsize)
    outside = (int(per_key[0]), int(per_key[n_keys]))  # x < first edge, x > last edge
    return Counted(np.diff(below), vmin, vmax, *outside, total, sumsq)
