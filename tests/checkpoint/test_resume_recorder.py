"""The checkpoint recorder in the core: its step validator, step axes, and marks made at
the next save; read back with TensorBoard's Python loader."""

from __future__ import annotations

import time

import numpy as np
import pytest
import tb

import tblog
from tblog.checkpoint.recorder import Axis, CheckpointRecorder, mark_resume
from tblog.core.convert import to_step


def check_step(step):
    return to_step(step, "step", non_negative=True)


def test_check_step_exact_up_to_int64():
    torch = pytest.importorskip("torch")
    big = 2**53 + 1  # not a float
    assert check_step(big) == big
    assert check_step(np.int64(2**62 + 1)) == 2**62 + 1
    assert check_step(np.uint64(2**63 - 1)) == 2**63 - 1
    assert check_step(torch.tensor(big)) == big
    assert check_step(np.array([7])) == 7
    assert check_step(5.0) == 5
    assert check_step(np.float32(6.0)) == 6


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (True, TypeError),
        ("3", TypeError),
        (None, TypeError),
        ([1, 2], TypeError),
        (np.array([1, 2]), TypeError),
        (5.5, ValueError),
        (-1, ValueError),
        (2**63, ValueError),
        (np.float64("nan"), ValueError),
    ],
)
def test_check_step_rejects(bad, error):
    with pytest.raises(error, match="step"):
        check_step(bad)


