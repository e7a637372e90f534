"""Decoding event files: record framing found with numpy and checksums verified, with
the clean prefix of a damaged file kept, as TensorBoard's loaders keep it.

The framing and CRC are the writer's (``records.py``, ``crc32c.py``); this module only
adds what reading needs:

- :func:`frames` finds the records of one file's bytes. Record starts are found with numpy
  (a length whose masked CRC-32C matches the next four bytes, chained from byte 0); where
  the chain breaks, the file is walked record by record from there. Data checksums are
  verified for every record (vectorized per record length). The first bad record ends the
  file, as in TensorBoard's loaders: the clean prefix is kept and ``Frames.damage`` says
  where and why (the caller warns with :class:`DataLossWarning`).
- :func:`tblog.core.format.decode_scalars.fast_scalars` decodes, without protobuf, the
  records that are one scalar event in the layouts tblog, torch and tensorboardX write.

How a decoded ``Summary.Value`` is read is :mod:`tblog.core.read.values`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from tblog.core.format.crc32c import crc32c, mask_array, masked_crc32c, shift_table
from tblog.core.format.records import DataLossError, iter_records

_LEN = struct.Struct("<Q")
_CRC = struct.Struct("<I")
# A length this large is no record: protobuf messages are below 2 GiB.
MAX_RECORD = 1 << 31


def varint_at(data: bytes, pos: int) -> tuple[int, int]:
    """The protobuf varint at ``pos`` of ``data`` and the position after it; ``(-1,
    len(data) + 1)`` when no whole varint of at most 10 bytes starts there (a position no
    field can be read at)."""
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if byte < 0x80:
            return value, pos
    return -1, len(data) + 1


class DataLossWarning(UserWarning):
    """An event file holds a corrupt or cut-off record; what precedes it was read."""


@dataclass
class Frames:
    """The complete, checksum-valid records of one file: header ``starts`` and payload
    ``lengths`` (int64), and ``damage`` (``None``, or why the read stopped and at which
    byte). ``truncated`` marks damage that a live writer's partial record causes."""

    starts: np.ndarray
    lengths: np.ndarray
    damage: str | None = None
    truncated: bool = False

    def payload(self, data: bytes, i: int) -> bytes:
        a = int(self.starts[i]) + 12
        return data[a : a + int(self.lengths[i])]


