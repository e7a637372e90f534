"""What ``tblog ls`` shows beyond each run's table: the run-info line of a run, and its
rank runs (``rank_<r>``) grouped under it with the spread of each tag several ranks log
at the last step they share (min / median / max and which rank), so that a straggler or a
diverging rank stands out."""

from __future__ import annotations

from typing import Any

from tblog.core import runinfo
from tblog.core.read.scan import Run
from tblog.reader.ranks import Spread, rank_groups, spreads


def info_text(value: Any) -> str | None:
    """``load_runs`` decoder: the text of a ``run/info`` value, ``None`` for others."""
    if value.tag != runinfo.TAG or not value.tensor.string_val:
        return None
    return bytes(value.tensor.string_val[0]).decode("utf-8", "replace")


def info_line(run: Run) -> str | None:
    """The one-line run info of ``run`` (its last ``run/info``), if it has one."""
    s = run.series.get(runinfo.TAG)
    if s is None or not s.items:
        return None
    texts = [t for t in s.items if isinstance(t, str)]
    return runinfo.one_line(runinfo.parse_markdown(texts[-1])) if texts else None


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def rank_tables(parent: str, runs: dict[int, str], loaded: dict[str, Run], fmt: Any) -> list[Any]:
    """The rich tables of one rank group: its ranks, then the spread of its tags (none
    for a group without ranks)."""
    if not runs:
        return []
    from rich.markup import escape
    from rich.table import Table

    ranks = Table(title=f"ranks of run [bold]{escape(fmt(parent))}[/bold]", title_justify="left")
    for name in ("rank", "run", "tags", "last step", "info"):
        ranks.add_column(name, justify="right" if name in ("rank", "tags", "last step") else "left")
    for rank, run in runs.items():
        r = loaded[run]
        steps = [int(s.steps.max()) for t, s in r.series.items() if s.steps.size]
        tags = [t for t in r.series if t != runinfo.TAG]
        ranks.add_row(
            str(rank),
            escape(fmt(run)),
            str(len(tags)),
            str(max(steps)) if steps else "-",
            escape(fmt(info_line(r) or "-")),
        )
    out = [ranks]
    group = [
        s for s in spreads({run: loaded[run] for run in runs.values()}) if s.tag != runinfo.TAG
    ]
    if group:
        out.append(spread_table(parent, group, fmt))
    return out


def spread_table(parent: str, group: list[Spread], fmt: Any) -> Any:
    from rich.markup import escape
    from rich.table import Table

    title = f"spread across the ranks of [bold]{escape(fmt(parent))}[/bold] at the last common step"
    table = Table(title=title, title_justify="left")
    for name in ("tag", "ranks", "step", "min", "min rank", "median", "max", "max rank", "behind"):
        table.add_column(name, justify="left" if name in ("tag", "behind") else "right")
    for s in group:
        behind = " ".join(f"{r}@{step}" for r, step in s.behind.items()) or "-"
        if s.step is None:
            table.add_row(escape(fmt(s.tag)), str(len(s.ranks)), "-", *["-"] * 5, behind)
            continue
        (lo, lo_rank), (hi, hi_rank) = s.min, s.max
        table.add_row(
            escape(fmt(s.tag)),
            str(len(s.ranks)),
            str(s.step),
            _fmt(lo),
            str(lo_rank),
            _fmt(s.median),
            _fmt(hi),
            str(hi_rank),
            behind,
        )
    return table


__all__ = ["info_line", "info_text", "rank_groups", "rank_tables", "spread_table"]
