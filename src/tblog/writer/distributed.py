"""Per-rank runs and cross-rank reductions of ``tblog.SummaryWriter`` (issue #24).

Both run on the framework's own process group (``torch.distributed``'s default group,
reached through ``tblog.core.registry``'s ``Adapter.default_group``), never on a channel of
tblog's own; no rank waits for another, shares a clock with it or locks a file.

**Per-rank runs** (``per_rank=True``): every rank writes what it logs into its own run
``<log_dir>/rank_<r>`` (``r`` zero-padded to the world size: world 12 -> ``rank_00`` ..
``rank_11``), rank 0 included; rank 0 also writes the main run as without ``per_rank``
(:class:`RankEventWriter` with ``mirror``: each scalar, summary and event goes into both).
A non-zero rank's writer is an ordinary writer whose event files are rooted at its rank run.

**Reductions** (``add_scalar(..., reduce="mean")``, ``log_metrics(..., reduce=...)``):
every rank issues an asynchronous ``all_reduce`` in the order of its calls (all ranks must
make the same calls in the same order, as with Lightning's ``sync_dist``); the caller never
waits for it. A writer of the main run queues a :class:`Reduction` (a deferred scalar: the
writer thread waits for it); a rank run gets the rank's own value, not the reduced one.
Ranks that write no main run keep their pending reductions and check the finished ones at
their next reduction and at ``close()``. A reduction that fails or does not finish within
``reduce_timeout`` (default :data:`DEFAULT_REDUCE_TIMEOUT`, 5 minutes) raises
:class:`ReduceError` naming the tag and step, at the next call or at ``flush``/``close``.
Without a process group a reduction is the identity.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from tblog.core import registry
from tblog.core.convert import prepare_scalar
from tblog.core.write.encoder import TENSOR
from tblog.core.write.queue import EventWriter
from tblog.writer.file_writer import ReopeningEventWriter

DEFAULT_REDUCE_TIMEOUT = 300.0  # seconds
REDUCE_OPS = ("mean", "sum", "min", "max")


def check_reduce(op: Any) -> None:
    """Raise ``ValueError`` unless ``op`` names a reduction."""
    if op not in REDUCE_OPS:
        raise ValueError(f"reduce must be one of {list(REDUCE_OPS)} or None, got {op!r}")


class ReduceError(RuntimeError):
    """A cross-rank reduction failed or did not complete within ``reduce_timeout``."""


def default_group() -> registry.ProcessGroup | None:
    """The default process group of a loaded framework, else ``None``."""
    for adapter in registry.loaded_adapters():
        if adapter.default_group is not None:
            group = adapter.default_group()
            if group is not None:
                return group
    return None


def world_size() -> int:
    """The world size of the process group, else of the environment (``WORLD_SIZE``, ...)."""
    group = default_group()
    if group is not None:
        return int(group.world_size)
    for var in ("WORLD_SIZE", "SLURM_NTASKS", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        value = os.environ.get(var)
        if value is not None and value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def publish(key: str, value: str) -> bool:
    """Set ``key`` to ``value`` in the default group's store, for :func:`lookup` on the
    other ranks; never waits. ``False`` without a process group or a store."""
    group = default_group()
    return bool(group is not None and group.publish(key, value))


def lookup(key: str, timeout: float) -> str | None:
    """The value some rank gave ``key`` with :func:`publish`, waiting up to ``timeout``
    seconds for it; ``None`` after that, or without a process group or a store."""
    group = default_group()
    return None if group is None else group.lookup(key, timeout)


def rank_run(rank: int, world: int) -> str:
    """``rank_<rank>`` zero-padded to the width of the highest rank of ``world``."""
    width = len(str(max(world, rank + 1) - 1))
    return f"rank_{rank:0{width}d}"


class Reduction:
    """One issued reduction as a deferred scalar (``tblog_resolve``), settled once."""

    __slots__ = ("_collective", "_error", "_lock", "_op", "_reducer", "_step", "_tag", "_value")

    def __init__(
        self, collective: registry.Collective, reducer: Reducer, op: str, tag: str, step: int
    ) -> None:
        self._collective = collective
        self._reducer = reducer
        self._op, self._tag, self._step = op, tag, step
        self._value: float | None = None
        self._error: ReduceError | None = None
        self._lock = threading.Lock()

    def done(self) -> bool:
        """Finished (or already settled); never waits."""
        return self._value is not None or self._error is not None or self._collective.done()

    def tblog_resolve(self) -> float:
        return self.settle(self._reducer.timeout)

    def settle(self, timeout: float) -> float:
        """The reduced value, waiting up to ``timeout`` s; :class:`ReduceError` otherwise."""
        with self._lock:
            if self._value is None and self._error is None:
                self._settle(timeout)
            if self._error is not None:
                raise self._error
            assert self._value is not None
            return self._value

    def _settle(self, timeout: float) -> None:
        what = f"reduce={self._op!r} of {self._tag!r} at step {self._step}"
        earlier = self._reducer.broken
        if earlier is not None and not self._collective.done():
            self._error = ReduceError(f"tblog: {what} abandoned: an earlier reduction failed")
            return
        try:
            self._value = self._collective.result(max(timeout, 0.001))
        except Exception as exc:  # noqa: BLE001 - reported with the tag and the step
            self._error = ReduceError(
                f"tblog: {what} across ranks failed or did not complete within {timeout:g} s"
                f" (reduce_timeout; did a rank die or skip this call?): {exc}"
            )
            self._error.__cause__ = exc
            self._reducer.broken = self._error


class Reducer:
    """Issues reductions and keeps those not yet settled (``report``: this process learns
    of failures itself, as it writes no reduced value; else the writer thread does)."""

    def __init__(self, timeout: float, report: bool) -> None:
        if not timeout > 0:
            raise ValueError(f"reduce_timeout must be positive, got {timeout!r}")
        self.timeout = float(timeout)
        self.report = report
        self.broken: ReduceError | None = None
        self._group: registry.ProcessGroup | None = None
        self._pending: collections.deque[Reduction] = collections.deque()

    def issue(self, value: Any, op: str, tag: str, step: int) -> tuple[Any, Any]:
        """``(own value, reduced value)`` of ``value``: the reduced one deferred (the
        collective is issued now, waited for later); both the same without a group."""
        check_reduce(op)
        if self._pending:
            self.reap()
        own = prepare_scalar(value)  # checks the value before any collective is issued
        group = self._group or default_group()
        if group is None:
            return own, own
        self._group = group
        reduction = Reduction(group.all_reduce(value, op), self, op, tag, step)
        self._pending.append(reduction)
        return own, reduction

    def reap(self) -> None:
        """Drop the finished reductions; raise the first failure when reporting."""
        pending = self._pending
        while pending and pending[0].done():
            reduction = pending.popleft()
            if self.report:
                reduction.settle(0.001)

    def close(self) -> None:
        """Wait for the pending reductions, ``timeout`` seconds in all; raise the first
        failure when reporting."""
        deadline = time.monotonic() + self.timeout
        first: ReduceError | None = None
        while self._pending:
            reduction = self._pending.popleft()
            try:
                reduction.settle(deadline - time.monotonic())
            except ReduceError as exc:
                first = first or exc
        if first is not None and self.report:
            raise first


class RankEventWriter(ReopeningEventWriter):
    """The EventWriter of a ``per_rank`` writer: with ``mirror`` (a writer of the main run)
    each scalar, summary and event also goes into the rank run ``mirror``; without, it is
    rooted at the rank run. ``close`` also settles the reductions of ``reducer``."""

    mirror = ""
    reducer: Reducer | None = None

    def _mirrored(self, run: str) -> str:
        return f"{self.mirror}/{run}" if run else self.mirror

    def scalar(
        self, run: str, tag: str, value: Any, step: int, wall_time: float, encoding: int = TENSOR
    ) -> None:
        super().scalar(run, tag, value, step, wall_time, encoding)
        if self.mirror:
            super().scalar(self._mirrored(run), tag, value, step, wall_time, encoding)

    def scalar_pair(
        self, run: str, tag: str, main: Any, own: Any, step: int, wall: float, encoding: int
    ) -> None:
        """``main`` into ``run`` and ``own`` into its rank run (a reduction)."""
        super().scalar(run, tag, main, step, wall, encoding)
        super().scalar(self._mirrored(run), tag, own, step, wall, encoding)

    def summary(self, run: str, summary: Any, step: int, wall_time: float) -> None:
        super().summary(run, summary, step, wall_time)
        if self.mirror:
            super().summary(self._mirrored(run), summary, step, wall_time)

    def event(self, run: str, data: bytes) -> None:
        super().event(run, data)
        if self.mirror:
            super().event(self._mirrored(run), data)

    def close(self, timeout: float | None = None) -> None:
        try:
            super().close(timeout)
        finally:
            if self.reducer is not None:
                self.reducer.close()


class Ranks:
    """What a writer does across ranks: its EventWriter (``None``: it writes nothing) and
    its reductions."""

    def __init__(
        self,
        path: str,
        writes: bool,
        per_rank: bool,
        rank_zero_only: bool,
        reduce_timeout: float,
        options: dict[str, Any],
    ) -> None:
        from tblog.writer.ranks import global_rank

        rank = global_rank() if per_rank or not rank_zero_only else 0
        writes_main = writes and (rank == 0 or not rank_zero_only)
        self.reducer = Reducer(reduce_timeout, report=not writes_main)
        self.events: EventWriter | None = None
        self.rank_only = False
        self.run: str | None = None  # this rank's run (per_rank), relative to the log dir
        if not writes:
            return
        if not per_rank:
            self.events = ReopeningEventWriter(path, **options)
            return
        run = self.run = rank_run(rank, world_size())
        if writes_main:
            events = RankEventWriter(path, **options)
            events.mirror = run
        else:
            events = RankEventWriter(f"{path.rstrip('/')}/{run}", **options)
            events.reducer = self.reducer
            self.rank_only = True
        self.events = events

    def reduced(self, op: str) -> Callable[[str, str, Any, int, float, int], None]:
        """``EventWriter.scalar``'s signature, reducing each value with ``op``."""

        def scalar(run: str, tag: str, value: Any, step: int, wall: float, encoding: int) -> None:
            self.scalar(run, tag, value, step, wall, encoding, op)

        return scalar

    def scalar(
        self, run: str, tag: str, value: Any, step: int, wall: float, encoding: int, op: str
    ) -> None:
        """Issue the reduction of ``value`` and queue what this rank writes of it."""
        own, reduced = self.reducer.issue(value, op, tag, step)
        events = self.events
        if events is None:
            return
        if self.rank_only:
            events.scalar(run, tag, own, step, wall, encoding)
        elif isinstance(events, RankEventWriter):
            events.scalar_pair(run, tag, reduced, own, step, wall, encoding)
        else:
            events.scalar(run, tag, reduced, step, wall, encoding)
