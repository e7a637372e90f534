"""Reading log dirs back: ``tblog.read`` (runs and events) and ``tblog.scalars`` (a DataFrame).

Used by tests, examples and the CLI. TensorBoard itself remains the judge of what we
write; this reader only has to agree with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from tblog.core.format.records import DataLossError, iter_records
from tblog.core.proto import event_pb2
from tblog.core.write.storage import open_storage


def runs(logdir: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """Names of the runs under ``logdir`` (``"."`` for event files directly in it)."""
    storage = open_storage(logdir, storage_options)
    return [run for run, _ in storage.walk_event_files()]


def read(
    logdir: str, *, check_crc: bool = True, storage_options: dict[str, Any] | None = None
) -> Iterator[tuple[str, event_pb2.Event]]:
    """Yield ``(run, Event)`` for every event in every run under ``logdir``.

    Files are read in name order within a run; a truncated final record is skipped.
    Raises ``tblog.DataLossError`` on a corrupt record (and on nothing else for bad data).
    """
    storage = open_storage(logdir, storage_options)
    for run, paths in storage.walk_event_files():
        for path in paths:
            data = storage.read(path)
            if data is None:
                continue
            for event in parse_events(data, check_crc=check_crc, source=path):
                yield run, event


def parse_events(
    data: bytes, *, check_crc: bool = True, source: str = "event file"
) -> Iterator[event_pb2.Event]:
    """Yield the Events of one event file's bytes; a truncated final record is skipped.

    Raises ``tblog.DataLossError`` (naming ``source``) on a corrupt or undecodable record.
    """
    for offset, payload in iter_records(data, check_crc=check_crc):
        event = event_pb2.Event()
        try:
            event.ParseFromString(payload)
        except DecodeError as exc:
            raise DataLossError(f"{source}: undecodable event ending at byte {offset}") from exc
        yield event


def scalar_value(value: Any) -> float | None:
    """The float of a Summary.Value holding a scalar (``simple_value`` or a one-element
    numeric tensor), else ``None``."""
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind != "tensor":
        return None
    plugin = value.metadata.plugin_data.plugin_name
    tensor = value.tensor
    if plugin not in ("", "scalars") or tensor.dtype == 7 or tensor.tensor_shape.dim:
        return None
    if tensor.float_val:
        return float(tensor.float_val[0])
    if tensor.double_val:
        return float(tensor.double_val[0])
    if tensor.int_val:
        return float(tensor.int_val[0])
    if tensor.int64_val:
        return float(tensor.int64_val[0])
    if tensor.tensor_content and tensor.dtype in (1, 2):
        dtype = np.float32 if tensor.dtype == 1 else np.float64
        return float(np.frombuffer(tensor.tensor_content, dtype=dtype)[0])
    return None


def iter_scalars(logdir: str) -> Iterator[tuple[str, str, int, float, float]]:
    """Yield ``(run, tag, step, wall_time, value)`` for every scalar under ``logdir``."""
    for run, event in read(logdir):
        if event.WhichOneof("what") != "summary":
            continue
        for value in event.summary.value:
            number = scalar_value(value)
            if number is not None:
                yield run, value.tag, event.step, event.wall_time, number


def scalars(logdir: str) -> Any:
    """All scalars under ``logdir`` as a pandas DataFrame (run, tag, step, wall_time, value).

    Raises ``ImportError`` when pandas is not installed.
    """
    import pandas as pd

    rows = list(iter_scalars(logdir))
    return pd.DataFrame(rows, columns=["run", "tag", "step", "wall_time", "value"])
