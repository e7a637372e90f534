"""A Lightning run killed with SIGKILL and resumed with ``fit(ckpt_path=...)``: TensorBoard
shows one continuous run in the same version directory, one value per step."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
import tb
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning_support import fit
from paths import SUPPORT

import tblog

pytestmark = pytest.mark.slow  # Lightning Trainer fits, SIGKILLed and resumed

EPOCHS = 4  # 4 batches an epoch: steps 0..15, a checkpoint at the end of each epoch
KILL_AT = 11  # global step at which the first process kills itself (after the step-8 checkpoint)

CHILD = f"""
import os, signal, sys
sys.path.insert(0, {str(SUPPORT)!r})
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning_support import fit
import tblog

class Kill(Callback):
    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == {KILL_AT}:
            # As after any crash more than 0.5 s past the checkpoint: the points logged
            # after it are on disk (stale once resumed), then the process dies.
            trainer.logger.experiment.flush()
            os.kill(os.getpid(), signal.SIGKILL)

dirpath = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "-" else None
if len(sys.argv) > 3:  # mid-epoch checkpoints, every N optimizer steps
    ckpt = ModelCheckpoint(every_n_train_steps=int(sys.argv[3]), save_top_k=-1)
else:
    ckpt = ModelCheckpoint(dirpath=dirpath, every_n_epochs=1, save_top_k=-1,
                           save_last=dirpath is not None)
