"""torch's FileWriter surface of ``tblog.SummaryWriter`` (``writer.file_writer``,
``all_writers``, ``add_summary``, ``add_event``) and the writer's reopening EventWriter."""

from __future__ import annotations

import threading
from typing import Any

from tblog.core.proto_writer import ProtoFileWriter
from tblog.core.write.writer import EventWriter
from tblog.writer.base import WriterBase


class SummaryWriterFileWriter(ProtoFileWriter):
    """torch's ``writer.file_writer``: the FileWriter surface of one run of a
    ``tblog.SummaryWriter`` (``run`` "" is its log dir; ``add_scalars`` runs have their own).

    It follows its SummaryWriter: after ``close()`` the next call reopens it, as any
    ``add_*`` does; ``flush``/``close`` act on the SummaryWriter.
    """

    def __init__(self, owner: Any, run: str = "") -> None:
        super().__init__(run)
        self._owner = owner

    def target(self) -> EventWriter | None:
        w: EventWriter | None = self._owner.writer
        return w

    def get_logdir(self) -> str:
        logdir: str = self._owner.log_dir
        return f"{logdir}/{self._run_name}" if self._run_name else logdir

    def flush(self) -> None:
        self._owner.flush()

    def close(self) -> None:
        self._owner.close()

    def reopen(self) -> None:
        self._owner._reopen()


class ReopeningEventWriter(EventWriter):
    """The EventWriter of a ``tblog.SummaryWriter``: used after :meth:`close`, it reopens
    itself (:meth:`EventWriter.reopen`: a new event file in each run it writes to, a new
    thread), as torch's writer reopens on the next ``add_*``. Reopening happens in
    :meth:`check`, which every queueing path (``put`` and the scalar fast paths) calls on a
    closed writer, so the object the callers hold stays the one to write to.
    """

    def check(self) -> None:
        if self.closed and not self.has_errors:
            with _reopen_lock:
                self.reopen()
            return
        super().check()

    def flush(self, timeout: float | None = None) -> None:
        """As :meth:`EventWriter.flush`; a no-op once closed (flushing does not reopen)."""
        if self.closed and not self.has_errors:
            return
        super().flush(timeout)


_reopen_lock = threading.Lock()


class FileWriterMethods(WriterBase):
    """torch's FileWriter surface of ``tblog.SummaryWriter``."""

    _file_writer: SummaryWriterFileWriter | None = None

    @property
    def file_writer(self) -> SummaryWriterFileWriter | None:
        """torch's ``writer.file_writer``: ``add_summary``, ``add_event``, ``add_graph``,
        ``get_logdir``, ``flush``, ``close`` on this writer's run (e.g. for hparams
        summaries built with ``torch.utils.tensorboard.summary.hparams``). ``None`` once
        the writer is closed, as torch's; the next ``add_*`` or ``_get_file_writer()``
        reopens it."""
        w = self._writer
        if w is not None and w.closed:
            return None
        return self._own_file_writer()

    def _own_file_writer(self) -> SummaryWriterFileWriter:
        fw = self._file_writer
        if fw is None:
            fw = self._file_writer = SummaryWriterFileWriter(self)
        return fw

    @property
    def all_writers(self) -> dict[str, SummaryWriterFileWriter]:
        """torch's ``{log dir: FileWriter}`` of this writer's run and each
        ``add_scalars`` run (``<log_dir>/<main_tag>_<key>``) written so far (waits for
        what is queued, like ``flush``)."""
        w = self._writer
        if not w.closed:
            w.flush()  # runs are opened on the writer thread: let it catch up
        runs = w.run_names()
        out = {self.log_dir: self._own_file_writer()}
        for run in runs:
            out[f"{self.log_dir}/{run}"] = SummaryWriterFileWriter(self, run)
        return out

    def _get_file_writer(self) -> SummaryWriterFileWriter:
        """torch's ``_get_file_writer()``: the FileWriter of this run, reopened if closed."""
        self._reopen()
        return self._own_file_writer()

    def add_summary(
        self, summary: Any, global_step: Any = None, walltime: float | None = None
    ) -> None:
        """Write a Summary proto (tblog's, TensorFlow's, ``tensorboard.compat.proto``'s, or
        its serialized bytes); TF1's old-style values are re-encoded as TensorBoard reads them."""
        self._own_file_writer().add_summary(summary, global_step, walltime)

    def add_event(self, event: Any, step: Any = None, walltime: float | None = None) -> None:
        """Write an Event proto (any origin, or its bytes) as torch's FileWriter does."""
        self._own_file_writer().add_event(event, step, walltime)

    def _reopen(self) -> None:
        """After ``close()``: write on into new event files in the same log dir, with the
        same options (a resume's purge step carried over). Any ``add_*`` on a closed
        writer does this (``ReopeningEventWriter.check``)."""
        w = self._writer
        if isinstance(w, ReopeningEventWriter) and w.closed:
            w.reopen()
