"""Fast loading of a log dir for the CLI: every series' steps, wall times and scalar values.

Scalar events written by tblog's fast encoder (``tblog.core.format.events.ScalarEncoder``) are
decoded with numpy, a whole file at a time, without building protobuf messages:

1. record starts are found by their framing (a length whose masked CRC-32C matches the
   next four bytes) and accepted only when they chain from byte 0 to the end of the file;
2. the records whose bytes match the encoder's layout give (tag, step, wall time, value);
3. every other record (histograms, images, scalars of other writers, ...) is parsed with
   protobuf, as :func:`tblog.read` does.

When a file does not chain (corruption, foreign framing) it is read record by record with
:func:`tblog.core.format.records.iter_records`. Data CRCs are not checked on the fast path.
Restarts follow TensorBoard: a ``SessionLog START`` at step ``s`` (other than a run's first)
drops the points read before it whose step is ``>= s``.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from tblog.core.format.records import iter_records
from tblog.core.proto import event_pb2
from tblog.core.read.reader import scalar_value
from tblog.core.write.storage import open_storage


def _crc_table() -> np.ndarray:
    """The CRC-32C (Castagnoli, reflected 0x82F63B78) byte table."""
    crc = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        crc = np.where(crc & 1, (crc >> np.uint32(1)) ^ np.uint32(0x82F63B78), crc >> np.uint32(1))
    return crc.astype(np.uint32)


_CRC_TABLE = _crc_table()
_TENSOR_PREFIX = np.frombuffer(b"\x42\x08\x08\x01\x2a\x04", dtype=np.uint8)
_SCALAR_METADATA = np.frombuffer(b"\x4a\x0d\x0a\x09\x0a\x07scalars\x20\x01", dtype=np.uint8)
_LEGACY_PLUGINS = {
    "simple_value": "scalars",
    "histo": "histograms",
    "image": "images",
    "audio": "audio",
}


@dataclass
class Series:
    """One tag of one run: ``steps`` (int64), ``wall_times`` (float64) in write order,
    ``values`` (float64) for tags of the ``scalars`` plugin and ``None`` otherwise."""

    plugin: str
    steps: np.ndarray
    wall_times: np.ndarray
    values: np.ndarray | None


@dataclass
class _Chunks:
    plugin: str = ""
    order: list[np.ndarray] = field(default_factory=list)
    steps: list[np.ndarray] = field(default_factory=list)
    walls: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    slow: list[tuple[int, int, float, float]] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(order, steps, wall_times, values)`` of every point, in record order."""
        if self.slow:
            cols = list(zip(*self.slow, strict=True))
            self.order.append(np.array(cols[0], np.int64))
            self.steps.append(np.array(cols[1], np.int64))
            self.walls.append(np.array(cols[2], np.float64))
            self.values.append(np.array(cols[3], np.float64))
            self.slow = []
        order = np.concatenate(self.order)
        steps = np.concatenate(self.steps)
        walls = np.concatenate(self.walls)
        values = np.concatenate(self.values)
        if order.size < 2 or (order[1:] > order[:-1]).all():
            return order, steps, walls, values
        sort = np.argsort(order, kind="stable")
        return order[sort], steps[sort], walls[sort], values[sort]


@dataclass
class _Fast:
    """Records decoded by :func:`_fast_scalars`: ``mask`` per record, and for the matched
    records (``idx``) their tag id (into ``tags``), step, wall time and value."""

    mask: np.ndarray
    idx: np.ndarray
    tag: np.ndarray
    tags: list[str]
    step: np.ndarray
    wall: np.ndarray
    value: np.ndarray


