"""The HPARAMS dashboard does not list the checkpoint records as metrics.

With no ``_hparams_/experiment`` in a log dir, TensorBoard's hparams plugin makes every
scalar tag of a session's runs a metric (``backend_context._compute_metric_names``), so a
run with an hparams session and checkpoint records showed ``checkpoint/step`` as a metric
column. Read through TensorBoard's own hparams backend (what the dashboard calls).
"""

from __future__ import annotations

import os

import pytest
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning_logs import session_groups
from lightning_support import fit

import tblog

CHECKPOINT_TAGS = ("checkpoint/step", "checkpoint/saved", "checkpoint/restored")


def metric_tags(logdir: str) -> list[set[str]]:
    """The metric tags of each session group the dashboard lists."""
    groups = session_groups(logdir).session_groups
    assert groups, "the dashboard lists no session"
    return [{m.name.tag for m in g.metric_values} for g in groups]


@pytest.mark.slow
def test_lightning_session_metrics_leave_out_checkpoint_records(tmp_path):
    save_dir = str(tmp_path)
    logger = tblog.TBLogger(save_dir)
    ckpt = ModelCheckpoint(dirpath=str(tmp_path / "ckpts"), every_n_epochs=1, save_top_k=-1)
    fit(logger, max_epochs=2, callbacks=[ckpt])
    assert tblog.scalars(logger.log_dir, tags="^checkpoint/step$").shape[0] == 2
    (tags,) = metric_tags(os.path.join(save_dir, "lightning_logs"))
    assert {"train/loss", "val/loss", "hp_metric"} <= tags
    assert not tags & set(CHECKPOINT_TAGS), sorted(tags)


def test_add_hparams_session_metrics_leave_out_checkpoint_records(tmp_path):
    logdir = tmp_path / "logs"
    writer = tblog.SummaryWriter(str(logdir / "run"))
    manager = tblog.CheckpointManager(str(tmp_path / "ckpts"), writer=writer)
    for step in range(4):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
        manager.save(step, {"step": step})
    writer.add_hparams({"lr": 0.1}, {"loss": 0.25})
    writer.close()
    assert tblog.scalars(str(logdir), tags="^checkpoint/step$").shape[0] == 4
    (tags,) = metric_tags(str(logdir))
    assert tags == {"loss"}
