"""The process-wide writer thread: one thread serves every open :class:`EventWriter`.

Each writer keeps its own queue, errors, blocked state and files; the service only decides
whose turn it is. A writer is *ready* when it has work now (``max_queue`` items queued, a
flush or close, more left after its last turn); it is *timed* when it has work later (its
first item's write deadline, its ``flush_secs`` deadline, a failing storage's retry). The
thread takes ready writers in turn, one bounded batch each (a busy writer goes to the back
of the line, so it cannot starve the others), and otherwise sleeps until the earliest
deadline: a writer with nothing pending has no timer, and an idle process never wakes.

``WriterThread.stop()`` (test harnesses stop torch's writer thread with it) closes every
writer the thread serves and ends it; the next writer opened starts a new one.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import threading
import time
from typing import TYPE_CHECKING

from tblog.core.write import encoder
from tblog.core.write.encoder import CallItem, FlushItem
from tblog.core.write.marks import MarkItem, SettleItem

if TYPE_CHECKING:
    from tblog.core.write.queue import EventWriter

RETRY_S = 0.5  # longest wait between two writes (and retries of a failing storage)
BATCH = 1 << 15  # items the thread takes off one writer's queue in one turn
BARRIERS = (FlushItem, CallItem, MarkItem, SettleItem)  # never encoded


class WriterThread(threading.Thread):
    """The writer thread of this process. ``stop()`` writes what is queued, closes every
    writer it serves and ends the thread (as test harnesses stop torch's writer thread)."""

    def __init__(self, service: Service) -> None:
        super().__init__(name="tblog-writer", daemon=True)
        self.service = service
        self.told_to_stop = False  # this thread's own flag: a new thread has its own

    def run(self) -> None:
        self.service.serve(self)

    def stop(self) -> None:
        """Close every writer this thread serves, then end it. Idempotent."""
        if threading.current_thread() is self:
            return
        for writer in self.service.writers_of(self):
            writer.close()
        self.service.end(self)
        self.join()


class Wake:
    """``writer._wake.set()``: make the writer ready (its turn comes next in line)."""

    __slots__ = ("writer",)

    def __init__(self, writer: EventWriter) -> None:
        self.writer = writer

    def set(self) -> None:
        SERVICE.ready(self.writer)

    def is_set(self) -> bool:
        return self.writer._in_line


class Service:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())  # RLock: SIGTERM's handler
        self._line: collections.deque[EventWriter] = collections.deque()
        self._timers: list[tuple[float, int, EventWriter]] = []
        self._seq = itertools.count()
        self._open: dict[EventWriter, WriterThread] = {}  # open writers (kept alive)
        self._thread: WriterThread | None = None

    # ---------------------------------------------------------------- writer side
    def attach(self, writer: EventWriter) -> WriterThread:
        """Serve ``writer`` from now on; start the thread if none runs. Returns it."""
        with self._cond:
            thread = self._thread
            if thread is None or thread.told_to_stop or not thread.is_alive():
                thread = self._thread = WriterThread(self)
                thread.start()
            self._open[writer] = thread
            return thread

    def detach(self, writer: EventWriter) -> None:
        """``writer`` is closed: forget it (and its timer)."""
        with self._cond:
            self._open.pop(writer, None)
            writer._timer = -1

    def writers_of(self, thread: WriterThread) -> list[EventWriter]:
        with self._cond:
            return [w for w, t in self._open.items() if t is thread]

    def ready(self, writer: EventWriter) -> None:
        """``writer`` has work now: put it in line (once)."""
        with self._cond:
            if not writer._in_line:
                writer._in_line = True
                self._line.append(writer)
                self._cond.notify()

    def arm(self, writer: EventWriter, due: float) -> None:
        """``writer`` has work at ``due`` (monotonic); an earlier deadline stays."""
        with self._cond:
            if writer._timer >= 0 and writer._due <= due:
                return
            seq = next(self._seq)
            writer._timer, writer._due = seq, due
            heapq.heappush(self._timers, (due, seq, writer))
            if self._timers[0][1] == seq:
                self._cond.notify()

    def end(self, thread: WriterThread) -> None:
        with self._cond:
            thread.told_to_stop = True
            if self._thread is thread:
                self._thread = None
            self._cond.notify_all()

    # ---------------------------------------------------------------- the thread
    def _next(self, me: WriterThread) -> EventWriter | None:
        """The next writer with work, waiting as long as none has any."""
        line, timers = self._line, self._timers
        with self._cond:
            while True:
                if me.told_to_stop:
                    return None
                now = time.monotonic()
                while timers and timers[0][0] <= now:
                    _, seq, writer = heapq.heappop(timers)
                    if writer._timer == seq:  # not a timer replaced or cancelled since
                        writer._timer = -1
                        if not writer._in_line:
                            writer._in_line = True
                            line.append(writer)
                if line:
                    writer = line.popleft()
                    writer._in_line = False
                    return writer
                self._cond.wait(timers[0][0] - now if timers else None)

    def serve(self, me: WriterThread) -> None:
        while True:
            writer = self._next(me)
            if writer is None:
                return
            turn(writer)

    def after_fork_in_child(self) -> None:
        """A forked child has no writer thread: start from nothing."""
        self._cond = threading.Condition(threading.RLock())
        self._line.clear()
        self._timers.clear()
        self._open.clear()
        self._thread = None


def turn(w: EventWriter) -> None:
    """One turn on the writer thread: write one batch (and flush when due), then
    queue the next turn: now if a full batch is left, else at the next deadline."""
    stop, q = w._stop, w._queue
    if w._done.is_set():
        return  # closed already (a late wake-up)
    stopping = stop.is_set()
    had_work = bool(q) or w._blocked
    backlog = len(q) > BATCH  # more than one turn's batch: come back after the others
    now = time.monotonic()
    try:
        w._drain()
        if now >= w._next_flush:
            w._runs.flush()
            w._next_flush = now + w._flush_secs
    except Exception as exc:  # noqa: BLE001 - raised on the caller's thread
        w._record(exc, storage=True)
    with w._drained:
        w._drained.notify_all()
    if stopping and (not q or w._blocked):
        _finish(w)
        if w._stop is stop:
            SERVICE.detach(w)
        w._done.set()
        return
    if w._blocked:
        SERVICE.arm(w, now + RETRY_S)  # retry the failing storage
    elif stopping or len(q) >= w._wake_at or (q and backlog):
        SERVICE.ready(w)  # a close, or a full queue: next in line
    elif q:
        SERVICE.arm(w, now + min(RETRY_S, w._flush_secs))
    else:
        if had_work:
            SERVICE.arm(w, w._next_flush)  # written: flushed when due
        w._wake_at = 1  # idle: the next item queued arms the write deadline
        if q:  # queued just now, before its caller could see the line above
            w._wake_at = w._max_queue
            SERVICE.arm(w, now + min(RETRY_S, w._flush_secs))


def _finish(w: EventWriter) -> None:
    """Closing: encode what is left (the storage may refuse it), close the files."""
    q = w._queue
    left = [q.popleft() for _ in range(len(q))]  # not what a racing caller adds now
    items = w._marks.apply(left, time.time())  # a pending resume mark, settled at close
    for error in encoder.encode([i for i in items if type(i) not in BARRIERS], w._runs):
        w._record(error, storage=False)
    for item in left:
        if type(item) is FlushItem:
            item.done.set()
    for error in w._runs.close():
        w._record(error, storage=True)
    with w._drained:
        w._drained.notify_all()


SERVICE = Service()
