"""The writer core: one background thread per log dir writes every run's event file.

Callers append small tuples to a deque (thread-safe, lock-free under the GIL) and never
touch the disk. The writer thread drains the deque, serializes and frames events, and
appends them to ``events.out.tfevents.<secs>.<host>.<pid>.<counter><suffix>`` in each run
directory. ``flush()`` waits until everything queued before it is written. A failure on
the writer thread is re-raised on the caller's next call, and again at ``flush``/``close``.
"""

from __future__ import annotations

import collections
import itertools
import operator
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tblog.core.convert import to_float
from tblog.core.format import events, records
from tblog.core.write import shutdown
from tblog.core.write.storage import EventFile, open_storage

if TYPE_CHECKING:  # protobuf is imported only once a summary is logged
    from tblog.core.proto import summary_pb2

# Item kinds on the queue.
SCALAR = 0  # (SCALAR, run, tag, value, step, wall_time)
EVENT = 1  # (EVENT, run, serialized_event_bytes)
SUMMARY = 2  # (SUMMARY, run, Summary, step, wall_time)
RESTART = 3  # (RESTART, None, step, wall_time): applies to every run
FLUSH = 4  # (FLUSH, threading.Event)
CALL = 5  # (CALL, callable): runs on the writer thread, in order

_counter = itertools.count()
_counter_lock = threading.Lock()
_HOST = socket.gethostname().replace("/", "_") or "localhost"
_BATCH = 1 << 15  # items the writer thread takes off the queue at a time
_WRITE_EVERY = 1024  # in a batch with summaries, append to the files every this many items
# Shorter runs of scalars are encoded one by one in pure Python: numpy's fixed cost per call
# outweighs the batch encoder's gain there, and each numpy call releases and re-takes the
# GIL, which costs up to a switch interval (5 ms) when the caller's thread is busy in Python.
_SMALL_RUN = 64
_first, _second, _third, _fourth, _fifth, _sixth = map(operator.itemgetter, range(6))


class WriterClosedError(RuntimeError):
    """Raised when a closed writer is used."""


def event_file_name(suffix: str = "", now: float | None = None) -> str:
    """A unique event file name: ``events.out.tfevents.<secs>.<host>.<pid>.<n><suffix>``."""
    with _counter_lock:
        n = next(_counter)
    secs = int(time.time() if now is None else now)
    return f"events.out.tfevents.{secs:010d}.{_HOST}.{os.getpid()}.{n}{suffix}"


def _name_secs(name: str) -> int:
    """The seconds field of ``events.out.tfevents.<secs>...`` (-1 when absent)."""
    rest = name.partition("tfevents.")[2]
    digits = rest.split(".", 1)[0]
    return int(digits) if digits.isdigit() else -1


class _Run:
    """One run directory's open event file (writer thread only)."""

    __slots__ = ("encoder", "file", "path", "pending")

    def __init__(self, path: str) -> None:
        self.path = path
        self.file: EventFile | None = None
        self.encoder = events.ScalarEncoder()
        self.pending: list[bytes] = []


