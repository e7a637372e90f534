"""Resume marks as queue items the write path handles itself.

A resume after a restore of the checkpoint of step N must write, into each run, a few
events (data-server placeholders, ``SessionLog START``\\ s, checkpoint records: what
:mod:`tblog.checkpoint.recorder` decides) just before that run's first item at a step >=
N, at a step S chosen then: N when that item's step is N, else N + 1. Two queue items carry
this through the write path, in order with everything else:

- :class:`MarkItem` (queued by ``EventWriter.mark``): from here on, the runs of
  ``plans`` are pending, per step group (``groups``: ``(prefixes, N)``; group 0, prefixes
  ``()``, takes the tags no other group's prefixes start). It replaces the marks still
  pending from an earlier MarkItem of the same writer.
- :class:`SettleItem` (queued by ``EventWriter.settle`` and by ``close``): every group
  still pending is marked here, at its N + 1.

The pending state is a :class:`Marks` per ``EventWriter``, used on its writer thread only
(no lock): :meth:`Marks.apply` takes a batch taken off the queue and returns it with the
mark items consumed and each mark's events (``EventItem``) in place. A writer with
nothing pending never calls it (its batches cost nothing more).

What a mark writes comes from its run's :class:`MarkPlan` (the write path only decides
where and at which S):

- ``begin(start, wall)``: the events written once per run, at the run's mark S = the
  smallest of this group's S and the N of the groups still pending;
- ``again(group, start, mark, wall)``: the events of ``group`` written again between the
  run's S and this group's own S (a group marked later than its run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tblog.core.write.encoder import EventItem, SummaryItem


class MarkPlan(Protocol):
    """What a run's mark writes (see the module docstring)."""

    def begin(self, start: int, wall: float) -> list[bytes]: ...

    def again(self, group: int, start: int, mark: int, wall: float) -> list[bytes]: ...


class MarkItem:
    """Mark the runs of ``plans`` at their first item at a step >= each group's N
    (``groups``: ``(tag prefixes, N)``, the first one with prefixes ``()``)."""

    __slots__ = ("groups", "plans")

    def __init__(
        self, groups: Sequence[tuple[tuple[str, ...], int]], plans: Mapping[str, MarkPlan]
    ) -> None:
        self.groups = tuple((tuple(p), int(n)) for p, n in groups)
        self.plans = dict(plans)


class SettleItem:
    """Mark every group still pending here, at its N + 1."""

    __slots__ = ()


MARK_ITEMS = (MarkItem, SettleItem)


class _Run:
    __slots__ = ("plan", "resolved", "start")

    def __init__(self, plan: MarkPlan) -> None:
        self.plan = plan
        self.start: int | None = None
        self.resolved: set[int] = set()


class Marks:
    """The pending marks of one ``EventWriter`` (its writer thread only)."""

    def __init__(self) -> None:
        self.runs: dict[str, _Run] = {}  # the runs still pending (empty: nothing to do)
        self._groups: tuple[tuple[tuple[str, ...], int], ...] = ()

    def apply(self, batch: list[Any], wall: float) -> list[Any]:
        """``batch`` with its mark items consumed and the marks' events in their place (the
        queue calls it only while marks are pending or a batch holds a mark item)."""
        kinds = set(map(type, batch))  # found in C
        if (  # the common case: nothing pending, or no item of a pending run in this batch
            MarkItem not in kinds
            and SettleItem not in kinds
            and (not self.runs or self.runs.keys().isdisjoint(map(_run_of, batch)))
        ):
            return batch
        out: list[Any] = []
        for item in batch:
            kind = type(item)
            if kind is tuple:
                if self.runs:
                    self._trigger(item[0], item[1], item[3], wall, out)
            elif kind is SummaryItem:
                values = item.summary.value
                if self.runs and values:
                    self._trigger(item.run, values[0].tag, item.step, wall, out)
            elif kind is MarkItem:
                self._groups = item.groups
                self.runs = {run: _Run(plan) for run, plan in item.plans.items()}
                continue
            elif kind is SettleItem:
                self._settle(wall, out)
                continue
            out.append(item)
        return out

    def _group(self, tag: str) -> int:
        groups = self._groups
        for g in range(1, len(groups)):
            if tag.startswith(groups[g][0]):
                return g
        return 0

    def _trigger(self, run: str, tag: str, step: Any, wall: float, out: list[Any]) -> None:
        r = self.runs.get(run)
        if r is None or type(step) is not int:
            return
        g = self._group(tag)
        n = self._groups[g][1]
        if g in r.resolved or step < n:
            return
        self._resolve(run, r, g, n if step == n else n + 1, wall, out)

    def _settle(self, wall: float, out: list[Any]) -> None:
        for run, r in list(self.runs.items()):
            for g, (_, n) in enumerate(self._groups):
                if g not in r.resolved:
                    self._resolve(run, r, g, n + 1, wall, out)

    def _resolve(self, run: str, r: _Run, g: int, mark: int, wall: float, out: list[Any]) -> None:
        """Mark group ``g`` of ``run`` at ``mark`` (and the run, if it is its first)."""
        data: list[bytes] = []
        if r.start is None:
            pending = [n for h, (_, n) in enumerate(self._groups) if h != g and h not in r.resolved]
            r.start = min([mark, *pending])
            data += r.plan.begin(r.start, wall)
        r.resolved.add(g)
        if len(self._groups) > 1:
            data += r.plan.again(g, r.start, mark, wall)
        out.extend(EventItem(run, d) for d in data)
        if len(r.resolved) == len(self._groups):
            del self.runs[run]


def _run_of(item: Any) -> Any:
    """The run a queued item writes to (a scalar is a tuple whose first field is its run)."""
    if type(item) is tuple:
        return item[0]
    return getattr(item, "run", None)
