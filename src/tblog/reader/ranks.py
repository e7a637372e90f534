"""Rank runs: ``rank_<r>`` runs (one per process of a distributed job, zero-padded so they
sort) grouped under their parent, and the spread of a tag across ranks at the last step
they all logged, so that a straggler or a diverging rank stands out.

A run is a rank run when one of its path parts is ``rank_<digits>`` (the last such part
counts): ``rank_3`` has parent ``.`` (the log dir), ``exp/rank_03/system`` has parent
``exp/system`` (the rank part removed) and rank 3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from tblog.core.read.scan import Run

_RANK = re.compile(r"rank_(\d+)")


def split_rank(run: str) -> tuple[str, int | None]:
    """``(parent, rank)`` of a rank run, ``(run, None)`` for any other run."""
    parts = run.split("/")
    for i in range(len(parts) - 1, -1, -1):
        m = _RANK.fullmatch(parts[i])
        if m:
            rest = parts[:i] + parts[i + 1 :]
            return "/".join(rest) or ".", int(m.group(1))
    return run, None


def rank_groups(runs: list[str]) -> dict[str, dict[int, str]]:
    """``{parent: {rank: run}}`` of the rank runs among ``runs`` (parents in name order)."""
    groups: dict[str, dict[int, str]] = {}
    for run in sorted(runs):
        parent, rank = split_rank(run)
        if rank is not None:
            groups.setdefault(parent, {})[rank] = run
    return {p: dict(sorted(g.items())) for p, g in sorted(groups.items())}


@dataclass
class Spread:
    """One scalar tag of one rank group: the values of each rank at ``step``, the last step
    every rank that logs the tag has logged (``None`` when they share none), and each
    rank's last step."""

    parent: str
    tag: str
    step: int | None
    values: dict[int, float] = field(default_factory=dict)
    last_steps: dict[int, int] = field(default_factory=dict)

    @property
    def ranks(self) -> list[int]:
        return sorted(self.last_steps)

    @property
    def min(self) -> tuple[float, int]:
        """``(value, rank)``: the smallest value at ``step`` (the lowest rank on ties)."""
        rank = min(self.values, key=lambda r: (self.values[r], r))
        return self.values[rank], rank

    @property
    def max(self) -> tuple[float, int]:
        """``(value, rank)``: the largest value at ``step`` (the lowest rank on ties)."""
        rank = max(self.values, key=lambda r: (self.values[r], -r))
        return self.values[rank], rank

    @property
    def median(self) -> float:
        return float(np.median(list(self.values.values())))

    @property
    def behind(self) -> dict[int, int]:
        """``{rank: last step}`` of the ranks whose last step is before the others' latest."""
        latest = max(self.last_steps.values())
        return {r: s for r, s in sorted(self.last_steps.items()) if s < latest}


def spreads(loaded: dict[str, Run]) -> list[Spread]:
    """The :class:`Spread` of every scalar tag that two or more ranks of a group log."""
    out = []
    for parent, ranks in rank_groups(list(loaded)).items():
        tags = sorted({t for run in ranks.values() for t in loaded[run].series})
        for tag in tags:
            series = {}
            for rank, run in ranks.items():
                s = loaded[run].series.get(tag)
                if s is not None and s.values is not None and s.steps.size:
                    series[rank] = s
            if len(series) < 2:
                continue
            common = set.intersection(*(set(s.steps.tolist()) for s in series.values()))
            step = max(common) if common else None
            spread = Spread(parent, tag, step)
            for rank, s in series.items():
                spread.last_steps[rank] = int(s.steps.max())
                if step is not None and s.values is not None:
                    spread.values[rank] = float(s.values[np.flatnonzero(s.steps == step)[-1]])
            out.append(spread)
    return out
