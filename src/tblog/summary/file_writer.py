"""``FileWriter``: TF1's ``tf.compat.v1.summary.FileWriter`` on our core (its methods are
:class:`tblog.core.proto_writer.ProtoFileWriter`'s). Loaded by ``tblog.summary.FileWriter``
on first use."""

from __future__ import annotations

import os
import warnings
from typing import Any

from tblog.core.proto_writer import ProtoFileWriter
from tblog.core.write.writer import EventWriter


class FileWriter(ProtoFileWriter):
    """TF1's ``tf.compat.v1.summary.FileWriter``: writes Summary protos, graphs, run
    metadata and session logs to an event file in ``logdir``.

    ``graph`` (a ``tf.Graph`` such as ``sess.graph``, or a GraphDef) is written at once.
    ``max_queue``: queued events that wake the writer thread; ``flush_secs``: longest time
    data stays in memory. As in TF1, using a closed writer warns and does nothing until
    :meth:`reopen`. ``session`` is accepted for TF1's signature (events are written
    directly). ``storage_options``: fsspec options for URL log dirs.
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        graph: Any = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        graph_def: Any = None,
        filename_suffix: str | None = None,
        session: Any = None,
        *,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(logdir, (str, os.PathLike)):
            raise TypeError(f"logdir must be a str or os.PathLike, got {type(logdir).__name__}")
        if filename_suffix is not None and not isinstance(filename_suffix, str):
            raise TypeError(f"filename_suffix must be a str, got {type(filename_suffix).__name__}")
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise ValueError(f"max_queue must be a positive int, got {max_queue!r}")
        super().__init__("")
        self._logdir = os.fspath(logdir)
        self._options: dict[str, Any] = {
            "max_queue": max_queue,
            "flush_secs": flush_secs,
            "filename_suffix": filename_suffix or "",
            "storage_options": storage_options,
        }
        self._events: EventWriter | None = EventWriter(self._logdir, **self._options)
        self._closed = False
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    def target(self) -> EventWriter | None:
        """The EventWriter to write to, or ``None`` to drop (closed: TF1 warns)."""
        if self._closed:
            warnings.warn(
                "Attempting to use a closed FileWriter. The operation will be a noop"
                " unless the FileWriter is explicitly reopened.",
                stacklevel=3,
            )
            return None
        return self._events

    # ---------------------------------------------------------------- lifecycle
    def get_logdir(self) -> str:
        """The directory this writer writes to."""
        return self._logdir

    def flush(self) -> None:
        """Return once everything added so far is written (a no-op once closed)."""
        w = self._events
        if w is not None and not self._closed and not w.closed:
            w.flush()

    def close(self) -> None:
        """Flush and close the event file. Idempotent."""
        self._closed = True
        if self._events is not None:
            self._events.close()

    def reopen(self) -> None:
        """After :meth:`close`, write on into a new event file in the same log dir."""
        if not self._closed:
            return
        self._events = EventWriter(self._logdir, **self._options)
        self._closed = False

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
