"""``TBLogger(per_rank=True)`` under a 2-process ``ddp_spawn`` fit on CPU: rank 0 writes
the main run, every rank its own run ``rank_<r>`` in rank 0's version directory, each with
that rank's points (read back with TensorBoard's loaders)."""

from __future__ import annotations

import os

import pytest
import tb
from lightning_ranks import RankDigits
from lightning_support import fit

import tblog

pytestmark = pytest.mark.slow  # a 2-process Lightning Trainer fit


def test_ddp_spawn_per_rank_runs_hold_each_ranks_points(tmp_path):
    # version given, as the README asks for per_rank: without it the ranks' agreement on
    # rank 0's version races with rank 1 opening its run in log_hyperparams (known, open)
    logger = tblog.TBLogger(str(tmp_path), per_rank=True, version=0)
    fit(logger, max_epochs=1, validate=False, model=RankDigits(), strategy="ddp_spawn", devices=2)
    root = tmp_path / "lightning_logs"
    assert os.listdir(root) == ["version_0"]  # every rank wrote into the one version
    run_dir = root / "version_0"
    assert sorted(p.name for p in run_dir.iterdir() if p.is_dir()) == ["rank_0", "rank_1"]
    got = tb.mux_scalars(str(run_dir))
    # 256 samples, 2 ranks, batch 64: 2 steps on each rank; rank r logs 100 r + batch
    assert got[(".", "rank/id")] == [(0, 0.0), (1, 1.0)]
    assert got[("rank_0", "rank/id")] == [(0, 0.0), (1, 1.0)]
    assert got[("rank_1", "rank/id")] == [(0, 100.0), (1, 101.0)]
    assert got[("rank_0", "train/loss")] == got[(".", "train/loss")]
    assert [s for s, _ in got[("rank_1", "train/loss")]] == [0, 1]
    assert got[("rank_1", "train/loss")] != got[("rank_0", "train/loss")]  # other data
