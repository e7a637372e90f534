"""Serialized ``Event`` records: generic builders and the fast scalar encoder.

The scalar encoder writes the bytes protobuf would produce for
``Event{wall_time, step, summary{value{tag, tensor{DT_FLOAT, float_val}, metadata}}}``
without building a message; ``tests/test_events.py`` checks byte equality.
"""

from __future__ import annotations

import struct
import time

from tblog.core.proto import event_pb2, summary_pb2

FILE_VERSION = "brain.Event:2"
SOURCE_WRITER = "tblog"

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
# Value.tensor: TensorProto{dtype: DT_FLOAT (08 01), float_val packed (2a 04 <f32>)}
_TENSOR_PREFIX = b"\x42\x08\x08\x01\x2a\x04"
# Value.metadata: SummaryMetadata{plugin_data{plugin_name: "scalars"}, data_class: SCALAR}
_SCALAR_METADATA = b"\x4a\x0d\x0a\x09\x0a\x07scalars\x20\x01"


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


class ScalarEncoder:
    """Encodes scalar events; attaches the scalars metadata on each tag's first value."""

    __slots__ = ("_prefix", "_seen")

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._prefix: dict[str, bytes] = {}

    def reset(self) -> None:
        """Forget which tags carried metadata (call when a new file is started)."""
        self._seen.clear()

    def encode(self, tag: str, value: float, step: int, wall_time: float) -> bytes:
        """Serialized Event bytes for one scalar."""
        prefix = self._prefix.get(tag)
        if prefix is None:
            raw = tag.encode("utf-8")
            prefix = self._prefix[tag] = b"\x0a" + varint(len(raw)) + raw + _TENSOR_PREFIX
        body = prefix + _FLOAT.pack(value)
        if tag not in self._seen:
            self._seen.add(tag)
            body += _SCALAR_METADATA
        summary = b"\x0a" + varint(len(body)) + body
        return (
            b"\x09"
            + _DOUBLE.pack(wall_time)
            + (b"\x10" + varint(step) if step else b"")
            + b"\x2a"
            + varint(len(summary))
            + summary
        )


def file_version_event(wall_time: float | None = None) -> bytes:
    """The first event of every file: ``file_version="brain.Event:2"`` plus our writer name."""
    event = event_pb2.Event(
        wall_time=time.time() if wall_time is None else wall_time, file_version=FILE_VERSION
    )
    event.source_metadata.writer = SOURCE_WRITER
    return event.SerializeToString()


def session_start_event(step: int, wall_time: float | None = None) -> bytes:
    """A ``SessionLog{status: START}`` at ``step``: TensorBoard's restart marker."""
    event = event_pb2.Event(wall_time=time.time() if wall_time is None else wall_time, step=step)
    event.session_log.status = event_pb2.SessionLog.START
    return event.SerializeToString()


def summary_event(summary: summary_pb2.Summary, step: int, wall_time: float) -> bytes:
    """Serialized Event holding ``summary`` at ``step``."""
    event = event_pb2.Event(wall_time=wall_time, step=step)
    event.summary.CopyFrom(summary)
    return event.SerializeToString()


def graph_event(graph_def: bytes, wall_time: float) -> bytes:
    """Serialized Event holding a serialized GraphDef."""
    return event_pb2.Event(wall_time=wall_time, graph_def=graph_def).SerializeToString()


def run_metadata_event(tag: str, run_metadata: bytes, step: int, wall_time: float) -> bytes:
    """Serialized Event holding a TaggedRunMetadata (graph plugin profile data)."""
    event = event_pb2.Event(wall_time=wall_time, step=step)
    event.tagged_run_metadata.tag = tag
    event.tagged_run_metadata.run_metadata = run_metadata
    return event.SerializeToString()
