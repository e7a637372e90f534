"""Rank zero only: a 2-process ``ddp_spawn`` run on CPU writes one run directory holding
one event file, and TensorBoard reads rank 0's metrics from it."""

from __future__ import annotations

import os

import pytest
import tb
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning_support import fit

import tblog

pytestmark = pytest.mark.slow  # a 2-process Lightning Trainer fit


def test_ddp_spawn_writes_one_run_with_one_event_file(tmp_path):
    save_dir = str(tmp_path)
    logger = tblog.TBLogger(save_dir)
    fit(
        logger,
        max_epochs=1,
        validate=False,
        callbacks=[ModelCheckpoint(every_n_epochs=1)],
        strategy="ddp_spawn",
        devices=2,
    )
    root = os.path.join(save_dir, "lightning_logs")
    assert os.listdir(root) == ["version_0"]
    run_dir = os.path.join(root, "version_0")
    files = sorted(os.listdir(run_dir))
    events = [f for f in files if f.startswith("events.out.tfevents.")]
    assert len(events) == 1
    assert sorted(set(files) - set(events)) == ["checkpoints", "hparams.yaml"]
    assert os.listdir(os.path.join(run_dir, "checkpoints")) == ["epoch=0-step=2.ckpt"]
    # 256 samples, 2 ranks, batch 64: 2 steps an epoch on each rank, logged once (rank 0).
    assert [s for s, _ in tb.scalar_series(run_dir, "train/loss")] == [0, 1]
    assert [s for s, _ in tb.scalar_series(run_dir, "checkpoint/step")] == [2]
    assert [s for s, _ in tb.scalar_series(run_dir, "hp_metric")] == [0]
