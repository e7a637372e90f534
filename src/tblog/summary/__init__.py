"""``tf.summary``'s API on tblog's writer: swap ``tf.summary`` for ``tblog.summary``.

    from tblog import summary as tf_summary     # or: import tblog.summary as tf_summary
    writer = tf_summary.create_file_writer("logs/train")
    with writer.as_default(step=0):
        tf_summary.scalar("loss", 0.5)

Imports no ML framework. ``FileWriter`` (TF1's ``tf.compat.v1.summary.FileWriter``) loads
on first use. See :mod:`tblog.summary._api` for the rules (default writer, step,
``record_if``, name scopes, return values).
"""

from __future__ import annotations

from typing import Any

from tblog.summary import experimental
from tblog.summary._api import (
    SummaryFileWriter,
    SummaryWriter,
    audio,
    create_file_writer,
    create_noop_writer,
    flush,
    graph,
    histogram,
    image,
    record_if,
    scalar,
    should_record_summaries,
    text,
    write,
)

__all__ = [
    "FileWriter",
    "SummaryFileWriter",
    "SummaryWriter",
    "audio",
    "create_file_writer",
    "create_noop_writer",
    "experimental",
    "flush",
    "graph",
    "histogram",
    "image",
    "record_if",
    "scalar",
    "should_record_summaries",
    "text",
    "write",
]


def __getattr__(name: str) -> Any:
    if name == "FileWriter":
        from tblog.summary.file_writer import FileWriter

        globals()["FileWriter"] = FileWriter
        return FileWriter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