class EventWriter:
    """Asynchronous writer for a log dir and the runs (sub-directories) beneath it.

    ``max_queue`` is the number of queued items at which the caller wakes the writer
    thread; ``max_pending`` bounds the queue (callers wait, never drop, when it is full).
    ``flush_secs`` is the longest time written data may stay in memory (remote stores
    upload at that interval; local files are appended to at least every 0.5 s).
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
    ) -> None:
        if flush_secs <= 0:
            raise ValueError(f"flush_secs must be positive, got {flush_secs}")
        self.storage = open_storage(logdir, storage_options)
        self.logdir = self.storage.root
        self.storage.makedirs(self.logdir)
        self._suffix = filename_suffix
        self._purge_step = purge_step
        self._flush_secs = float(flush_secs)
        self._wake_at = max(1, int(max_queue))
        self._max_pending = max(self._wake_at, int(max_pending))
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake = threading.Event()
        self._drained = threading.Condition()
        self._runs: dict[str, _Run] = {}
        self._error: BaseException | None = None
        self._closed = False
        self._done = 0  # items of the current batch consumed (writer thread)
        # Open the main run's file now: an unusable log dir fails here, in the caller.
        self._open_run("")
        self._write_pending({""})
        self._thread = threading.Thread(target=self._loop, name="tblog-writer", daemon=True)
        self._thread.start()
        shutdown.live_writers.add(self)
        shutdown.install_sigterm_handler()
        if self.storage.remote:
            shutdown.register_remote_exit()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    # ---------------------------------------------------------------- caller side
    def check(self) -> None:
        """Raise the writer thread's pending error, or if the writer is closed."""
        if self._error is not None:
            err, self._error = self._error, None
            raise err
        if self._closed:
            raise WriterClosedError("this writer is closed")

    def put(self, item: tuple[Any, ...]) -> None:
        """Queue one item (see the kinds above); waits only when the queue is full.

        ``SummaryWriter.add_scalar`` and ``SummaryWriter._add_metrics`` inline this body
        (``_error``/``_closed`` check, ``_queue.append``, ``_kick`` at ``_wake_at``): keep
        the three in step.
        """
        if self._error is not None or self._closed:
            self.check()
        q = self._queue
        q.append(item)
        if len(q) >= self._wake_at:
            self._kick()

    def _kick(self) -> None:
        """Wake the writer thread (once per drain); wait while the queue is full."""
        if not self._wake.is_set():
            self._wake.set()
        if len(self._queue) >= self._max_pending:
            self._wait_for_room()

    def _wait_for_room(self) -> None:
        with self._drained:
            while len(self._queue) >= self._max_pending // 2 and self._thread.is_alive():
                self._wake.set()
                self._drained.wait(0.1)

    def scalar(self, run: str, tag: str, value: Any, step: int, wall_time: float) -> None:
        self.put((SCALAR, run, tag, value, step, wall_time))

    def summary(self, run: str, summary: summary_pb2.Summary, step: int, wall_time: float) -> None:
        self.put((SUMMARY, run, summary, step, wall_time))

    def event(self, run: str, data: bytes) -> None:
        self.put((EVENT, run, data))

    def restart(self, step: int, wall_time: float | None = None) -> None:
        """Mark every run of this writer as resumed at ``step``.

        A ``SessionLog START`` at ``step`` goes into each open run now, and into each run
        opened later whose directory already holds event files, so both TensorBoard
        loaders drop the points at or after ``step`` that an earlier process wrote.
        """
        self.put((RESTART, None, int(step), time.time() if wall_time is None else wall_time))

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the writer thread after everything queued so far."""
        self.put((CALL, fn))

    def run_dir(self, run: str) -> str:
        return self.storage.join(self.logdir, run) if run else self.logdir

    def flush(self, timeout: float | None = None) -> None:
        """Return once everything queued before the call is written; raise pending errors."""
        self.check()
        done = threading.Event()
        self._queue.append((FLUSH, done))
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done.wait(0.05):
            if not self._thread.is_alive():
                break
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"flush did not finish within {timeout} s")
        if self._error is not None:
            self.check()

    def close(self, timeout: float | None = None) -> None:
        """Flush, close every file and stop the thread. Idempotent.

        With ``timeout``, gives up after that many seconds in all (``TimeoutError``),
        leaving the writer thread behind; at interpreter exit that is what happens to a
        writer whose storage stalls, with a warning, so exiting never hangs.
        """
        if self._closed:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self.flush(timeout)
        finally:
            self._closed = True
            self._wake.set()
            self._thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            shutdown.live_writers.discard(self)
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    # ---------------------------------------------------------------- writer thread
    def _loop(self) -> None:
        q = self._queue
        next_flush = time.monotonic() + self._flush_secs
        while True:
            timeout = min(0.5, max(0.0, next_flush - time.monotonic()))
            self._wake.wait(timeout)
            self._wake.clear()
            try:
                self._drain(q)
                if time.monotonic() >= next_flush:
                    self._flush_files()
                    next_flush = time.monotonic() + self._flush_secs
            except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                self._error = exc
            with self._drained:
                self._drained.notify_all()
            if self._closed and not q:
                self._close_files()
                return

    def _drain(self, q: collections.deque[tuple[Any, ...]]) -> None:
        """Write everything queued, in batches of up to ``_BATCH`` items.

        If an item fails, the items after it go back to the front of the queue and the
        error propagates (the failed item is dropped, the rest are written next cycle).
        """
        popleft = q.popleft
        touched: set[str] = set()
        while q:
            batch = list(itertools.starmap(popleft, itertools.repeat((), min(len(q), _BATCH))))
            self._done = 0
            try:
                self._handle(batch, touched)
            except BaseException:
                q.extendleft(reversed(batch[self._done :]))
                raise  # what was encoded stays pending: written next cycle
            self._write_pending(touched)
            touched.clear()

    def _handle(self, batch: list[tuple[Any, ...]], touched: set[str]) -> None:
        """Encode one batch: runs of scalars together, other items one by one.

        ``self._done`` tracks how many items are consumed (a failing item counts).
        """
        kinds = list(map(_first, batch))
        if not any(kinds):  # SCALAR == 0: only scalars
            self._scalars(batch, touched)
            self._done = len(batch)
            return
        start = written = 0
        for i, kind in enumerate(kinds):
            if kind == SCALAR:
                continue
            if start < i:
                self._scalars(batch[start:i], touched)
            self._done = i + 1
            self._item(batch[i], touched)
            start = i + 1
            if i - written >= _WRITE_EVERY:  # slow items: let the file grow as we go
                self._write_pending(touched)
                touched.clear()
                written = i
        if start < len(batch):
            self._scalars(batch[start:], touched)
        self._done = len(batch)

    def _scalars(self, items: list[tuple[Any, ...]], touched: set[str]) -> None:
        """Encode consecutive SCALAR items with each run's batch encoder."""
        done = self._done
        groups = None
        if len(items) >= _SMALL_RUN:
            try:
                groups = self._scalar_arrays(items)
            except BaseException:
                pass  # unresolvable value, odd step, unusable run: one by one finds it
        if groups is None:
            for item in items:
                self._done += 1
                self._item(item, touched)
            return
        self._done = done + len(items)
        error: BaseException | None = None
        for run, (r, tags, values, steps, walls) in groups.items():
            try:
                parts = r.encoder.frame_parts(tags, values, steps, walls)
            except Exception:  # a tag UTF-8 cannot encode: drop only its scalars
                parts, error = self._encode_each(r, tags, values, steps, walls)
            r.pending.extend(parts)
            touched.add(run)
        if error is not None:
            raise error

    @staticmethod
    def _encode_each(
        r: _Run, tags: list[str], values: np.ndarray, steps: np.ndarray, walls: np.ndarray
    ) -> tuple[list[bytes], BaseException | None]:
        """Frame scalars one at a time, skipping those that fail; return the first error."""
        parts: list[bytes] = []
        error: BaseException | None = None
        columns = (tags, values.tolist(), steps.tolist(), walls.tolist())
        for tag, value, step, wall in zip(*columns, strict=True):
            try:
                parts.append(records.frame(r.encoder.encode(tag, value, step, wall)))
            except Exception as exc:  # noqa: BLE001 - re-raised once the rest is written
                error = error or exc
        return parts, error

    def _scalar_arrays(
        self, items: list[tuple[Any, ...]]
    ) -> dict[str, tuple[_Run, list[str], np.ndarray, np.ndarray, np.ndarray]]:
        """Split SCALAR items by run into (run, tags, values, steps, walls) numpy columns."""
        runs = list(map(_second, items))
        if runs.count(runs[0]) == len(runs):
            split = {runs[0]: items}
        else:
            split = {}
            for item in items:
                split.setdefault(item[1], []).append(item)
        out = {}
        for run, its in split.items():
            values = list(map(_fourth, its))
            if set(map(type, values)) != {float}:
                values = [v if type(v) is float else _resolve_scalar(v) for v in values]
            steps = np.array(list(map(_fifth, its)))
            if steps.dtype != np.int64:  # floats, or ints beyond int64: the slow path decides
                raise TypeError(f"steps must be int64 integers, got {steps.dtype}")
            columns = (
                list(map(_third, its)),
                np.array(values, dtype=np.float64),
                steps,
                np.fromiter(map(_sixth, its), dtype=np.float64, count=len(its)),
            )
            r = self._runs.get(run) or self._open_run(run)
            out[run] = (r, *columns)
        return out

    def _item(self, item: tuple[Any, ...], touched: set[str]) -> None:
        """Encode one queued item of any kind."""
        runs = self._runs
        frame = records.frame
        kind = item[0]
        if kind == SCALAR:
            _, run, tag, value, step, wall = item
            r = runs.get(run) or self._open_run(run)
            if type(value) is not float:
                value = _resolve_scalar(value)
            r.pending.append(frame(r.encoder.encode(tag, value, step, wall)))
            touched.add(run)
        elif kind == SUMMARY:
            _, run, summary, step, wall = item
            r = runs.get(run) or self._open_run(run)
            r.pending.append(frame(events.summary_event(summary, step, wall)))
            touched.add(run)
        elif kind == EVENT:
            _, run, data = item
            r = runs.get(run) or self._open_run(run)
            r.pending.append(frame(data))
            touched.add(run)
        elif kind == RESTART:
            _, _, step, wall = item
            self._purge_step = step
            if "" not in runs:
                self._open_run("")
            for name, r in runs.items():
                r.pending.append(frame(events.session_start_event(step, wall)))
                touched.add(name)
        elif kind == FLUSH:
            try:
                self._write_pending(touched)
                touched.clear()
                self._flush_files()
            finally:
                item[1].set()  # a failed flush still wakes its caller, who raises
        elif kind == CALL:
            self._write_pending(touched)
            touched.clear()
            item[1]()

    def _open_run(self, run: str) -> _Run:
        path = self.run_dir(run)
        self.storage.makedirs(path)
        existing = self.storage.event_files(path)
        fresh = not existing
        # TensorBoard reads a run's files in name order. A file opened in the same second
        # as an existing one (a resume right after a crash, a second writer) takes the
        # next second in its name so it sorts after them whatever its pid and counter.
        now = time.time()
        name_secs = max([int(now), *(s + 1 for s in map(_name_secs, existing) if s >= int(now))])
        r = _Run(path)
        r.file = self.storage.open_append(
            self.storage.join(path, event_file_name(self._suffix, now=name_secs))
        )
        first = [records.frame(events.file_version_event(now))]
        if fresh:
            # A START in a run's first file makes later restarts purge under the Python
            # loader, which ignores the first START it sees (event-format.md §2).
            first.append(records.frame(events.session_start_event(0, now)))
        elif self._purge_step is not None:
            first.append(records.frame(events.session_start_event(self._purge_step, now)))
        r.pending.extend(first)
        self._runs[run] = r
        return r

    def _write_pending(self, touched: set[str]) -> None:
        for run in touched:
            r = self._runs[run]
            if r.pending and r.file is not None:
                data = b"".join(r.pending)
                r.pending.clear()
                try:
                    r.file.write(data)
                except BaseException:
                    r.pending.insert(0, data)  # retried on the next cycle
                    raise

    def _flush_files(self) -> None:
        self._write_pending(set(self._runs))
        for r in self._runs.values():
            if r.file is not None:
                r.file.flush()

    def _close_files(self) -> None:
        try:
            self._flush_files()
        except BaseException as exc:  # noqa: BLE001
            self._error = exc
        for r in self._runs.values():
            if r.file is not None:
                try:
                    r.file.close()
                except BaseException as exc:  # noqa: BLE001
                    self._error = exc


def _resolve_scalar(value: Any) -> float:
    resolve = getattr(value, "tblog_resolve", None)
    if resolve is not None:
        return float(resolve())
    return to_float(value)
