"""``TBLogger(per_rank=True)`` under a 2-process ``ddp_spawn`` fit on CPU: rank 0 writes
the main run, every rank its own run ``rank_<r>`` in rank 0's version directory, each with
that rank's points (read back with TensorBoard's loaders)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import tb
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning_ranks import RankDigits
from lightning_support import fit
from paths import SUPPORT
from ranks import free_port

import tblog

pytestmark = pytest.mark.slow  # a 2-process Lightning Trainer fit


def test_ddp_spawn_per_rank_runs_hold_each_ranks_points(tmp_path):
    (tmp_path / "lightning_logs" / "version_0").mkdir(parents=True)  # an earlier run
    logger = tblog.TBLogger(str(tmp_path), per_rank=True)  # the ranks agree on version_1
    fit(logger, max_epochs=1, validate=False, model=RankDigits(), strategy="ddp_spawn", devices=2)
    root = tmp_path / "lightning_logs"
    assert sorted(os.listdir(root)) == ["version_0", "version_1"]  # every rank in one
    run_dir = root / "version_1"
    assert sorted(p.name for p in run_dir.iterdir() if p.is_dir()) == ["rank_0", "rank_1"]
    got = tb.mux_scalars(str(run_dir))
    # 256 samples, 2 ranks, batch 64: 2 steps on each rank; rank r logs 100 r + batch
    assert got[(".", "rank/id")] == [(0, 0.0), (1, 1.0)]
    assert got[("rank_0", "rank/id")] == [(0, 0.0), (1, 1.0)]
    assert got[("rank_1", "rank/id")] == [(0, 100.0), (1, 101.0)]
    assert got[("rank_0", "train/loss")] == got[(".", "train/loss")]
    assert [s for s, _ in got[("rank_1", "train/loss")]] == [0, 1]
    assert got[("rank_1", "train/loss")] != got[("rank_0", "train/loss")]  # other data


def test_ddp_spawn_per_rank_resume_continues_every_ranks_run(tmp_path):
    # rank 0 claims version_1 for the resumed fit, then continues the checkpoint's
    # version_0: every rank follows it, and each run shows one point per step
    save_dir = str(tmp_path)
    ckpt = ModelCheckpoint(every_n_epochs=1, save_top_k=-1)
    first = tblog.TBLogger(save_dir, per_rank=True)
    spawn = {"validate": False, "model": RankDigits(), "strategy": "ddp_spawn", "devices": 2}
    fit(first, max_epochs=2, callbacks=[ckpt], **spawn)
    run_dir = tmp_path / "lightning_logs" / "version_0"
    resume_from = run_dir / "checkpoints" / "epoch=0-step=2.ckpt"
    assert resume_from.exists()
    logger = tblog.TBLogger(save_dir, per_rank=True)
    logger.log_metrics({"pre": 7.0}, step=0)  # in this (parent) process, before the fit
    ckpt = ModelCheckpoint(every_n_epochs=1, save_top_k=-1)
    fit(logger, max_epochs=3, callbacks=[ckpt], ckpt_path=str(resume_from), **spawn)
    assert os.listdir(tmp_path / "lightning_logs") == ["version_0"]
    got = tb.mux_scalars(str(run_dir))
    # 2 steps an epoch on each rank; rank r logs 100 r + batch index
    for run, r in [(".", 0), ("rank_0", 0), ("rank_1", 1)]:
        assert got[(run, "rank/id")] == [(s, 100.0 * r + s % 2) for s in range(6)], run
    assert [s for s, _ in got[(".", "checkpoint/step")]] == [2, 4, 6]
    assert got[("rank_0", "checkpoint/step")] == got[(".", "checkpoint/step")]
    assert got[(".", "pre")] == [(0, 7.0)]  # moved along from the version claimed for it
    acc = tb.multiplexer(str(run_dir))
    for run in (".", "rank_0"):
        restored = acc.Tensors(run, "checkpoint/restored/text_summary")
        assert [e.step for e in restored] == [2], run


DDP_SCRIPT = f"""
import sys
sys.path.insert(0, {str(SUPPORT)!r})
from lightning_ranks import RankDigits
from lightning_support import fit
import tblog

# strategy="ddp" re-runs this script for rank 1: each process makes its own logger
fit(tblog.TBLogger(sys.argv[1], per_rank=True), max_epochs=1, validate=False,
    model=RankDigits(), strategy="ddp", devices=2)
"""


def test_ddp_subprocess_ranks_each_make_their_logger_and_share_one_version(tmp_path):
    # Lightning's default multi-process launcher: the script runs again for each rank
    (tmp_path / "lightning_logs" / "version_0").mkdir(parents=True)  # an earlier run
    script = tmp_path / "train.py"
    script.write_text(DDP_SCRIPT)
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    env.pop("RANK", None), env.pop("LOCAL_RANK", None), env.pop("WORLD_SIZE", None)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    root = tmp_path / "lightning_logs"
    assert sorted(os.listdir(root)) == ["version_0", "version_1"]
    got = tb.mux_scalars(str(root / "version_1"))
    assert got[("rank_0", "rank/id")] == [(0, 0.0), (1, 1.0)]
    assert got[("rank_1", "rank/id")] == [(0, 100.0), (1, 101.0)]