def test_two_step_axes_continue_each_at_its_checkpoint(tmp_path):
    """Batch tags count iterations, epoch tags epochs (Keras): a checkpoint of 20 iterations
    (= epoch 2 starts) keeps each axis' history up to it and replaces what came after."""
    w = tblog.SummaryWriter(tmp_path)
    for it in range(1, 26):  # crashed during epoch 2, at iteration 25
        w.add_scalar("batch_loss", float(it), it)
        if it % 10 == 0:
            w.add_scalar("epoch_loss", float(it // 10 - 1), it // 10 - 1)
    w.flush()
    time.sleep(1.05)
    w2 = tblog.SummaryWriter(tmp_path)
    mark_resume(w2, 2, axes=[Axis(("batch_",), 20)])
    for it in range(21, 31):
        w2.add_scalar("batch_loss", 1000.0 + it, it)
    w2.add_scalar("epoch_loss", 1002.0, 2)
    w2.close()
    w.close()
    batch = tb.scalar_series(tmp_path, "batch_loss")
    assert batch == [(i, float(i) if i <= 20 else 1000.0 + i) for i in range(1, 31)]
    assert tb.scalar_series(tmp_path, "epoch_loss") == [(0, 0.0), (1, 1.0), (2, 1002.0)]


def test_run_that_logs_nothing_is_marked_at_the_next_save(tmp_path):
    train, val = tblog.SummaryWriter(tmp_path / "t"), tblog.SummaryWriter(tmp_path / "v")
    for s in range(15):
        train.add_scalar("loss", float(s), s)
        val.add_scalar("val", float(s), s)
    train.flush()
    val.flush()
    time.sleep(1.05)
    t2, v2 = tblog.SummaryWriter(tmp_path / "t"), tblog.SummaryWriter(tmp_path / "v")
    rec = CheckpointRecorder([t2, v2])
    rec.restored(10, "ckpt-10")
    for s in range(11, 20):
        t2.add_scalar("loss", 100.0 + s, s)
    rec.before_save()
    rec.saved(20, "ckpt-20")
    v2.add_scalar("val", 120.0, 20)  # after the save: the mark (at 11) comes before it
    for w in (t2, v2, train, val):
        w.close()
    assert tb.scalar_series(tmp_path / "v", "val") == [(s, float(s)) for s in range(11)] + [
        (20, 120.0)
    ]
    loss = tb.scalar_series(tmp_path / "t", "loss")
    assert loss == [(s, float(s) if s <= 10 else 100.0 + s) for s in range(20)]
    acc = tb.accumulator(tmp_path / "t")
    restored = [e.step for e in acc.Tensors("checkpoint/restored/text_summary")]
    assert restored == [11]
    assert [e.step for e in acc.Tensors("checkpoint/step")] == [20]


@pytest.mark.parametrize("style", ["torch", "tf.summary"])
def test_save_records_written_again_at_a_mark_read_as_the_first_ones(tmp_path, style):
    """Resumed from an older checkpoint, the records of the later ones still on disk are
    written again after the START, in the writer's scalar encoding: the legacy
    ``EventAccumulator.Scalars`` (``simple_value`` only) sees every record the Python
    loader sees, as for the first process's records."""
    from tensorboard.backend.event_processing import event_accumulator

    _saved_at_3_6_9(tmp_path, style, 12)
    second = tblog.SummaryWriter(tmp_path, style=style)
    CheckpointRecorder(second).restored(3, "ckpt-3")
    for s in range(4, 8):
        second.add_scalar("loss", 100.0 + s, s)
    second.close()
    plugin = [s for s, _ in tb.scalar_series(tmp_path, "checkpoint/step")]
    assert plugin == [3, 6, 9]
    if style == "torch":
        legacy = event_accumulator.EventAccumulator(str(tmp_path))
        legacy.Reload()
        assert [e.step for e in legacy.Scalars("checkpoint/step")] == plugin
        assert [e.value for e in legacy.Scalars("checkpoint/step")] == [3.0, 6.0, 9.0]


@pytest.mark.parametrize("style", ["torch", "tf.summary"])
def test_a_resumed_save_at_a_newer_checkpoints_step_adds_no_second_point(tmp_path, style):
    """Resumed from an older checkpoint, the loop saves again at the steps of the newer
    ones still on disk (Lightning's ``epoch=1-step=8-v1.ckpt``): ``checkpoint/step`` keeps
    one point per step, and both saves keep their text."""
    _saved_at_3_6_9(tmp_path, style, 10)
    second = tblog.SummaryWriter(tmp_path, style=style)
    CheckpointRecorder(second).restored(3, "ckpt-3")
    for s in range(4, 13):
        second.add_scalar("loss", 100.0 + s, s)
        if s in (6, 9, 12):  # a new recorder each time, as the Lightning logger makes
            CheckpointRecorder(second).saved(s, f"ckpt-{s}-v1")
    second.close()
    assert tb.scalar_series(tmp_path, "checkpoint/step") == [(s, float(s)) for s in (3, 6, 9, 12)]
    texts = [
        (e.step, tb.array(e).item().decode())
        for e in tb.accumulator(tmp_path).Tensors("checkpoint/saved/text_summary")
    ]
    for s in (6, 9):
        assert (s, f"step {s}: `ckpt-{s}`") in texts
        assert (s, f"step {s}: `ckpt-{s}-v1`") in texts
    if style == "torch":
        assert _legacy_steps(tmp_path, "checkpoint/step") == [3, 6, 9, 12]


def test_resumed_twice_from_an_older_checkpoint_each_step_is_one_point(tmp_path):
    """The second resume finds two checkpoints of steps 6 and 9 on disk (the first run's and
    the first resume's): each keeps its text, and each step one ``checkpoint/step`` point."""
    _saved_at_3_6_9(tmp_path, "torch", 10)
    for again in ("v1", "v2"):
        w = tblog.SummaryWriter(tmp_path)
        CheckpointRecorder(w).restored(3, "ckpt-3")
        for s in range(4, 10):
            w.add_scalar("loss", 100.0 + s, s)
            if s in (6, 9):
                CheckpointRecorder(w).saved(s, f"ckpt-{s}-{again}")
        w.close()
        time.sleep(1.05)
    assert tb.scalar_series(tmp_path, "checkpoint/step") == [(s, float(s)) for s in (3, 6, 9)]
    assert _legacy_steps(tmp_path, "checkpoint/step") == [3, 6, 9]
    texts = {
        tb.array(e).item().decode()
        for e in tb.accumulator(tmp_path).Tensors("checkpoint/saved/text_summary")
    }
    assert {f"step {s}: `ckpt-{s}{v}`" for s in (6, 9) for v in ("", "-v1", "-v2")} <= texts


def _saved_at_3_6_9(logdir, style: str, last: int) -> None:
    """A first process: ``loss`` at steps 0..``last - 1``, checkpoints saved at 3, 6 and 9;
    then a second's wall clock (the resume's files sort after this one's)."""
    first = tblog.SummaryWriter(logdir, style=style)
    rec = CheckpointRecorder(first)
    for s in range(last):
        first.add_scalar("loss", float(s), s)
        if s in (3, 6, 9):
            rec.saved(s, f"ckpt-{s}")
    first.close()
    time.sleep(1.05)


def _legacy_steps(logdir, tag: str) -> list[int]:
    from tensorboard.backend.event_processing import event_accumulator

    legacy = event_accumulator.EventAccumulator(str(logdir))
    legacy.Reload()
    return [e.step for e in legacy.Scalars(tag)]