def _rows(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """``buf[start : start + width]`` for every start, as a new ``(n, width)`` array;
    bytes past the end of ``buf`` read as 0."""
    over = starts + width > buf.size
    if buf.size < width:
        rows = np.zeros((starts.size, width), np.uint8)
    else:
        windows = np.lib.stride_tricks.sliding_window_view(buf, width)
        rows = windows[np.where(over, 0, starts)]
    if over.any():
        i = np.flatnonzero(over)
        idx = starts[i, None] + np.arange(width)
        rows[i] = np.where(idx < buf.size, buf[np.clip(idx, 0, max(buf.size - 1, 0))], 0)
    return rows


def _masked_crc_of_u64(words: np.ndarray) -> np.ndarray:
    """Masked CRC-32C of each 8-byte little-endian ``uint64`` in ``words`` (vectorized)."""
    crc = np.full(words.shape, 0xFFFFFFFF, dtype=np.uint32)
    for i in range(8):
        byte = ((words >> np.uint64(8 * i)) & np.uint64(0xFF)).astype(np.uint32)
        crc = _CRC_TABLE[(crc ^ byte) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    crc ^= np.uint32(0xFFFFFFFF)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(0xA282EAD8)


def record_starts(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(starts, lengths)`` of the complete records of a file (uint8 array), or ``None``
    when the framing found does not chain from byte 0 (the caller then walks records)."""
    n = buf.size
    if n < 16:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # An Event always starts with field 1 (wall_time, 0x09); lengths fit in 32 bits.
    cand = np.flatnonzero(buf[12:] == 0x09)
    for k in (4, 5, 6, 7):
        cand = cand[buf[cand + k] == 0]
    head = _rows(buf, cand, 12)
    words = head[:, :8].copy().view("<u8").ravel()
    crcs = head[:, 8:].copy().view("<u4").ravel()
    ok = _masked_crc_of_u64(words) == crcs
    starts = cand[ok].astype(np.int64)
    lengths = words[ok].astype(np.int64)
    if starts.size == 0 or starts[0] != 0:
        return None
    ends = starts + 16 + lengths
    complete = ends <= n
    tail = n  # where the incomplete last record (the writer may still be appending) starts
    if not complete.all():
        last = int(np.argmin(complete))
        if complete[last:].any():
            return None
        tail = int(starts[last])
        starts, lengths, ends = starts[:last], lengths[:last], ends[:last]
    chain_end = int(ends[-1]) if starts.size else 0
    if not np.array_equal(ends[:-1], starts[1:]):
        return None
    # What follows the chain must be that incomplete record, or a header cut short.
    if chain_end != tail and not (tail == n and n - chain_end < 13):
        return None
    return starts, lengths


def _varints(buf: np.ndarray, pos: np.ndarray, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode protobuf varints at ``pos``: ``(values uint64, lengths)``; length 0 marks a
    varint longer than ``max_len`` bytes."""
    value = np.zeros(pos.shape, np.uint64)
    length = np.zeros(pos.shape, np.int64)
    going = np.ones(pos.shape, bool)
    safe_end = buf.size - 1
    for i in range(max_len):
        byte = buf[np.minimum(pos + i, safe_end)]
        value |= np.where(going, (byte & 0x7F).astype(np.uint64) << np.uint64(7 * i), 0)
        ends = going & (byte < 0x80)
        length = np.where(ends, i + 1, length)
        going &= ~ends
        if not going.any():
            break
    return value, length


def _group_tags(
    buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Group equal tag byte strings (at ``starts`` with ``lengths``): ``(id per record,
    names)``. A 64-bit hash groups them, then each record is compared with its group's
    first record byte for byte (an exact, slower grouping takes over on a collision)."""
    width = -(-int(lengths.max()) // 8) * 8
    cols = np.arange(width)
    raw = _rows(buf, starts, width)
    raw[cols[None, :] >= lengths[:, None]] = 0
    words = raw.view("<u8")  # (n, width / 8): tags compared eight bytes at a time
    h = lengths.astype(np.uint64)
    for c in range(words.shape[1]):
        h = (h * np.uint64(0x100000001B3)) ^ words[:, c]
    if (h == h[0]).all():
        first = np.zeros(1, np.int64)
        ids = np.zeros(h.size, np.int64)
    else:
        _, first, ids = np.unique(h, return_index=True, return_inverse=True)
        ids = ids.ravel()
    rep = first[ids]
    if not ((words == words[rep]).all(axis=1) & (lengths == lengths[rep])).all():
        keys = np.column_stack([words, lengths.astype(np.uint64)])
        _, first, ids = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        ids = ids.ravel()
    names = [raw[i, : lengths[i]].tobytes().decode("utf-8", "replace") for i in first.tolist()]
    return ids.astype(np.int64), names


def _fast_scalars(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> _Fast:
    """Decode the records that match the fast scalar encoder's bytes exactly."""
    s = starts + 12
    end = s + lengths
    last = buf.size - 1
    ok = (buf[s] == 0x09) & (lengths >= 25)
    wall = np.zeros(s.shape, np.float64)
    p = np.minimum(s + 9, last)
    has_step = buf[p] == 0x10
    step_raw, step_len = _varints(buf, np.minimum(p + 1, last), 10)
    ok &= ~has_step | (step_len > 0)
    step = np.where(has_step, step_raw, np.uint64(0)).view(np.int64)
    p = np.where(has_step, p + 1 + step_len, p)
    ok &= buf[np.minimum(p, last)] == 0x2A
    summary_len, n1 = _varints(buf, np.minimum(p + 1, last), 3)
    p = p + 1 + n1
    ok &= (n1 > 0) & (p + summary_len.astype(np.int64) == end)
    ok &= buf[np.minimum(p, last)] == 0x0A
    body_len, n2 = _varints(buf, np.minimum(p + 1, last), 3)
    p = p + 1 + n2
    ok &= (n2 > 0) & (p + body_len.astype(np.int64) == end)
    ok &= buf[np.minimum(p, last)] == 0x0A
    tag_len, n3 = _varints(buf, np.minimum(p + 1, last), 2)
    tag_start = p + 1 + n3
    tag_len = tag_len.astype(np.int64)
    ok &= (n3 > 0) & (tag_start + tag_len + 10 <= end)
    after = np.minimum(tag_start + tag_len, last - 10)
    for k, byte in enumerate(_TENSOR_PREFIX):
        ok &= buf[after + k] == byte
    value_end = after + 10
    plain = value_end == end
    with_meta = value_end + _SCALAR_METADATA.size == end
    if with_meta.any():
        meta_at = np.minimum(value_end, last - _SCALAR_METADATA.size)
        for k, byte in enumerate(_SCALAR_METADATA):
            with_meta &= buf[meta_at + k] == byte
    ok &= plain | with_meta
    idx = np.flatnonzero(ok)
    if idx.size:
        wall[idx] = _rows(buf, s[idx] + 1, 8).view("<f8").ravel()
    values = np.zeros(idx.size, np.float64)
    names: list[str] = []
    tag_ids = np.zeros(idx.size, np.int64)
    if idx.size:
        values = _rows(buf, after[idx] + 6, 4).view("<f4").ravel()
        tag_ids, names = _group_tags(buf, tag_start[idx], tag_len[idx])
    return _Fast(ok, idx, tag_ids, names, step[idx], wall[idx], values.astype(np.float64))


def _slow_record(
    payload: bytes,
    order: int,
    chunks: dict[str, _Chunks],
    restarts: list[tuple[int, int]],
    tag_filter: Callable[[str], bool],
) -> None:
    event = event_pb2.Event()
    event.ParseFromString(payload)
    what = event.WhichOneof("what")
    if what == "session_log" and event.session_log.status == event_pb2.SessionLog.START:
        restarts.append((order, event.step))
        return
    if what != "summary":
        return
    for value in event.summary.value:
        if not tag_filter(value.tag):
            continue
        c = chunks.setdefault(value.tag, _Chunks())
        if not c.plugin:
            kind = value.WhichOneof("value") or ""
            c.plugin = value.metadata.plugin_data.plugin_name or _LEGACY_PLUGINS.get(kind, kind)
        # A point of a scalar tag that is not one number (the rank-1 placeholders that
        # mark_resume writes before a START) reads as NaN; the START then drops it.
        number = scalar_value(value)
        c.slow.append((order, event.step, event.wall_time, math.nan if number is None else number))


def _scan_file(
    data: bytes,
    base: int,
    chunks: dict[str, _Chunks],
    restarts: list[tuple[int, int]],
    tag_filter: Callable[[str], bool],
) -> int:
    """Add one file's series to ``chunks``; record ``order`` numbers start at ``base``.
    Returns the number of records."""
    buf = np.frombuffer(data, dtype=np.uint8)
    framing = record_starts(buf)
    if framing is None:
        count = 0
        for _, payload in iter_records(data):
            _slow_record(payload, base + count, chunks, restarts, tag_filter)
            count += 1
        return count
    starts, lengths = framing
    fast = _fast_scalars(buf, starts, lengths)
    if len(fast.tags) == 1:
        by_tag = np.arange(fast.tag.size)
        bounds = np.array([0, fast.tag.size])
    else:
        by_tag = np.argsort(fast.tag, kind="stable")
        bounds = np.searchsorted(fast.tag[by_tag], np.arange(len(fast.tags) + 1))
    for tid, name in enumerate(fast.tags):
        if not tag_filter(name):
            continue
        sel = by_tag[bounds[tid] : bounds[tid + 1]]
        c = chunks.setdefault(name, _Chunks())
        c.plugin = c.plugin or "scalars"
        c.order.append(fast.idx[sel] + base)
        c.steps.append(fast.step[sel])
        c.walls.append(fast.wall[sel])
        c.values.append(fast.value[sel])
    for i in np.flatnonzero(~fast.mask).tolist():
        a = int(starts[i]) + 12
        _slow_record(data[a : a + int(lengths[i])], base + int(i), chunks, restarts, tag_filter)
    return int(starts.size)


def load_run(
    files: Iterable[bytes], tag_filter: Callable[[str], bool] | None = None
) -> dict[str, Series]:
    """Series of one run from its event files' bytes (in name order)."""
    keep = tag_filter or (lambda _tag: True)
    chunks: dict[str, _Chunks] = {}
    restarts: list[tuple[int, int]] = []
    base = 0
    for data in files:
        base += _scan_file(data, base, chunks, restarts, keep)
    out: dict[str, Series] = {}
    for tag, c in chunks.items():
        order, steps, walls, values = c.arrays()
        keep_mask = np.ones(order.shape, bool)
        for at, step in sorted(restarts)[1:]:
            keep_mask &= ~((order < at) & (steps >= step))
        out[tag] = Series(
            c.plugin,
            steps[keep_mask],
            walls[keep_mask],
            values[keep_mask] if c.plugin == "scalars" else None,
        )
    return out


def load(
    logdir: str,
    tag: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> dict[str, dict[str, Series]]:
    """``{run: {tag: Series}}`` for every run under ``logdir`` (local path or fsspec URL).

    ``tag``: a regular expression; only tags it matches (``re.search``) are kept.
    ``progress(done_bytes, total_bytes)`` is called after each file (from worker threads).
    ``workers``: threads decoding runs in parallel (default: CPU count, at most 8).
    Raises ``ValueError`` on an invalid ``tag`` pattern, ``FileNotFoundError`` when
    ``logdir`` does not exist.
    """
    pattern = None
    if tag is not None:
        try:
            pattern = re.compile(tag)
        except re.error as exc:
            raise ValueError(
                f"tag must be a valid regular expression, got {tag!r}: {exc}"
            ) from None
    storage = open_storage(logdir)
    if not storage.isdir(storage.root):
        raise FileNotFoundError(f"logdir {logdir!r} is not a directory")
    layout = list(storage.walk_event_files())
    sizes = {p: storage.size(p) for _, paths in layout for p in paths}
    total = sum(sizes.values())
    done = 0

    lock = threading.Lock()

    def files(paths: list[str]) -> Iterable[bytes]:
        nonlocal done
        for path in paths:
            data = storage.read(path)
            yield data or b""
            with lock:
                done += sizes[path]
                if progress is not None:
                    progress(done, total)

    filt: Callable[[str], bool] | None = None
    if pattern is not None:
        search = pattern.search
        filt = lambda name: search(name) is not None  # noqa: E731
    # numpy releases the GIL for the bulk of the work: runs are decoded on a few threads.
    workers = max(1, min(workers or os.cpu_count() or 1, 8, len(layout)))
    with ThreadPoolExecutor(workers) as pool:
        loaded = list(pool.map(lambda item: load_run(files(item[1]), filt), layout))
    return {
        run: series
        for (run, _), series in zip(layout, loaded, strict=True)
        if series or pattern is None
    }
