"""Writers across ``fork``: in a child forked while a writer is open (``os.fork``,
multiprocessing's fork start method), each open writer gets a new queue, lock and thread
and writes the child's logging to new files (the pid is in their names); the parent's files,
queued items and pending bytes are left to the parent (never written, flushed or closed in
the child). Under multiprocessing the child's writers are closed when its process ends.
"""

from __future__ import annotations

import os
import sys
import threading

from tblog.core.write import runs, shutdown


class _Token:
    """What multiprocessing's after-fork registry holds on to (it keeps weak references)."""


_mp_token = _Token()


def _close_at_process_end(token: _Token) -> None:
    # multiprocessing's children end with os._exit (no atexit) after running its finalizers,
    # which it clears first thing in the child: register ours from its after-fork hook
    mp_util = sys.modules["multiprocessing.util"]
    mp_util.Finalize(None, shutdown.close_all, exitpriority=100)


def _after_fork_in_child() -> None:
    runs._counter_lock = threading.Lock()
    writers = list(shutdown.live_writers)
    for writer in writers:
        writer._after_fork_in_child()
    mp_util = sys.modules.get("multiprocessing.util")
    if writers and mp_util is not None:
        mp_util.register_after_fork(_mp_token, _close_at_process_end)


_installed = False


def install() -> None:
    """Register the at-fork hook (once; :mod:`tblog.core.write.queue` calls it)."""
    global _installed
    if not _installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _installed = True
