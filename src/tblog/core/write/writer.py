"""The writer core's public names, for code that imports them from here.

The write path is three modules: :mod:`~tblog.core.write.queue` (``EventWriter``: the
queue, its thread, flushes, errors), :mod:`~tblog.core.write.encoder` (queued items in,
framed bytes per run out) and :mod:`~tblog.core.write.runs` (event files: names, first
records, restarts).
"""

from __future__ import annotations

from tblog.core.write.encoder import SIMPLE_VALUE, TENSOR, Scalar
from tblog.core.write.queue import EventWriter, WriterClosedError, WriterThread
from tblog.core.write.runs import event_file_name

__all__ = [
    "SIMPLE_VALUE",
    "TENSOR",
    "EventWriter",
    "Scalar",
    "WriterClosedError",
    "WriterThread",
    "event_file_name",
]
