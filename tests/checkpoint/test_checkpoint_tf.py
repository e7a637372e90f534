"""The ``tf.train.CheckpointManager`` hook: ``examples/tf_yolo_checkpoint.py`` is killed at
step 80 (after saves at 0 and 50) and resumed; TensorBoard's Python loader and the Rust data
server must show each train and validation tag once per step, the resumed process must
reproduce the killed one's losses from the checkpoint on, the curves must equal those of the
same loop run straight through with ``tf.summary`` (the anchor), and the checkpoint
records must name the checkpoints on disk.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tb
from checkpoint_records import recorded_paths, texts
from paths import EXAMPLES
from tbserver import TensorBoardServer

from tblog.integrations.tensorflow.checkpoint import CheckpointHook

pytestmark = pytest.mark.slow  # TensorFlow training, SIGKILLed and resumed; servers

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("tensorflow is not installed", allow_module_level=True)

EXAMPLE = str(EXAMPLES / "tf_yolo_checkpoint.py")
STEPS, VAL_EVERY = 120, 25


def _run(logdir, *extra):
    proc = subprocess.run(
        [
            sys.executable,
            EXAMPLE,
            "--logdir",
            str(logdir),
            "--steps",
            str(STEPS),
            "--print-losses",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    losses = {
        int(m[0]): float(m[1]) for m in re.findall(r"step (\d+) total_loss (\S+)", proc.stdout)
    }
    return proc, losses


@pytest.fixture(scope="module")
def yolo(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("yolo")
    crashed, lost = _run(logdir, "--kill-at", "80")
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert sorted(lost) == list(range(80))
    resumed, kept = _run(logdir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from step 50 (global_steps=50)" in resumed.stdout
    anchor_dir = tmp_path_factory.mktemp("yolo_tf_summary")
    anchor, _ = _run(anchor_dir, "--tf-summary")  # straight through, logging with tf.summary
    assert anchor.returncode == 0, anchor.stderr[-2000:]
    return logdir, lost, kept, anchor_dir


def _checkpoint_steps(directory):
    return sorted(
        int(m[1]) for m in (re.match(r"ckpt-(\d+)\.index\Z", f) for f in os.listdir(directory)) if m
    )


def test_resumed_process_reproduces_the_killed_one(yolo):
    _, lost, kept, _ = yolo
    assert sorted(kept) == list(range(50, STEPS))
    np.testing.assert_allclose(
        [kept[s] for s in range(50, 80)], [lost[s] for s in range(50, 80)], rtol=1e-5
    )


def test_python_loader_one_value_per_step(yolo):
    logdir, lost, kept, _ = yolo
    got = tb.mux_scalars(logdir)
    train = {tag for run, tag in got if run == "train"}
    assert {"lr", "loss/total_loss", "loss/box_loss", "checkpoint/step"} <= train
    assert {tag for run, tag in got if run == "validation"} == {
        "loss/box_loss",
        "loss/conf_loss",
        "loss/prob_loss",
        "loss/total_loss",
    }
    for (run, tag), series in got.items():
        steps = [s for s, _ in series]
        if tag == "checkpoint/step":
            assert steps == [0, 50, 100]
        elif run == "train":
            assert steps == list(range(STEPS)), (run, tag)
        else:
            assert steps == list(range(0, STEPS, VAL_EVERY)), (run, tag)
    truth = [lost[s] if s < 50 else kept[s] for s in range(STEPS)]
    np.testing.assert_allclose([v for _, v in got[("train", "loss/total_loss")]], truth, rtol=1e-6)


def test_same_curves_as_tf_summary_straight_through(yolo):
    logdir, _, _, anchor_dir = yolo
    got, anchor = tb.mux_scalars(logdir), tb.mux_scalars(anchor_dir)
    assert set(got) == set(anchor) | {("train", "checkpoint/step")}
    for key, series in anchor.items():
        assert [s for s, _ in got[key]] == [s for s, _ in series], key
        np.testing.assert_allclose(
            [v for _, v in got[key]], [v for _, v in series], rtol=1e-5, err_msg=str(key)
        )


def test_checkpoint_records_match_files(yolo):
    logdir, _, _, _ = yolo
    ckdir = logdir / "checkpoints"
    on_disk = _checkpoint_steps(ckdir)
    assert on_disk == [0, 50, 100]
    train = logdir / "train"
    assert tb.scalar_series(train, "checkpoint/step") == [(s, float(s)) for s in on_disk]
    paths = recorded_paths(train)
    assert sorted(paths) == on_disk
    for step, recorded in paths.items():
        assert (
            os.path.exists(recorded[-1] + ".index") and CheckpointHook.step_of(recorded[-1]) == step
        )
    assert [s for s, _ in texts(train, "checkpoint/restored")] == [50]


def test_rust_data_server_agrees(yolo):
    logdir, _, _, _ = yolo
    expected = tb.mux_scalars(logdir)
    with TensorBoardServer(logdir, load_fast=True) as server:
        assert "Grpc" in server.get_json("/data/environment")["debug"]["data_provider"]
        server.wait_for(
            lambda: all(server.scalars(r, t) == s for (r, t), s in expected.items()), timeout=90
        )


def test_hook_rejects_bad_arguments():
    with pytest.raises(TypeError, match="manager"):
        CheckpointHook(object())

    class FakeManager:
        checkpoint = None

        def save(self, checkpoint_number=None, check_interval=True):
            return f"dir/ckpt-{checkpoint_number}"

    with pytest.raises(ValueError, match="save_interval_steps"):
        CheckpointHook(FakeManager(), save_interval_steps=0)
    with pytest.raises(TypeError, match="writer"):
        CheckpointHook(FakeManager(), writer=[object()])
    hook = CheckpointHook(FakeManager(), save_interval_steps=10)
    assert hook.save(10) == "dir/ckpt-10" and hook.save(11) is None
    with pytest.raises(ValueError, match="step"):
        hook.save(2.5)
    with pytest.raises(ValueError, match="path"):
        CheckpointHook.step_of("dir/model")
