"""``tblog ls`` groups rank runs under their parent and shows, per tag several ranks log, the
spread at the last common step (min / median / max and which rank, ranks behind), and each
run's run-info line; all checked against values computed here by hand."""

from __future__ import annotations

import socket

import pytest
import tb

import tblog
from tblog.cli import main

# rank -> loss per step; rank 2 lags (its last step is 3), rank 3 diverges
LOSS = {
    0: [4.0, 3.0, 2.0, 1.5, 1.2],
    1: [4.1, 3.1, 2.1, 1.6, 1.1],
    2: [4.2, 3.2, 2.2, 1.4],
    3: [4.0, 3.5, 5.0, 9.0, 20.0],
}


@pytest.fixture
def logdir(tmp_path):
    root = tmp_path / "logs"
    w = tblog.SummaryWriter(str(root / "exp"), run_info=True)
    w.add_scalar("loss", 1.3, 4)
    w.close()
    for rank, values in LOSS.items():
        w = tblog.SummaryWriter(str(root / "exp" / f"rank_{rank}"), rank_zero_only=False)
        for step, value in enumerate(values):
            w.add_scalar("loss", value, step)
        if rank in (0, 1):
            w.add_scalar("grad_norm", 0.5 + rank, 10)  # two ranks only
        if rank == 0:
            w.add_scalar("lr", 0.1, 0)  # one rank only: no spread
        w.close()
    return root


def _tables(out: str) -> dict[str, list[list[str]]]:
    """``{title: rows}`` of the rich tables printed (cells stripped)."""
    tables: dict[str, list[list[str]]] = {}
    title = None
    for line in out.splitlines():
        if line.startswith(("run ", "ranks of ", "spread across ")):
            title = line.strip()
            tables[title] = []
        elif line.startswith("│") and title is not None:
            tables[title].append([c.strip() for c in line.strip("│").split("│")])
    return tables


def test_ls_groups_ranks_and_shows_the_spread(logdir, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["ls", str(logdir)]) == 0
    out = capsys.readouterr().out
    tables = _tables(out)
    # rank runs get no table of their own: they are rows under their parent
    assert not [t for t in tables if t.startswith("run exp/rank_")]
    titles = list(tables)
    assert titles.index("ranks of run exp") == titles.index("run exp") + 1
    ranks = tables["ranks of run exp"]
    assert [(r[0], r[1]) for r in ranks] == [(str(k), f"exp/rank_{k}") for k in LOSS]
    # last step per rank, as TensorBoard reads each rank run
    for row in ranks:
        steps = [s for tag in ("loss", "grad_norm", "lr")
                 for s, _ in _tb_series(logdir / row[1], tag)]  # fmt: skip
        assert int(row[3]) == max(steps)

    spread = {
        row[0]: row for row in tables["spread across the ranks of exp at the last common step"]
    }
    assert set(spread) == {"loss", "grad_norm"}  # lr: one rank only
    # loss: the last step all four ranks logged is 3 (rank 2 stops there)
    at = {rank: values[3] for rank, values in LOSS.items()}  # 1.5, 1.6, 1.4, 9.0
    _, n, step, lo, lo_rank, median, hi, hi_rank, behind = spread["loss"]
    assert (n, step) == ("4", "3")
    assert float(lo) == pytest.approx(1.4) and lo_rank == "2"
    assert float(median) == pytest.approx((1.5 + 1.6) / 2)
    assert float(hi) == pytest.approx(9.0) and hi_rank == "3"
    assert float(lo) == min(at.values()) and float(hi) == max(at.values())
    assert behind == "2@3"
    _, n, step, lo, lo_rank, median, hi, hi_rank, behind = spread["grad_norm"]
    assert (n, step, lo_rank, hi_rank, behind) == ("2", "10", "0", "1", "-")
    assert (float(lo), float(median), float(hi)) == (0.5, 1.0, 1.5)


def test_ls_run_info_line(logdir, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["ls", str(logdir)]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  info: ")]
    assert len(lines) == 1  # only the parent run was written with run_info=True
    assert lines[0].split()[1] == socket.gethostname()
    assert "rank 0/1" in lines[0]


def test_ls_spread_without_a_common_step(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    for rank, step in ((0, 1), (1, 2)):
        w = tblog.SummaryWriter(str(tmp_path / f"rank_{rank}"), rank_zero_only=False)
        w.add_scalar("loss", 1.0, step)
        w.close()
    assert main(["ls", str(tmp_path)]) == 0
    tables = _tables(capsys.readouterr().out)
    [row] = tables["spread across the ranks of . at the last common step"]
    assert row[:3] == ["loss", "2", "-"]
    assert row[-1] == "0@1"


def _tb_series(run_dir, tag):
    acc = tb.accumulator(str(run_dir))
    if tag not in acc.Tags()["tensors"]:
        return []
    return tb.scalar_series(str(run_dir), tag)


def test_ls_tag_filter_keeps_the_group(logdir, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["ls", str(logdir), "--tag", "^grad"]) == 0
    tables = _tables(capsys.readouterr().out)
    spread = tables["spread across the ranks of exp at the last common step"]
    assert [row[0] for row in spread] == ["grad_norm"]
    counts = {row[0]: int(row[2]) for row in tables["ranks of run exp"]}
    assert counts == {"0": 1, "1": 1, "2": 0, "3": 0}
