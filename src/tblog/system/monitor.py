"""``tblog.SystemMonitor``: a background thread that logs the machine's load next to a
writer's run.

Where and at which steps. The samples go into their own run, ``<writer's log dir>/system``
(a rank's writer: its rank run's ``system``), through an EventWriter of their own, at
step = milliseconds since the Unix epoch (one more than the last step should two samples
fall in one millisecond). So they never share a time series with training points, a resume's
``SessionLog START`` (written into the writer's runs, at a training step) never reaches
them, and a later process's samples have larger steps than an earlier one's: neither of
TensorBoard's loaders purges or preempts them. Show them against "Wall" or "Relative" time
in TensorBoard.

Cost to the training thread: none. Sampling, encoding and writing happen on the monitor's
thread and its EventWriter's thread; the monitor sleeps between samples. It stops at
:meth:`SystemMonitor.stop`, at the end of a ``with`` block, or once it sees its writer
closed (it looks every ``POLL_S`` seconds while sleeping).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from tblog.core.write.encoder import SIMPLE_VALUE
from tblog.core.write.queue import EventWriter, WriterClosedError
from tblog.system.sampler import CpuMemory, Gpus

RUN = "system"
PREFIX = "system/"
POLL_S = 0.25  # how often a sleeping monitor looks whether its writer was closed


class SystemMonitor:
    """Log CPU %, memory and GPU load every ``interval_s`` seconds into ``<log dir>/system``.

    ``writer``: a ``tblog.SummaryWriter`` (the monitor stops when it is closed; a writer
    that writes nothing on this rank, nothing is sampled) or a log dir path (e.g. the
    ``log_dir`` of a Keras ``TBCallback``). ``run``: the sub-run the samples go to.

    Tags: ``system/cpu_percent`` (this process, all threads: 0..100 x CPUs),
    ``system/host_cpu_percent``, ``system/rss_mb``, ``system/host_memory_used_mb``,
    ``system/host_memory_available_mb`` and per GPU ``system/gpu<i>/utilization``,
    ``system/gpu<i>/memory_used_mb``, ``system/gpu<i>/temperature_c``.
    """

    def __init__(self, writer: Any, interval_s: float = 10, *, run: str = RUN) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be positive, got {interval_s!r}")
        self.interval_s = float(interval_s)
        if isinstance(writer, (str, os.PathLike)):
            self._owner: Any = None
            self.log_dir: str | None = os.fspath(writer)
        else:
            self._owner = writer
            # a writer that writes nothing on this rank (writer is None): sample nothing
            self.log_dir = writer.log_dir if getattr(writer, "writer", None) is not None else None
        self.run = run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._events: EventWriter | None = None
        self._last_step = -1
        self.samples = 0  # samples logged so far

    @property
    def thread(self) -> threading.Thread | None:
        """The sampler thread while it runs, else ``None``."""
        t = self._thread
        return t if t is not None and t.is_alive() else None

    def start(self) -> SystemMonitor:
        """Start sampling (a sample every ``interval_s`` and one when stopping, on the
        monitor's thread). No-op when
        running or when the writer writes nothing on this rank."""
        if self.thread is not None or self.log_dir is None:
            return self
        self._stop.clear()
        run_dir = f"{self.log_dir.rstrip('/')}/{self.run}" if self.run else self.log_dir
        self._events = EventWriter(run_dir, flush_secs=max(self.interval_s, 5.0))
        self._thread = threading.Thread(target=self._loop, name="tblog-system", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop sampling; the monitor's thread writes what it sampled and closes the system
        run before it ends (joined here, up to ``timeout`` seconds). Idempotent."""
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    def __enter__(self) -> SystemMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- monitor thread
    def _owner_closed(self) -> bool:
        owner = self._owner
        if owner is None:
            return False
        events = getattr(owner, "writer", None)
        return events is None or bool(events.closed)

    def _loop(self) -> None:
        events = self._events
        assert events is not None
        gpus = Gpus()
        try:
            cpu = CpuMemory()  # CPU % is measured from here to each sample
            while True:
                deadline = time.monotonic() + self.interval_s
                while not self._stop.is_set() and not self._owner_closed():
                    left = deadline - time.monotonic()
                    if left <= 0 or self._stop.wait(min(POLL_S, left)):
                        break
                # a last sample when stopping, so that a short run has one too
                self._log(events, {**cpu.sample(), **gpus.sample()})
                if self._stop.is_set() or self._owner_closed():
                    break
        except WriterClosedError:
            pass  # closed at interpreter exit: nothing more to log
        finally:
            self._stop.set()
            gpus.close()
            events.close()

    def _log(self, events: EventWriter, values: dict[str, float]) -> None:
        wall = time.time()
        step = max(int(wall * 1000), self._last_step + 1)
        self._last_step = step
        for name, value in values.items():
            events.scalar("", PREFIX + name, float(value), step, wall, SIMPLE_VALUE)
        self.samples += 1