def rows(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """``buf[start : start + width]`` for every start, as a new ``(n, width)`` array;
    bytes past the end of ``buf`` read as 0."""
    over = starts + width > buf.size
    if buf.size < width:
        out = np.zeros((starts.size, width), np.uint8)
    else:
        windows = np.lib.stride_tricks.sliding_window_view(buf, width)
        out = windows[np.where(over, 0, starts)]
    if over.any():
        i = np.flatnonzero(over)
        idx = starts[i, None] + np.arange(width)
        out[i] = np.where(idx < buf.size, buf[np.clip(idx, 0, max(buf.size - 1, 0))], 0)
    return out


def masked_crcs(buf: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Masked CRC-32C of ``buf[s : s + length]`` for every ``s`` in ``starts`` (uint32).

    CRC-32C is affine in the message bytes: each message's CRC is the first one's,
    updated by one table gather per byte position where the messages differ (records
    of one writer differ only in a few bytes: wall time, step, value)."""
    table = shift_table(max(length, 1))
    out = np.empty(starts.size, np.uint32)
    step = max(1, (1 << 22) // max(length, 1))
    for a in range(0, starts.size, step):
        block = rows(buf, starts[a : a + step], length)
        first = block[0]
        acc = np.full(block.shape[0], crc32c(first.tobytes()), np.uint32)
        for c in np.flatnonzero((block != first).any(axis=0)).tolist():
            row = table[length - 1 - c]
            acc ^= row[block[:, c]] ^ row[first[c]]
        out[a : a + step] = acc
    return np.asarray(mask_array(out), np.uint32)


def _candidates(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets whose 12 bytes are a valid record header followed by an Event's first
    field (wall_time, 0x09), and their lengths."""
    n = buf.size
    if n < 13:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cand = np.flatnonzero(buf[12:] == 0x09)
    for k in (4, 5, 6, 7):
        cand = cand[buf[cand + k] == 0]
    head = rows(buf, cand, 12)
    words = head[:, :8].copy().view("<u8").ravel()
    crcs = head[:, 8:].copy().view("<u4").ravel()
    ok = masked_crcs(head.ravel(), np.arange(cand.size, dtype=np.int64) * 12, 8) == crcs
    return cand[ok].astype(np.int64), words[ok].astype(np.int64)


def _walk(
    data: bytes, pos: int, base: int = 0
) -> tuple[list[int], list[int], str | None, int, bool]:
    """Walk records from ``pos`` with the writer's framing (``records.iter_records``, header
    checksums only): ``(starts, lengths, damage, damage offset, cut off)``; messages name
    byte offsets plus ``base``."""
    starts: list[int] = []
    lengths: list[int] = []
    last = 0
    try:
        for after, payload in iter_records(data[pos:] if pos else data, check_crc=False):
            starts.append(pos + last)
            lengths.append(len(payload))
            last = after
    except DataLossError:
        at = pos + last
        return starts, lengths, f"corrupt record length at byte {base + at}", at, False
    at = pos + last
    left = len(data) - at
    if left <= 0:
        return starts, lengths, None, at, False
    if left < 12:
        return starts, lengths, f"record header cut off at byte {base + at}", at, True
    (length,) = _LEN.unpack_from(data, at)
    if length >= MAX_RECORD:
        why = f"impossible record length {length} at byte {base + at}"
        return starts, lengths, why, at, False
    why = f"record at byte {base + at} cut off ({length} bytes announced, {left - 12} left)"
    return starts, lengths, why, at, True


def frames(data: bytes, *, check_crc: bool = True, base: int = 0) -> Frames:
    """The records of one event file's bytes (see the module docstring); ``base``: the
    file offset of ``data[0]`` (for a block of a file read in chunks), added to the byte
    offsets that ``Frames.damage`` names (``starts`` stay relative to ``data``)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    starts, lengths = _candidates(buf)
    ends = starts + 16 + lengths
    # The chain from byte 0: candidates whose start is the previous one's end.
    good = 0
    if starts.size and starts[0] == 0:
        breaks = np.flatnonzero(ends[:-1] != starts[1:])
        good = int(breaks[0]) + 1 if breaks.size else int(starts.size)
        while good and ends[good - 1] > buf.size:
            good -= 1
    out_s, out_l = starts[:good], lengths[:good]
    pos = int(ends[good - 1]) if good else 0
    damage: str | None = None
    cut = False
    if pos < buf.size:
        more_s, more_l, damage, _, cut = _walk(data, pos, base)
        if more_s:
            out_s = np.concatenate([out_s, np.array(more_s, np.int64)])
            out_l = np.concatenate([out_l, np.array(more_l, np.int64)])
    result = Frames(out_s, out_l, damage, cut)
    if check_crc and out_s.size:
        _check_data(data, buf, result, base)
    return result


def _check_data(data: bytes, buf: np.ndarray, fr: Frames, base: int = 0) -> None:
    """Verify every record's data CRC; cut ``fr`` at the first bad one."""
    bad = fr.starts.size
    for length in np.unique(fr.lengths).tolist():
        idx = np.flatnonzero(fr.lengths == length)
        if idx[0] >= bad:
            continue
        s = fr.starts[idx] + 12
        if idx.size >= 16 and length <= 512:
            stored = rows(buf, s + length, 4).view("<u4").ravel()
            wrong = np.flatnonzero(masked_crcs(buf, s, length) != stored)
            if wrong.size:
                bad = min(bad, int(idx[wrong[0]]))
            continue
        for i, a in zip(idx.tolist(), s.tolist(), strict=True):
            if i >= bad:
                break
            (stored1,) = _CRC.unpack_from(data, a + length)
            if masked_crc32c(data[a : a + length]) != stored1:
                bad = i
                break
    if bad < fr.starts.size:
        fr.damage = f"corrupt record data at byte {base + int(fr.starts[bad])}"
        fr.truncated = False
        fr.starts, fr.lengths = fr.starts[:bad], fr.lengths[:bad]
