"""Serialized ``Event`` records: generic builders and the fast scalar encoders.

The scalar encoders write the bytes protobuf would produce for
``Event{wall_time, step, summary{value{tag, simple_value}}}`` (torch's encoding) or
``Event{wall_time, step, summary{value{tag, tensor{DT_FLOAT, float_val}, metadata}}}``
(tf.summary's) without building a message; ``tests/core/test_events.py`` and
``tests/core/test_perf_invariants.py`` check byte equality. ``ScalarEncoder.frames`` encodes and frames a whole batch with numpy:
records of equal length are built as rows of one ``uint8`` matrix from a per-tag template,
and their CRCs are computed from the template's CRC plus one table gather per varying byte.

Nothing here imports protobuf until a protobuf-backed builder is called, so creating a
writer and logging scalars never pays for it.
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from tblog.core.format import crc32c as _crc
from tblog.core.format import records

if TYPE_CHECKING:
    from tblog.core.proto import summary_pb2

FILE_VERSION = "brain.Event:2"
SOURCE_WRITER = "tblog"

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
_LEN = struct.Struct("<Q")
_CRC = struct.Struct("<I")
# Value.tensor: TensorProto{dtype: DT_FLOAT (08 01), float_val packed (2a 04 <f32>)}
_TENSOR_PREFIX = b"\x42\x08\x08\x01\x2a\x04"
# Value.metadata: SummaryMetadata{plugin_data{plugin_name: "scalars"}, data_class: SCALAR}
_SCALAR_METADATA = b"\x4a\x0d\x0a\x09\x0a\x07scalars\x20\x01"
# Thresholds at which a uint64 varint grows by one byte: 2**7, 2**14, ..., 2**63.
_VARINT_LIMITS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)
_U8 = np.uint8


def varint(n: int) -> bytes:
    """Protobuf varint of ``n`` (negative int64 values take ten bytes, as in protobuf)."""
    if n < 0:
        n += 1 << 64
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _wall_field(wall_time: float) -> bytes:
    """Event.wall_time (field 1, double); proto3 leaves out an all-zero-bits value."""
    raw = _DOUBLE.pack(wall_time)
    return b"" if raw == b"\0" * 8 else b"\x09" + raw


def _float_bytes(value: float) -> bytes:
    """float32 little-endian bytes of ``value``, rounding as protobuf does (inf on overflow)."""
    try:
        return _FLOAT.pack(value)
    except OverflowError:
        return _FLOAT.pack(float("inf") if value > 0 else float("-inf"))


# Scalar encodings: how ``Summary.Value`` holds the number.
SIMPLE_VALUE = 0  # simple_value (field 2, float): torch's writer, tbparse, EventAccumulator
TENSOR = 1  # tensor{DT_FLOAT} + scalars metadata: tf.summary, Keras
# The step of the START that opens a fresh run directory. TensorBoard's Python loader
# ignores a run's first START and purges on each later one (points at steps >= its step), so
# a run needs one START before a resume's can purge. At the largest int64 step it purges
# nothing wherever it lands: several writers that open one empty directory at once each
# write one (none can know it is first), and none drops another's points.
NO_PURGE_STEP = (1 << 63) - 1
_VALUE_PREFIX = {SIMPLE_VALUE: b"\x15", TENSOR: _TENSOR_PREFIX}


class ScalarEncoder:
    """Encodes the scalar events of one event file in one encoding.

    ``encoding``: :data:`SIMPLE_VALUE` (no metadata, as torch writes it) or :data:`TENSOR`
    (a DT_FLOAT tensor with the scalars metadata on each tag's first value in the file, or
    on every value with ``metadata_every=True``, as tf.summary writes it). ``encode`` takes
    one scalar; ``frames`` takes a batch as numpy arrays and returns framed records.
    """

    __slots__ = (
        "_first_tail",
        "_ids",
        "_mid",
        "_mid_len",
        "_prefix",
        "_seen",
        "_tags",
        "_tail",
        "_templates",
    )

    def __init__(self, encoding: int = TENSOR, *, metadata_every: bool = False) -> None:
        if encoding not in _VALUE_PREFIX:
            raise ValueError(f"encoding must be SIMPLE_VALUE or TENSOR, got {encoding!r}")
        self._prefix = _VALUE_PREFIX[encoding]
        tensor = encoding == TENSOR
        # _tail: bytes after the float on every event; _first_tail: on a tag's first only
        self._tail = _SCALAR_METADATA if tensor and metadata_every else b""
        self._first_tail = _SCALAR_METADATA if tensor and not metadata_every else None
        self._seen: set[str] = set()
        self._ids: dict[str, int] = {}
        self._tags: list[str] = []
        self._mid: list[bytes] = []
        self._mid_len = np.zeros(0, dtype=np.int64)
        self._templates: dict[tuple[int, int], tuple[np.ndarray, int]] = {}

    # ---------------------------------------------------------------- one event
    def encode(self, tag: str, value: float, step: int, wall_time: float) -> bytes:
        """Serialized Event bytes for one scalar (``step`` an int64, ``value`` a float)."""
        if not -(1 << 63) <= step < (1 << 63):
            raise ValueError(f"step must fit in int64 (Event.step), got {step}")
        tid = self._ids.get(tag)
        if tid is None:
            tid = self._register(tag)
        tail = self._tail
        if self._first_tail is None or tag in self._seen:
            middle = self._mid[tid]
        else:
            self._seen.add(tag)
            tail = self._first_tail
            middle = self._middle(tag, len(tail))
        return (
            _wall_field(wall_time)
            + (b"\x10" + varint(step) if step else b"")
            + middle
            + _float_bytes(value)
            + tail
        )

    def _register(self, tag: str) -> int:
        middle = self._middle(tag, len(self._tail))  # raises for tags UTF-8 cannot encode
        tid = len(self._tags)
        self._ids[tag] = tid
        self._tags.append(tag)
        self._mid.append(middle)
        self._mid_len = np.append(self._mid_len, len(middle))
        return tid

    def _middle(self, tag: str, extra: int) -> bytes:
        """Event bytes from the summary key up to the float value (``extra``: bytes after it)."""
        raw = tag.encode("utf-8")
        value = b"\x0a" + varint(len(raw)) + raw + self._prefix
        body_len = len(value) + 4 + extra  # Summary.Value
        summary_len = 1 + len(varint(body_len)) + body_len  # Summary{value}
        return b"\x2a" + varint(summary_len) + b"\x0a" + varint(body_len) + value

    # ---------------------------------------------------------------- a batch
    def frames(
        self, tags: list[str], values: np.ndarray, steps: np.ndarray, walls: np.ndarray
    ) -> bytes:
        """TFRecord-framed scalar events for ``len(tags)`` scalars.

        ``values``/``walls``: float64 arrays, ``steps``: int64 array, all of ``len(tags)``.
        Records of one tag keep their order; records of different tags may be grouped
        (TensorBoard keeps a series per tag, so it reads the same data either way).
        """
        return b"".join(self.frame_parts(tags, values, steps, walls))

    def frame_parts(
        self, tags: list[str], values: np.ndarray, steps: np.ndarray, walls: np.ndarray
    ) -> list[Any]:
        """Like :meth:`frames`, as a list of bytes-like pieces to concatenate (no copy)."""
        n = len(tags)
        if not n:
            return []
        values = np.ascontiguousarray(values, dtype=np.float64)
        steps = np.ascontiguousarray(steps, dtype=np.int64)
        walls = np.ascontiguousarray(walls, dtype=np.float64)
        ids = self._ids
        try:
            tid_list = list(map(ids.__getitem__, tags))
        except KeyError:
            for tag in tags:
                if tag not in ids:
                    self._register(tag)
            tid_list = list(map(ids.__getitem__, tags))
        tid = np.array(tid_list, dtype=np.int64)
        sizes = np.searchsorted(_VARINT_LIMITS, steps.view(np.uint64), side="right") + 2
        sizes[steps == 0] = 0
        wall_bits = walls.view(np.uint64)
        if not wall_bits.all() or not _tag_sizes_ordered(tid, sizes):
            return [self._frames_one_by_one(tags, values, steps, walls)]
        head: list[Any] = []
        keep = None
        if self._first_tail is not None:
            keep = self._take_first_values(tid, tags, values, steps, walls, head)
        if keep is not None:
            tid, sizes = tid[keep], sizes[keep]
            values, steps, walls = values[keep], steps[keep], walls[keep]
            if not len(tid):
                return head
        # 12 header + 9 wall + step + mid + 4 value + tail + 4 CRC
        lengths = 29 + len(self._tail) + sizes + self._mid_len[tid]
        longest = int(lengths.max())
        scale = 4096 if longest < 4096 else longest + 1
        keys = sizes * scale + lengths  # classes ordered by step size: keeps each tag's order
        first = int(keys[0])
        if bool((keys == first).all()):
            head.append(self._rows(tid, *divmod(first, scale), values, steps, walls))
            return head
        order = np.argsort(keys.astype(np.uint16) if scale == 4096 else keys, kind="stable")
        sorted_keys = keys[order]
        cuts = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), len(order)]
        for a, b in zip(starts, ends, strict=True):
            idx = order[a:b]
            size, length = divmod(int(sorted_keys[a]), scale)
            head.append(self._rows(tid[idx], size, length, values[idx], steps[idx], walls[idx]))
        return head

    def _take_first_values(
        self,
        tid: np.ndarray,
        tags: list[str],
        values: np.ndarray,
        steps: np.ndarray,
        walls: np.ndarray,
        out: list[Any],
    ) -> np.ndarray | None:
        """Encode the first value of each tag new to this file (with metadata) into ``out``;
        return the mask of the remaining events, or ``None`` when every tag was seen."""
        seen = self._seen
        present = np.flatnonzero(np.bincount(tid))
        new = [int(t) for t in present if self._tags[t] not in seen]
        if not new:
            return None
        keep = np.ones(len(tid), dtype=bool)
        firsts = sorted(int(np.argmax(tid == t)) for t in new)
        for i in firsts:
            keep[i] = False
            data = self.encode(tags[i], float(values[i]), int(steps[i]), float(walls[i]))
            out.append(records.frame(data))
        return keep

    def _template(self, tid: int, size: int) -> tuple[np.ndarray, int]:
        """Record template of tag ``tid`` with a ``size``-byte step field: (row, data CRC)."""
        key = (tid, size)
        cached = self._templates.get(key)
        if cached is not None:
            return cached
        step = b"\x10" + b"\0" * (size - 1) if size else b""
        data = b"\x09" + b"\0" * 8 + step + self._mid[tid] + b"\0" * 4 + self._tail
        header = _LEN.pack(len(data))
        row = header + _CRC.pack(_crc.masked_crc32c(header)) + data + b"\0" * 4
        template = np.frombuffer(row, dtype=_U8).copy()
        crc = _crc.crc32c(data)
        self._templates[key] = cached = (template, crc)
        return cached

    def _rows(
        self,
        tid: np.ndarray,
        size: int,
        length: int,
        values: np.ndarray,
        steps: np.ndarray,
        walls: np.ndarray,
    ) -> memoryview:
        """Framed records of one class (``size``-byte step field, ``length``-byte records)."""
        k = len(tid)
        t0 = int(tid[0])
        if bool((tid == t0).all()):
            row, base = self._template(t0, size)
            m = np.empty((k, length), dtype=_U8)
            m[:] = row
            crc: Any = np.full(k, base, dtype=np.uint32)
        else:
            uniq = np.flatnonzero(np.bincount(tid))
            lookup = np.zeros(int(uniq[-1]) + 1, dtype=np.intp)
            lookup[uniq] = np.arange(len(uniq))
            inverse = lookup[tid]
            pairs = [self._template(int(t), size) for t in uniq]
            m = np.stack([p[0] for p in pairs])[inverse]
            crc = np.array([p[1] for p in pairs], dtype=np.uint32)[inverse]
        data_len = length - 16
        table = _crc.shift_table(data_len)
        # wall_time: data bytes 1..8
        wall = walls.view(_U8).reshape(k, 8)
        m[:, 13:21] = wall
        for j in range(8):
            crc ^= table[data_len - 2 - j][wall[:, j]]
        # step varint: data bytes 10 .. 10 + size - 2
        if size:
            u = steps.view(np.uint64)
            last = size - 2
            for j in range(size - 1):
                byte = ((u >> np.uint64(7 * j)) & np.uint64(0x7F)).astype(_U8)
                if j < last:
                    byte |= 0x80
                m[:, 22 + j] = byte
                crc ^= table[data_len - 11 - j][byte]
        # value: the 4 data bytes before the tail (part of the template)
        tl = len(self._tail)
        with np.errstate(over="ignore"):
            value = values.astype(np.float32).view(_U8).reshape(k, 4)
        m[:, length - 8 - tl : length - 4 - tl] = value
        for j in range(4):
            crc ^= table[3 - j + tl][value[:, j]]
        m[:, length - 4 :] = _crc.mask_array(crc).view(_U8).reshape(k, 4)
        return m.reshape(-1).data

    def _frames_one_by_one(
        self, tags: list[str], values: np.ndarray, steps: np.ndarray, walls: np.ndarray
    ) -> bytes:
        encode = self.encode
        return records.frame_many(
            [
                encode(tag, value, step, wall)
                for tag, value, step, wall in zip(
                    tags, values.tolist(), steps.tolist(), walls.tolist(), strict=True
                )
            ]
        )


def _tag_sizes_ordered(tid: np.ndarray, sizes: np.ndarray) -> bool:
    """True when each tag's step-field sizes never decrease (so grouping keeps its order)."""
    if len(sizes) < 2 or bool((sizes[1:] >= sizes[:-1]).all()):
        return True
    order = np.argsort(tid, kind="stable")
    t, s = tid[order], sizes[order]
    return not bool(((t[1:] == t[:-1]) & (s[1:] < s[:-1])).any())


