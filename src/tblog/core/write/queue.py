"""The async layer of the write path: the queue, its writer thread, flushes and errors.

Callers append items (see :mod:`tblog.core.write.encoder`) to a deque (thread-safe,
lock-free under the GIL) and never touch the disk. One writer thread serves every writer
of the process (:mod:`tblog.core.write.service`): in a writer's turn it takes up to
``_BATCH`` items, has :func:`encoder.encode` turn them into records and
:class:`~tblog.core.write.runs.RunFiles` write them. ``flush()`` waits until everything
queued before it is written.

Errors. Every error of the writer thread is kept in a list (under a lock) and raised on
the caller's thread at its next call, ``flush()`` or ``close()``: the first one raised,
each later one attached to it as a note (``BaseException.add_note``), and the list
emptied, so none is raised twice. While the storage fails (disk full, store down) the
encoded bytes stay pending and nothing more is taken off the queue, so memory stays
bounded by the queue's bound; callers that find it full get the storage's error. A
storage error whose bytes are written later, before it was raised, is dropped: nothing
was lost, so a ``close()`` after the storage recovered does not raise it.

Fork: see :mod:`tblog.core.write.fork` (the child's writers start again on new files).
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tblog.core.storage import open_storage
from tblog.core.write import encoder, fork, runs, shutdown
from tblog.core.write.encoder import CallItem, EventItem, FlushItem, RestartItem, SummaryItem
from tblog.core.write.marks import MARK_ITEMS, MarkItem, MarkPlan, Marks, SettleItem
from tblog.core.write.service import BATCH, RETRY_S, SERVICE, Wake, WriterThread

if TYPE_CHECKING:  # protobuf is imported only once a summary is logged
    from collections.abc import Mapping, Sequence

    from tblog.core.proto import summary_pb2

fork.install()
_BATCH = BATCH  # items the writer thread takes off a writer's queue in one turn
__all__ = ["EventWriter", "WriterClosedError", "WriterThread"]


class WriterClosedError(RuntimeError):
    """Raised when a closed writer is used."""


class EventWriter:
    """Asynchronous writer for a log dir and the runs (sub-directories) beneath it.

    ``max_queue`` is the number of queued items at which the caller wakes the writer
    thread; ``max_pending`` bounds the queue (callers wait, never drop, when it is full).
    ``flush_secs`` is the longest time written data may stay in memory (remote stores
    upload at that interval; local files are appended to at least every 0.5 s).
    ``metadata_every``: tensor scalars carry their plugin metadata on every event, as
    tf.summary writes them (default: on each tag's first event of a file).
    """

    def __init__(
        self,
        logdir: str,
        *,
        max_queue: int = 4096,
        flush_secs: float = 120.0,
        filename_suffix: str = "",
        purge_step: int | None = None,
        max_pending: int = 1 << 17,
        storage_options: dict[str, Any] | None = None,
        metadata_every: bool = False,
    ) -> None:
        if flush_secs <= 0:
            raise ValueError(f"flush_secs must be positive, got {flush_secs}")
        self.storage = open_storage(logdir, storage_options)
        self.logdir = self.storage.root
        self.storage.makedirs(self.logdir)
        self._flush_secs = float(flush_secs)
        self._max_queue = self._wake_at = max(1, int(max_queue))
        self._max_pending = max(self._wake_at, int(max_pending))
        self._wake = Wake(self)  # .set(): this writer's turn comes next
        self._in_line = False  # waiting for its turn on the writer thread (service.py)
        self._timer, self._due = -1, 0.0  # its deadline on the writer thread, if any
        self._queue: collections.deque[Any] = collections.deque()
        self._runs = runs.RunFiles(
            self.storage, self.logdir, filename_suffix, purge_step, metadata_every
        )
        self._errors: list[tuple[BaseException, bool]] = []  # (error, storage error)
        self._marks = Marks()  # pending resume marks (writer thread only; see mark())
        self._marked = False  # mark() was called: close() settles what is pending
        self._failed_writes = 0
        self._storage_error: BaseException | None = None  # the failing storage's last error
        self._lock = threading.Lock()
        self._life = threading.RLock()  # close and reopen, one at a time
        self._closed = True
        self._start()

    def _start(self, open_main: bool = True) -> None:
        """Open the main run's file now (an unusable log dir fails here, in the caller) and
        have the process's writer thread serve this writer."""
        self._drained = threading.Condition()
        self._blocked = False  # the last write failed: take nothing more off the queue
        self._stop = threading.Event()  # this opening's own stop flag: set by its close
        self._done = threading.Event()  # this opening's files are closed
        self._next_flush = time.monotonic() + self._flush_secs
        if open_main:
            self._runs.open("")
        self._closed = False
        self._thread = SERVICE.attach(self)
        self._wake_at = 1  # the first item queued arms the write deadline (see _kick)
        shutdown.live_writers.add(self)
        shutdown.install_sigterm_handler()
        if self.storage.remote:
            shutdown.register_remote_exit()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called (until :meth:`reopen`)."""
        return self._closed

    @property
    def has_errors(self) -> bool:
        """True while errors of the writer thread wait to be raised (at the next call)."""
        return bool(self._errors)

    def wake(self) -> None:
        """Have the writer thread write what is queued now, without waiting for it."""
        self._wake.set()

    def run_names(self) -> list[str]:
        """Names of the sub-runs written so far (``add_scalars`` runs, ...), not the main one."""
        return [run for run in self._runs.names() if run]

    @property
    def thread(self) -> WriterThread | None:
        """The writer thread while the writer is open, else ``None``."""
        return None if self._closed else self._thread

    # ---------------------------------------------------------------- caller side
    def check(self) -> None:
        """Raise the writer thread's pending errors, or if the writer is closed."""
        if self._errors:
            self._raise_errors()
        if self._closed:
            raise WriterClosedError("this writer is closed")

    def _raise_errors(self, first: BaseException | None = None) -> None:
        """Raise ``first`` or the first kept error, the others attached as notes."""
        with self._lock:
            errors, self._errors = self._errors, []
        rest = [e for e, _ in errors]
        if first is None:
            if not rest:
                return
            first = rest.pop(0)
        for other in rest:
            first.add_note(f"tblog: also on the writer thread: {type(other).__name__}: {other}")
        raise first

    def scalar(
        self,
        run: str,
        tag: str,
        value: Any,
        step: int,
        wall_time: float,
        encoding: int = encoder.TENSOR,
    ) -> None:
        """Queue one scalar (the one scalar entry point: ``SummaryWriter.add_scalar``,
        ``add_scalars`` and ``log_metrics`` call it). ``value``: a float or a deferred
        value (``tblog_resolve()``); ``step``: an int64 int; ``encoding``:
        ``encoder.SIMPLE_VALUE`` or ``encoder.TENSOR``."""
        if self._errors or self._closed:
            self.check()
        q = self._queue
        q.append((run, tag, value, step, wall_time, encoding))
        if len(q) >= self._wake_at:
            self._kick()

    def put(self, item: Any) -> None:
        """Queue one item (an ``encoder`` or ``marks`` item, or a scalar tuple in
        ``encoder.Scalar``'s field order); waits only when the queue is full."""
        if self._errors or self._closed:
            self.check()
        q = self._queue
        q.append(item)
        if len(q) >= self._wake_at:
            self._kick()

    def _kick(self) -> None:
        """Put this writer in line for the writer thread (once per turn); wait while the
        queue is full. On an idle writer, the first item queued arms its write deadline
        instead: a writer with nothing queued has no timer."""
        q = self._queue
        if self._wake_at < self._max_queue:
            self._wake_at = self._max_queue
            SERVICE.arm(self, time.monotonic() + min(RETRY_S, self._flush_secs))
            if len(q) < self._wake_at:
                return
        if not self._in_line:
            SERVICE.ready(self)
        if len(q) >= self._max_pending:
            self._wait_for_room()

    def _wait_for_room(self) -> None:
        """The queue is full: wait until the writer thread made room. While the storage
        fails, the caller's item is taken back and the storage's error raised at once
        (memory stays bounded, and a training loop is not throttled by a full disk)."""
        q = self._queue
        mine = q[-1] if q else None
        if not self._blocked:
            with self._drained:
                while len(q) >= self._max_pending // 2 and self._thread.is_alive():
                    if self._errors or self._blocked:
                        break
                    self._wake.set()
                    self._drained.wait(0.1)
        if not (self._errors or self._blocked):
            return
        if not (q and q[-1] is mine and len(q) >= self._max_pending):
            return  # the writer thread took this call's item: it is kept (and written)
        if type(mine) not in _BARRIERS:
            q.pop()  # not kept: the caller learns it from the storage's error
        if self._errors:
            self._raise_errors()
        error = self._storage_error
        if error is not None:
            raise error.with_traceback(None)

    def summary(self, run: str, summary: summary_pb2.Summary, step: int, wall_time: float) -> None:
        self.put(SummaryItem(run, summary, step, wall_time))

    def event(self, run: str, data: bytes) -> None:
        self.put(EventItem(run, data))

    def restart(self, step: int, wall_time: float | None = None) -> None:
        """Mark every run of this writer as resumed at ``step``.

        A ``SessionLog START`` at ``step`` goes into each open run now, and into each run
        opened later whose directory already holds event files, so both TensorBoard
        loaders drop the points at or after ``step`` that an earlier process wrote.
        """
        self.put(RestartItem(int(step), time.time() if wall_time is None else wall_time))

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the writer thread after everything queued so far is written."""
        self.put(CallItem(fn))

    def mark(
        self, groups: Sequence[tuple[tuple[str, ...], int]], plans: Mapping[str, MarkPlan]
    ) -> None:
        """Mark the runs of ``plans`` as resumed from a checkpoint: each group of each run at
        its first item from here on at a step >= the group's N (``groups``: ``(tag prefixes,
        N)``, the first with prefixes ``()``), at N if that item is at N, else at N + 1; the
        run's plan says what to write there (:mod:`tblog.core.write.marks`). Replaces the
        marks still pending; :meth:`settle` and :meth:`close` mark what is left."""
        self._marked = True
        self.put(MarkItem(groups, plans))

    def settle(self) -> None:
        """Mark every group still pending (see :meth:`mark`) here, at its N + 1."""
        if self._marked and not self._closed:
            self.put(SettleItem())

    def run_dir(self, run: str) -> str:
        return self._runs.run_dir(run)

    def flush(self, timeout: float | None = None) -> None:
        """Return once everything queued before the call is written; raise pending errors.
        A storage error not raised yet is raised only if the storage fails again: the
        flush's own write retries it first (recovered, it was no loss)."""
        if self._closed or any(not storage for _, storage in list(self._errors)):
            self.check()
        item = FlushItem()
        attempts = self._failed_writes
        self._queue.append(item)
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not item.done.wait(0.05):
            if not self._thread.is_alive():
                break
            if self._errors and (self._failed_writes > attempts or not self._blocked):
                break  # a storage that failed again since this flush, or another error
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"flush did not finish within {timeout} s")
        if self._errors:
            self._raise_errors()

    def close(self, timeout: float | None = None) -> None:
        """Flush, close every file and stop the thread. Idempotent.

        With ``timeout``, gives up after that many seconds in all (``TimeoutError``),
        leaving the writer thread behind; at interpreter exit that is what happens to a
        writer whose storage stalls, with a warning, so exiting never hangs.
        """
        with self._life:  # a reopen waits until this close has finished
            if self._closed:
                if not self._queue or shutdown.exiting:
                    return
                # items queued by a call that raced the last close: write them now
                self._runs.reopen()
                self._start(open_main=False)
            error = self._close(timeout)
        if error is not None or self._errors:
            self._raise_errors(error)

    def _close(self, timeout: float | None) -> BaseException | None:
        if self._marked:  # what is still pending is marked after everything logged
            self._queue.append(SettleItem())
        deadline = None if timeout is None else time.monotonic() + timeout
        error: BaseException | None = None
        try:
            self.flush(timeout)
        except BaseException as exc:  # noqa: BLE001 - raised below, with the others
            error = exc
        self._closed = True  # callers from now on reopen (after this close) or raise
        done = self._done
        if not self._thread.is_alive():  # its thread was stopped: have another finish it
            self._thread = SERVICE.attach(self)
        self._stop.set()  # the writer thread writes what is queued and closes the files
        SERVICE.ready(self)
        if threading.current_thread() is not self._thread:
            done.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        shutdown.live_writers.discard(self)
        return error

    def reopen(self) -> None:
        """Start again after :meth:`close`: a new thread, and a new event file in each run
        (the main run's now, the others' at their next event); a resume's purge step is
        not applied again. No-op on an open writer."""
        with self._life:  # after a close in progress has finished
            if not self._closed or shutdown.exiting:
                return  # at exit a closed writer stays closed: late points are dropped
            self._runs.reopen()
            self._start()

    # ---------------------------------------------------------------- writer thread
    def _record(self, exc: BaseException, storage: bool) -> None:
        with self._lock:
            if storage and any(
                s and type(e) is type(exc) and str(e) == str(exc) for e, s in self._errors
            ):
                return  # the same failure again, while the first is still to be raised
            self._errors.append((exc, storage))

    def _write(self, run_names: Any = None) -> None:
        """Write pending bytes; on success forget storage errors not raised yet."""
        try:
            self._runs.write(run_names)
        except BaseException as exc:
            note = f"tblog: writing the event files of {self.logdir}"
            if note not in getattr(exc, "__notes__", ()):
                exc.add_note(note)  # a full disk's error names no file
            self._storage_error = exc
            self._blocked = True
            self._failed_writes += 1
            raise
        if self._blocked:
            self._blocked = False
            self._storage_error = None
            with self._lock:
                self._errors = [(e, s) for e, s in self._errors if not s]

    def _drain(self) -> None:
        """Write one batch of up to ``_BATCH`` items (one writer's turn). While the storage
        fails, nothing more is taken off the queue (memory stays bounded)."""
        q = self._queue
        if self._blocked:
            self._write()
        popleft = q.popleft
        if q:
            batch = list(itertools.starmap(popleft, itertools.repeat((), min(len(q), _BATCH))))
            kinds = set(map(type, batch))  # found in C: most batches hold no barrier
            if self._marks.runs or not kinds.isdisjoint(MARK_ITEMS):  # a resume mark
                batch = self._marks.apply(batch, time.time())
                kinds = set(map(type, batch))
            self._handle(batch, kinds)
            self._write()

    def _handle(self, batch: list[Any], kinds: set[type]) -> None:
        """Encode a batch (``kinds``: its items' types); barriers (flush, call) keep their
        place."""
        if FlushItem not in kinds and CallItem not in kinds:
            self._encode(batch)
            return
        start = 0
        for i, item in enumerate(batch):
            kind = type(item)
            if kind is not FlushItem and kind is not CallItem:
                continue
            self._encode(batch[start:i])
            start = i + 1
            try:
                self._write()
                if kind is FlushItem:
                    self._runs.flush()
            except BaseException:
                # taken again next cycle (a call too; a flush's caller raises instead)
                self._queue.extendleft(reversed(batch[i if kind is CallItem else start :]))
                raise
            finally:
                if kind is FlushItem:
                    item.done.set()  # a failed flush still wakes its caller, who raises
            if kind is CallItem:
                try:
                    item.fn()
                except Exception as exc:  # noqa: BLE001 - raised on the caller's thread
                    self._record(exc, storage=False)
        self._encode(batch[start:] if start else batch)

    def _encode(self, items: list[Any]) -> None:
        if items:
            for error in encoder.encode(items, self._runs):
                self._record(error, storage=False)


_BARRIERS = (FlushItem, CallItem, MarkItem, SettleItem)  # never dropped; not encoded
