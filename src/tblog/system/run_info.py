"""The run-info hook of ``tblog.SummaryWriter``: the run's provenance
(:mod:`tblog.core.runinfo`) as one text summary ``run/info``, the first thing queued on a
new writer, once per log dir per process.

The caller's thread only captures the command line and working directory and queues two
items; git runs on the writer thread (a queued call fills the summary before it is
encoded).
"""

from __future__ import annotations

import os
import sys
import threading
import time

from tblog.core import runinfo
from tblog.core.write.queue import EventWriter

_done: set[str] = set()  # log dirs this process has written run info to
_lock = threading.Lock()


def world_size() -> int | None:
    """The world size of an initialised ``torch.distributed`` group (only if torch is
    already imported), else what the launcher put in the environment."""
    dist = sys.modules.get("torch.distributed")
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return int(dist.get_world_size())
    except Exception:  # noqa: BLE001 - a half-initialised group: use the environment
        pass
    return runinfo.world_size_from_env()


ENV = "TBLOG_RUN_INFO"


def enabled(run_info: bool | None) -> bool:
    """``run_info`` if given, else whether the environment leaves it on (``TBLOG_RUN_INFO``
    other than ``0``/``false``/``no``/``off``)."""
    if run_info is not None:
        return bool(run_info)
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def written_to(log_dir: str) -> None:
    """Count the run in ``log_dir`` as holding this process's run info already (its event
    files were moved there), so a writer of it does not write another."""
    from tblog.core.storage import open_storage

    with _lock:
        _done.add(open_storage(log_dir).root)


def queue_run_info(events: EventWriter, rank: int, step: int, run_info: bool | None = True) -> bool:
    """Queue ``run/info`` at ``step`` in the main run of ``events`` unless this process
    already did for its log dir or it is off (:func:`enabled`); returns whether it did."""
    if not enabled(run_info):
        return False
    key = events.run_dir("")
    with _lock:
        if key in _done:
            return False
        _done.add(key)
    from tblog.core.summaries.text import text_pb

    argv, cwd, world = list(sys.argv), os.getcwd(), world_size()
    summary = text_pb(runinfo.TAG, "(run info)")
    tensor = summary.value[0].tensor

    def fill() -> None:  # on the writer thread, before the summary is encoded
        try:
            info = runinfo.collect(rank, world, argv=argv, cwd=cwd)
        except Exception as exc:  # noqa: BLE001 - never fail the writer for provenance
            info = {"error": f"{type(exc).__name__}: {exc}"}
        tensor.string_val[0] = runinfo.markdown(info).encode("utf-8")

    events.call(fill)
    events.summary("", summary, step, time.time())
    return True
