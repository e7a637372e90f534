"""``examples/tf_yolo_checkpoint.py`` (TensorFlow's checkpoint tutorial loop, logging with
``tblog.summary`` in place of ``tf.summary``): its loss falls, it reports progress, and
TensorBoard shows its curves (the comparison with ``tf.summary`` and the kill/resume
checks are in ``test_checkpoint_tf.py``)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tb
from paths import EXAMPLES

pytestmark = pytest.mark.slow  # TensorFlow's checkpoint tutorial loop in a subprocess

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("tensorflow is not installed", allow_module_level=True)

EXAMPLE = str(EXAMPLES / "tf_yolo_checkpoint.py")


def _run(logdir, *args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, EXAMPLE, "--logdir", str(logdir), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_loss_falls_as_tensorboard_shows_it(tmp_path):
    _run(tmp_path)
    curves = tb.mux_scalars(str(tmp_path))
    train = [v for _, v in curves[("train", "loss/total_loss")]]
    val = [v for _, v in curves[("validation", "loss/total_loss")]]
    assert len(train) == 120 and len(val) == 5
    assert np.mean(train[-10:]) < 0.5 * np.mean(train[:10])
    assert val[-1] < 0.5 * val[0]


def test_progress_lines(tmp_path):
    every_step = _run(tmp_path / "a", "--steps", "6", "--progress-secs", "0")
    assert re.findall(r"step (\d+)/6 loss \d", every_step) == [str(i) for i in range(1, 7)]
    default = _run(tmp_path / "b", "--steps", "6")
    steps = re.findall(r"step (\d+)/6 loss", default)
    assert steps[0] == "1" and steps[-1] == "6"  # the first and the last step at least