def file_version_event(wall_time: float | None = None) -> bytes:
    """The first event of every file: ``file_version="brain.Event:2"`` plus our writer name."""
    wall = time.time() if wall_time is None else wall_time
    version = FILE_VERSION.encode()
    writer = SOURCE_WRITER.encode()
    source = b"\x0a" + varint(len(writer)) + writer
    return (
        _wall_field(wall)
        + b"\x1a"
        + varint(len(version))
        + version
        + b"\x52"
        + varint(len(source))
        + source
    )


def session_start_event(step: int, wall_time: float | None = None) -> bytes:
    """A ``SessionLog{status: START}`` at ``step``: TensorBoard's restart marker."""
    wall = time.time() if wall_time is None else wall_time
    return _wall_field(wall) + (b"\x10" + varint(step) if step else b"") + b"\x3a\x02\x08\x01"


def summary_event(summary: summary_pb2.Summary, step: int, wall_time: float) -> bytes:
    """Serialized Event holding ``summary`` at ``step``."""
    from tblog.core.proto import event_pb2

    event = event_pb2.Event(wall_time=wall_time, step=step)
    event.summary.CopyFrom(summary)
    data: bytes = event.SerializeToString()
    return data


def graph_event(graph_def: bytes, wall_time: float) -> bytes:
    """Serialized Event holding a serialized GraphDef."""
    from tblog.core.proto import event_pb2

    data: bytes = event_pb2.Event(wall_time=wall_time, graph_def=graph_def).SerializeToString()
    return data


def run_metadata_event(tag: str, run_metadata: bytes, step: int, wall_time: float) -> bytes:
    """Serialized Event holding a TaggedRunMetadata (graph plugin profile data)."""
    from tblog.core.proto import event_pb2

    event = event_pb2.Event(wall_time=wall_time, step=step)
    event.tagged_run_metadata.tag = tag
    event.tagged_run_metadata.run_metadata = run_metadata
    data: bytes = event.SerializeToString()
    return data