fit(tblog.TBLogger(sys.argv[1]), max_epochs={EPOCHS}, validate=False, callbacks=[ckpt, Kill()])
"""


def checkpoint(dirpath=None) -> ModelCheckpoint:
    return ModelCheckpoint(
        dirpath=dirpath, every_n_epochs=1, save_top_k=-1, save_last=dirpath is not None
    )


def test_sigkill_then_resume_continues_the_same_run(tmp_path):
    save_dir, ref_dir = str(tmp_path / "run"), str(tmp_path / "ref")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, save_dir], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    run_dir = os.path.join(save_dir, "lightning_logs", "version_0")
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    assert sorted(os.listdir(ckpt_dir)) == ["epoch=0-step=4.ckpt", "epoch=1-step=8.ckpt"]
    before = tb.scalar_series(run_dir, "train/loss")
    # Steps 0..9 were logged (the batch that reached step 11 was not): 8 and 9 are stale.
    assert [s for s, _ in before] == list(range(KILL_AT - 1))

    # Resume with version=None: the checkpoint's directory selects version_0.
    logger = tblog.TBLogger(save_dir)
    resume_from = os.path.join(ckpt_dir, "epoch=1-step=8.ckpt")
    fit(logger, max_epochs=EPOCHS, validate=False, callbacks=[checkpoint()], ckpt_path=resume_from)
    assert logger.log_dir == run_dir
    assert os.listdir(os.path.join(save_dir, "lightning_logs")) == ["version_0"]
    assert sum("tfevents" in f for f in os.listdir(run_dir)) == 2

    # The same training without the crash, for the values.
    ref_logger = tblog.TBLogger(ref_dir)
    fit(ref_logger, max_epochs=EPOCHS, validate=False, callbacks=[checkpoint()])

    # TensorBoard shows the resumed run exactly as the uninterrupted one: every scalar tag
    # has the same steps (one value per step, no zig-zag, nothing lost) and values.
    # (Lightning logs `epoch` with the last batch of an epoch and again with the epoch-end
    # metrics, at the same step, with either logger: that tag repeats steps in both runs.)
    acc = tb.accumulator(run_dir)
    got, ref = tb.mux_scalars(save_dir), tb.mux_scalars(ref_dir)
    assert set(got) == set(ref)
    assert {tag for _, tag in got} >= {"train/loss", "train/acc_step", "train/acc_epoch", "epoch"}
    for key, series in ref.items():
        steps = [s for s, _ in got[key]]
        assert steps == [s for s, _ in series], key
        if key[1] != "epoch":
            assert steps == sorted(set(steps)), key
        np.testing.assert_allclose([v for _, v in got[key]], [v for _, v in series], rtol=1e-5)
    loss_steps = [s for s, _ in got[("lightning_logs/version_0", "train/loss")]]
    assert loss_steps == list(range(4 * EPOCHS))
    assert [v for _, v in tb.scalar_series(run_dir, "hp_metric")] == [-1.0]

    # Checkpoint records match the files on disk: `checkpoint/step` has one point per file
    # at its step, each file is named by a `saved` entry (the one of the checkpoint resumed
    # from is written again after the mark at 8), and the restore is recorded at 8.
    on_disk = sorted(
        set(os.listdir(ckpt_dir)) - {"last.ckpt"},
        key=lambda n: int(re.search(r"step=(\d+)", n).group(1)),
    )
    assert on_disk == [f"epoch={e}-step={4 * (e + 1)}.ckpt" for e in range(EPOCHS)]
    assert [s for s, _ in got[("lightning_logs/version_0", "checkpoint/step")]] == [4, 8, 12, 16]
    saved = [
        (e.step, tb.array(e).item().decode()) for e in acc.Tensors("checkpoint/saved/text_summary")
    ]
    restored = [
        (e.step, tb.array(e).item().decode())
        for e in acc.Tensors("checkpoint/restored/text_summary")
    ]
    assert [step for step, _ in saved] == [4, 8, 12, 16]
    assert len(restored) == 1 and restored[0][0] == 8 and resume_from in restored[0][1]
    for (step, text), name in zip(saved, on_disk, strict=True):
        assert os.path.join(ckpt_dir, name) in text and f"step={step}." in name


def test_sigkill_after_a_mid_epoch_checkpoint_then_resume_keeps_every_step(tmp_path):
    """Checkpoints every 3 optimizer steps (mid-epoch: 4 batches an epoch), killed at 11,
    resumed from the step-9 checkpoint: one point per step from 0 to the last, none lost
    (the reviewer saw step 8 of 32 lost under the earlier resume code), the points before
    the checkpoint exactly those the first process logged, under both TensorBoard loaders
    and ``tblog.scalars``."""
    from tbserver import TensorBoardServer

    save_dir = str(tmp_path / "run")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, save_dir, "-", "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    run_dir = os.path.join(save_dir, "lightning_logs", "version_0")
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    names = sorted(os.listdir(ckpt_dir), key=lambda n: int(re.search(r"step=(\d+)", n).group(1)))
    assert names == ["epoch=0-step=3.ckpt", "epoch=1-step=6.ckpt", "epoch=2-step=9.ckpt"]
    before = dict(tb.scalar_series(run_dir, "train/loss"))
    assert sorted(before) == list(range(KILL_AT - 1))  # 9 (after the checkpoint) is stale

    logger = tblog.TBLogger(save_dir)
    trainer = fit(
        logger,
        max_epochs=EPOCHS,
        validate=False,
        callbacks=[ModelCheckpoint(every_n_train_steps=3, save_top_k=-1)],
        ckpt_path=os.path.join(ckpt_dir, names[-1]),
    )
    assert logger.log_dir == run_dir
    last = trainer.global_step
    assert last >= 4 * EPOCHS
    python_loader = tb.scalar_series(run_dir, "train/loss")
    assert [s for s, _ in python_loader] == list(range(last))
    for step, value in python_loader[:9]:  # what the checkpoint of step 9 had seen
        assert value == pytest.approx(before[step], rel=1e-6), step
    frame = tblog.scalars(save_dir, tags="^train/loss$")
    assert frame.step.tolist() == list(range(last))
    np.testing.assert_allclose(frame.value, [v for _, v in python_loader], rtol=1e-6)
    with TensorBoardServer(save_dir, load_fast=True) as server:
        series = server.wait_for(
            lambda: (
                got
                if len(got := server.scalars("lightning_logs/version_0", "train/loss")) >= last
                else None
            ),
            timeout=90,
        )
    assert [s for s, _ in series] == list(range(last))
    restored = [e.step for e in tb.accumulator(run_dir).Tensors("checkpoint/restored/text_summary")]
    assert restored == [9]


def _crash(save_dir, dirpath):
    child = subprocess.run(
        [sys.executable, "-c", CHILD, save_dir, dirpath],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]


@pytest.mark.parametrize("how", ["path", "last"])
def test_checkpoints_outside_the_version_folder_continue_the_version(tmp_path, how):
    """``ModelCheckpoint(dirpath=<elsewhere>)``: the logger's version travels in the
    checkpoint, so ``fit(ckpt_path=<file>)`` and ``fit(ckpt_path="last")`` continue
    ``version_0`` (no ``version_1``), one point per step under both TensorBoard loaders."""
    from tbserver import TensorBoardServer

    save_dir, ckpts = str(tmp_path / "run"), str(tmp_path / "ckpts")
    _crash(save_dir, ckpts)
    run_dir = os.path.join(save_dir, "lightning_logs", "version_0")
    ckpt = os.path.join(ckpts, "epoch=1-step=8.ckpt") if how == "path" else "last"
    logger = tblog.TBLogger(save_dir)
    trainer = fit(
        logger, max_epochs=EPOCHS, validate=False, callbacks=[checkpoint(ckpts)], ckpt_path=ckpt
    )
    assert trainer.global_step == 4 * EPOCHS
    assert logger.log_dir == run_dir
    assert os.listdir(os.path.join(save_dir, "lightning_logs")) == ["version_0"]
    assert "epoch=3-step=16.ckpt" in os.listdir(ckpts) and "last.ckpt" in os.listdir(ckpts)
    # one checkpoint record per step, though each save also wrote last.ckpt
    assert [s for s, _ in tb.scalar_series(run_dir, "checkpoint/step")] == [4, 8, 12, 16]
    loss = tb.scalar_series(run_dir, "train/loss")
    assert [s for s, _ in loss] == list(range(4 * EPOCHS))
    ref_logger = tblog.TBLogger(str(tmp_path / "ref"))
    fit(ref_logger, max_epochs=EPOCHS, validate=False, callbacks=[checkpoint(str(tmp_path / "rc"))])
    ref = tb.scalar_series(ref_logger.log_dir, "train/loss")
    np.testing.assert_allclose([v for _, v in loss], [v for _, v in ref], rtol=1e-5)
    with TensorBoardServer(save_dir, load_fast=True) as server:
        series = server.wait_for(
            lambda: (
                server.scalars("lightning_logs/version_0", "train/loss")
                if len(server.scalars("lightning_logs/version_0", "train/loss")) >= len(loss)
                else None
            ),
            timeout=90,
        )
    assert [s for s, _ in series] == list(range(4 * EPOCHS))
    np.testing.assert_allclose([v for _, v in series], [v for _, v in loss], rtol=1e-5)


def test_resume_uses_no_private_trainer_api():
    """The resume path names only public Lightning API (no stack walking)."""
    import inspect

    from tblog.integrations.lightning import _trainer, logger

    for module in (_trainer, logger):
        source = inspect.getsource(module)
        assert "_getframe" not in source and "f_locals" not in source, module.__name__
        assert "trainer._" not in source and "fit_loop" not in source, module.__name__


def test_what_is_logged_before_a_resumed_fit_continues_with_the_version(tmp_path):
    """Logged before ``fit(ckpt_path=...)`` (a config text, a scalar at step 0): it went into
    the version claimed for this fit, and moves with the run into the checkpoint's version;
    the claimed directory goes."""
    save_dir = str(tmp_path)
    fit(tblog.TBLogger(save_dir), max_epochs=2, validate=False, callbacks=[checkpoint()])
    run_dir = os.path.join(save_dir, "lightning_logs", "version_0")
    logger = tblog.TBLogger(save_dir, run_info=True)
    logger.experiment.add_text("config", "lr=0.2", 0)
    logger.log_metrics({"pre/scalar": 7.0}, step=0)
    assert logger.version == 1  # claimed for this fit
    resume_from = os.path.join(run_dir, "checkpoints", "epoch=0-step=4.ckpt")
    fit(logger, max_epochs=2, validate=False, callbacks=[checkpoint()], ckpt_path=resume_from)
    assert os.listdir(os.path.join(save_dir, "lightning_logs")) == ["version_0"]
    assert tb.scalar_series(run_dir, "pre/scalar") == [(0, 7.0)]
    [text] = tb.accumulator(run_dir).Tensors("config/text_summary")
    assert (text.step, tb.array(text).item()) == (0, b"lr=0.2")
    assert [s for s, _ in tb.scalar_series(run_dir, "train/loss")] == list(range(8))
    assert [s for s, _ in tb.scalar_series(run_dir, "checkpoint/step")] == [4, 8]
    # the resumed fit's log_hyperparams adds no second hp_metric (the run has its own)
    assert tb.scalar_series(run_dir, "hp_metric") == [(0, -1.0)]
    # one run info of this process: the moved one (its writer there adds none)
    assert [e.step for e in tb.accumulator(run_dir).Tensors("run/info")] == [0]
