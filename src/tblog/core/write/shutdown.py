"""Process-wide writer bookkeeping: flush every writer, and close them all at exit.

Exiting never loses what was queued (``atexit``, SIGTERM) and never hangs: a writer whose
storage stalls is abandoned after ``TBLOG_EXIT_TIMEOUT`` seconds (default 10) with a warning.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
import time
import warnings
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tblog.core.write.writer import EventWriter

EXIT_TIMEOUT_S = 10.0

live_writers: weakref.WeakSet[EventWriter] = weakref.WeakSet()
exiting = False  # set at interpreter exit: a closed writer is not reopened any more


def flush_all() -> None:
    """Flush every open writer of this process (e.g. before a checkpoint is saved, so that
    all that was logged before it is on disk with it, whoever logged it)."""
    for writer in list(live_writers):
        if not writer.closed:
            writer.flush()


def _exit_timeout() -> float:
    try:
        return float(os.environ.get("TBLOG_EXIT_TIMEOUT", EXIT_TIMEOUT_S))
    except ValueError:
        return EXIT_TIMEOUT_S


def close_all(timeout: float | None = None) -> None:
    """Close every open writer, waiting at most ``timeout`` seconds in all (exit path: one
    writer thread serves them all, so a stalled storage must not cost it per writer)."""
    timeout = _exit_timeout() if timeout is None else timeout
    deadline = time.monotonic() + timeout
    for writer in list(live_writers):
        try:
            writer.close(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            warnings.warn(
                f"tblog: storage of {writer.logdir!r} did not finish writing within "
                f"{timeout:g} s at exit; abandoning what is still queued",
                RuntimeWarning,
                stacklevel=1,
            )
        except Exception as exc:  # noqa: BLE001 - nothing to raise to at exit
            warnings.warn(
                f"tblog: error closing the writer of {writer.logdir!r} at exit: {exc!r}",
                RuntimeWarning,
                stacklevel=1,
            )


def _close_remote_writers() -> None:
    """Close remote writers while their storage client can still run (see below)."""
    remote = [w for w in list(live_writers) if w.storage.remote]
    for writer in remote:
        try:
            writer.close(timeout=_exit_timeout())
        except Exception as exc:  # noqa: BLE001 - reported like at exit
            warnings.warn(
                f"tblog: error closing the writer of {writer.logdir!r} at exit: {exc!r}",
                RuntimeWarning,
                stacklevel=1,
            )


def register_remote_exit() -> None:
    """fsspec clients (s3fs, gcsfs) run on executors that refuse work once
    ``concurrent.futures`` has shut down, which happens before ``atexit`` handlers run.
    ``threading``'s own exit hooks run before that, newest first, so remote writers are
    closed from one registered after the storage client was imported."""
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # pragma: no cover - CPython < 3.9
        return
    try:
        register(_close_remote_writers)
    except RuntimeError:  # pragma: no cover - interpreter already shutting down
        pass


def _on_sigterm(signum: int, frame: Any) -> None:
    """Write everything queued, then die of SIGTERM as the process would have."""
    close_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def install_sigterm_handler() -> None:
    """On SIGTERM, flush every writer first, unless the program handles SIGTERM itself.

    Installed once, from the main thread, only while SIGTERM has its default action;
    ``TBLOG_NO_SIGTERM_HANDLER=1`` turns it off.
    """
    global _sigterm_checked
    if _sigterm_checked or os.environ.get("TBLOG_NO_SIGTERM_HANDLER"):
        return
    if threading.current_thread() is not threading.main_thread():
        return
    _sigterm_checked = True
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # pragma: no cover - exotic embedding
        pass


def _at_exit() -> None:
    global exiting
    exiting = True
    close_all()


_sigterm_checked = False
atexit.register(_at_exit)
