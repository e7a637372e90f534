"""Scalar events decoded without protobuf, a whole file at a time (numpy).

The records that are one scalar event in the layouts tblog, torch and tensorboardX write
(``simple_value`` or a DT_FLOAT rank-0 tensor, with no metadata or tblog's scalar
metadata) give (tag, step, wall time, value); every other record is left to protobuf.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tblog.core.format.decode import Frames, rows, varint_at

_TENSOR_SCALAR = np.frombuffer(b"\x42\x08\x08\x01\x2a\x04", dtype=np.uint8)
_SCALAR_METADATA = np.frombuffer(b"\x4a\x0d\x0a\x09\x0a\x07scalars\x20\x01", dtype=np.uint8)


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


def group_tags(
    buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Group equal byte strings (at ``starts`` with ``lengths``): ``(id per string,
    names)``. A 64-bit hash groups them, then each is compared with its group's first
    byte for byte (an exact, slower grouping takes over on a collision)."""
    width = -(-int(lengths.max()) // 8) * 8
    cols = np.arange(width)
    raw = rows(buf, starts, width)
    raw[cols[None, :] >= lengths[:, None]] = 0
    words = raw.view("<u8")
    h = lengths.astype(np.uint64)
    for c in range(words.shape[1]):
        h = (h * np.uint64(0x100000001B3)) ^ words[:, c]
    ids = np.full(h.size, -1, np.int64)
    firsts: list[int] = []
    left = np.arange(h.size)
    rest = h
    while left.size and len(firsts) < 64:  # few distinct tags: one pass per tag
        same = rest == rest[0]
        ids[left[same]] = len(firsts)
        firsts.append(int(left[0]))
        left, rest = left[~same], rest[~same]
    if left.size:
        _, first, ids = np.unique(h, return_index=True, return_inverse=True)
        ids = ids.ravel()
    else:
        first = np.array(firsts, np.int64)
    rep = first[ids]
    if not ((words == words[rep]).all(axis=1) & (lengths == lengths[rep])).all():
        keys = np.column_stack([words, lengths.astype(np.uint64)])
        _, first, ids = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        ids = ids.ravel()
    names = [raw[i, : lengths[i]].tobytes().decode("utf-8", "replace") for i in first.tolist()]
    return ids.astype(np.int64), names


@dataclass
class FastScalars:
    """Records of one file that are one scalar event each: ``mask`` over the records;
    for the matched ones (``idx``), tag id (into ``tags``), step, wall time, value, and
    whether the value names its plugin (``simple_value`` or metadata: ``ident``) and is
    a ``simple_value`` (``simple``)."""

    mask: np.ndarray
    idx: np.ndarray
    tag: np.ndarray
    tags: list[str]
    step: np.ndarray
    wall: np.ndarray
    value: np.ndarray
    ident: np.ndarray
    simple: np.ndarray


def fast_scalars(buf: np.ndarray, fr: Frames) -> FastScalars:
    """Decode the records of ``fr`` that are a single scalar event, without protobuf:
    ``Event{wall_time, step?, summary{value{tag, simple_value | tensor{DT_FLOAT, one
    float_val}, metadata?}}}`` with no metadata or exactly tblog's scalar metadata.

    Records of one length that differ from the first only in its wall time, step and
    value bytes (one tag's points, as every writer writes them) are read straight from
    those columns; the others go through the general vectorized parse."""
    n = fr.starts.size
    done = np.zeros(n, bool)
    parts: list[tuple[np.ndarray, str, np.ndarray, np.ndarray, np.ndarray, bool, bool]] = []
    if n >= 256:
        counts = np.bincount(np.minimum(fr.lengths, 4096))[:4096]
        for length in np.flatnonzero(counts >= 256).tolist():
            idx = np.flatnonzero(fr.lengths == length)
            for _ in range(8):  # a few layouts per length (tags x step varint lengths)
                part = _same_layout(buf, fr.starts[idx] + 12, length)
                if part is None:
                    idx = idx[1:]
                else:
                    ok = part[0]
                    done[idx[ok]] = True
                    parts.append((idx[ok], *part[1:]))
                    idx = idx[~ok]
                if idx.size < 256:
                    break
    rest = np.flatnonzero(~done)
    general = _general(buf, fr.starts[rest], fr.lengths[rest])
    if not parts:
        return general
    names = list(general.tags)
    tag_ids = [general.tag]
    for _, name, *_ in parts:
        if name not in names:
            names.append(name)
    mask = done.copy()
    mask[rest[general.mask]] = True
    for idx, name, _, _, _, _, _ in parts:
        tag_ids.append(np.full(idx.size, names.index(name), np.int64))
    return FastScalars(
        mask,
        np.concatenate([rest[general.idx], *(p[0] for p in parts)]),
        np.concatenate(tag_ids),
        names,
        np.concatenate([general.step, *(p[2] for p in parts)]),
        np.concatenate([general.wall, *(p[3] for p in parts)]),
        np.concatenate([general.value, *(p[4] for p in parts)]),
        np.concatenate([general.ident, *(np.full(p[0].size, p[5]) for p in parts)]),
        np.concatenate([general.simple, *(np.full(p[0].size, p[6]) for p in parts)]),
    )


def _layout(data: bytes) -> tuple[int, int, int, int, bool, bool, str] | None:
    """Where one scalar record keeps (wall time, step start, step length, value) and
    whether it is a ``simple_value`` / names its plugin, and its tag; ``None`` when it is
    no such record (the pure-Python twin of :func:`_general`, for one record)."""

    end = len(data)
    if end < 20 or data[0] != 0x09:
        return None
    p = step_at = 9
    step_len = 0
    if data[p] == 0x10:
        _, q = varint_at(data, p + 1)
        step_at, step_len, p = p + 1, q - p - 1, q
    # slices, not indexing: a broken varint leaves p past the end
    for tag_byte in (b"\x2a", b"\x0a"):
        if data[p : p + 1] != tag_byte:
            return None
        size, p = varint_at(data, p + 1)
        if size < 0 or p + size != end:
            return None
    if data[p : p + 1] != b"\x0a":
        return None
    tag_len, p = varint_at(data, p + 1)
    if tag_len < 0:
        return None
    tag = data[p : p + tag_len]
    p += tag_len
    simple = data[p : p + 1] == b"\x15"
    if not simple and data[p : p + 6] != _TENSOR_SCALAR.tobytes():
        return None
    value_at = p + (1 if simple else 6)
    tail = data[value_at + 4 :]
    if tail not in (b"", _SCALAR_METADATA.tobytes()):
        return None
    return (
        1,
        step_at,
        step_len,
        value_at,
        simple,
        simple or bool(tail),
        tag.decode("utf-8", "replace"),
    )


def _same_layout(
    buf: np.ndarray, starts: np.ndarray, length: int
) -> tuple[np.ndarray, str, np.ndarray, np.ndarray, np.ndarray, bool, bool] | None:
    """Decode equal-length records laid out as the first one (see :func:`fast_scalars`):
    ``(ok mask, tag, steps, walls, values, ident, simple)``, or ``None``."""
    block = rows(buf, starts, length)
    layout = _layout(block[0].tobytes())
    if layout is None:
        return None
    wall_at, step_at, step_len, value_at, simple, ident, tag = layout
    free = np.zeros(length, bool)
    for a, k in ((wall_at, 8), (step_at, step_len), (value_at, 4)):
        free[a : a + k] = True
    ok = ~(block[:, ~free] != block[0, ~free]).any(axis=1)
    step = np.zeros(starts.size, np.uint64)
    for j in range(step_len):
        byte = block[:, step_at + j]
        ok &= (byte >= 0x80) if j < step_len - 1 else (byte < 0x80)
        step |= (byte & 0x7F).astype(np.uint64) << np.uint64(7 * j)
    walls = block[:, wall_at : wall_at + 8].copy().view("<f8").ravel()
    values = block[:, value_at : value_at + 4].copy().view("<f4").ravel().astype(np.float64)
    return ok, tag, step.view(np.int64)[ok], walls[ok], values[ok], ident, simple


def _general(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> FastScalars:
    """The vectorized parse behind :func:`fast_scalars`, for records of any layout."""
    s = starts + 12
    end = s + lengths
    last = max(buf.size - 1, 0)
    ok = (lengths >= 20) & (buf[np.minimum(s, last)] == 0x09)
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
    ok &= (n3 > 0) & (tag_start + tag_len + 5 <= end)
    after = np.minimum(tag_start + tag_len, max(last - 10, 0))
    simple = buf[after] == 0x15
    tensor = np.ones(after.shape, bool)
    for k, byte in enumerate(_TENSOR_SCALAR):
        tensor &= buf[after + k] == byte
    value_end = np.where(simple, after + 5, after + 10)
    ok &= simple | tensor
    plain = value_end == end
    meta = value_end + _SCALAR_METADATA.size == end
    if meta.any():
        at = np.minimum(value_end, max(last - _SCALAR_METADATA.size, 0))
        for k, byte in enumerate(_SCALAR_METADATA):
            meta &= buf[at + k] == byte
    ok &= plain | meta
    idx = np.flatnonzero(ok)
    wall = rows(buf, s[idx] + 1, 8).view("<f8").ravel() if idx.size else np.zeros(0)
    tag_ids = np.zeros(idx.size, np.int64)
    names: list[str] = []
    values = np.zeros(idx.size, np.float64)
    if idx.size:
        at = np.where(simple[idx], after[idx] + 1, after[idx] + 6)
        values = rows(buf, at, 4).view("<f4").ravel().astype(np.float64)
        tag_ids, names = group_tags(buf, tag_start[idx], tag_len[idx])
    return FastScalars(
        ok,
        idx,
        tag_ids,
        names,
        step[idx],
        np.asarray(wall, np.float64),
        values,
        (meta | simple)[idx],
        simple[idx],
    )
