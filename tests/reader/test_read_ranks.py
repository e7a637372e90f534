"""tblog.scalars(..., ranks=True): rank runs (rank_<r>) named by their parent with an Int64
``rank`` column (<NA> for other runs), values as TensorBoard's loader reads each run."""

from __future__ import annotations

import pandas as pd
import pytest
import tb

import tblog
from tblog.reader.ranks import split_rank


@pytest.fixture
def logdir(tmp_path):
    """A parent run, three zero-padded rank runs under it, a rank's sub-run and a run
    beside them."""
    root = tmp_path / "logs"
    w = tblog.SummaryWriter(str(root / "exp"))
    w.add_scalar("loss", 9.0, 0)
    w.close()
    for rank in range(3):
        w = tblog.SummaryWriter(str(root / "exp" / f"rank_{rank:02d}"), rank_zero_only=False)
        for step in range(4):
            w.add_scalar("loss", 10.0 * rank + step, step)
        w.close()
        w = tblog.SummaryWriter(str(root / "exp" / f"rank_{rank:02d}" / "system"))
        w.add_scalar("system/rss_mb", 100.0 + rank, 7)
        w.close()
    w = tblog.SummaryWriter(str(root / "other"))
    w.add_scalar("loss", 1.5, 2)
    w.close()
    return root


def test_split_rank():
    assert split_rank("rank_3") == (".", 3)
    assert split_rank("exp/rank_007") == ("exp", 7)
    assert split_rank("exp/rank_1/system") == ("exp/system", 1)
    assert split_rank("exp/rank_x") == ("exp/rank_x", None)
    assert split_rank("franked_1") == ("franked_1", None)
    assert split_rank(".") == (".", None)


def test_rank_and_parent_columns(logdir):
    frame = tblog.scalars(str(logdir), ranks=True)
    assert list(frame.columns) == ["run", "rank", "tag", "step", "wall_time", "value"]
    assert frame["rank"].dtype == pd.Int64Dtype()
    mux = tb.multiplexer(str(logdir))
    want = []
    for run in mux.Runs():
        for tag in mux.GetAccumulator(run).Tags()["tensors"]:
            for step, value in tb.scalar_series(logdir / run, tag):
                parts = run.split("/")
                rank = next((int(p[5:]) for p in parts if p.startswith("rank_")), None)
                parent = "/".join(p for p in parts if not p.startswith("rank_"))
                want.append((parent, rank, tag, step, value))
    got = [
        (r.run, None if pd.isna(r.rank) else int(r.rank), r.tag, r.step, r.value)
        for r in frame.itertuples()
    ]
    assert sorted(got, key=str) == sorted(want, key=str)
    assert set(frame.loc[frame["rank"].isna(), "run"]) == {"exp", "other"}
    assert set(frame.loc[frame["run"] == "exp/system", "rank"].tolist()) == {0, 1, 2}


def test_without_ranks_unchanged(logdir):
    frame = tblog.scalars(str(logdir))
    assert "rank" not in frame.columns
    assert "exp/rank_01" in set(frame["run"])


def test_pivot_with_ranks(logdir):
    wide = tblog.scalars(str(logdir), tags="^loss$", ranks=True, pivot=True)
    assert list(wide.columns) == ["run", "rank", "step", "loss"]
    rows = {
        (r.run, None if pd.isna(r.rank) else int(r.rank), r.step): r.loss for r in wide.itertuples()
    }
    want = {("exp", None, 0): 9.0, ("other", None, 2): 1.5}
    want.update({("exp", rank, step): 10.0 * rank + step for rank in range(3) for step in range(4)})
    assert rows == want
