"""Writers across ``fork``: in a child forked while a writer is open (``os.fork``,
multiprocessing's fork start method), each open writer gets a new queue, lock and thread
and writes the child's logging to new files (the pid is in their names); the parent's files,
queued items and pending bytes are left to the parent (never written, flushed or closed in
the child). Under multiprocessing the child's writers are closed when its process ends.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
from typing import TYPE_CHECKING

from tblog.core.write import runs, shutdown

if TYPE_CHECKING:
    from tblog.core.storage import EventFile
    from tblog.core.write.queue import EventWriter

inherited: list[EventFile] = []  # a forked child's copies of its parent's files: never closed


class _Token:
    """What multiprocessing's after-fork registry holds on to (it keeps weak references)."""


_mp_token = _Token()


def _close_at_process_end(token: _Token) -> None:
    # multiprocessing's children end with os._exit (no atexit) after running its finalizers,
    # which it clears first thing in the child: register ours from its after-fork hook
    mp_util = sys.modules["multiprocessing.util"]
    mp_util.Finalize(None, shutdown.close_all, exitpriority=100)


def _after_fork_in_child() -> None:
    from tblog.core.write.service import SERVICE

    runs._counter_lock = threading.Lock()
    SERVICE.after_fork_in_child()
    writers = list(shutdown.live_writers)
    for writer in writers:
        _writer_after_fork(writer)
    mp_util = sys.modules.get("multiprocessing.util")
    if writers and mp_util is not None:
        mp_util.register_after_fork(_mp_token, _close_at_process_end)


def _writer_after_fork(self: EventWriter) -> None:
    """In a forked child: new locks, queue and thread; the parent's files, queued
    items and pending bytes are the parent's (never written or closed here)."""
    self._lock = threading.Lock()
    self._life = threading.RLock()
    self._queue = collections.deque()
    self._errors = []
    self._in_line, self._timer = False, -1
    inherited.extend(self._runs.forget_after_fork())
    if not self._closed:
        self._closed = True
        self._start(open_main=False)  # a child that logs nothing writes no file


_installed = False


def install() -> None:
    """Register the at-fork hook (once; :mod:`tblog.core.write.queue` calls it)."""
    global _installed
    if not _installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _installed = True
