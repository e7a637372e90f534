"""examples/quickstart.py runs as a script and TensorBoard sees what it trained."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import tb
from paths import EXAMPLES
from PIL import Image

pytestmark = pytest.mark.slow  # runs an example as a script

EXAMPLE = str(EXAMPLES / "quickstart.py")
STEPS, EVERY = 60, 20
LOGGED_STEPS = [0, 20, 40, 59]  # every EVERY steps, and the last one
PARAM_SIZES = {"W1": 32, "b1": 16, "W2": 16, "b2": 1}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("quickstart") / "run"
    proc = subprocess.run(
        [
            sys.executable,
            EXAMPLE,
            "--logdir",
            str(logdir),
            "--steps",
            str(STEPS),
            "--log-every",
            str(EVERY),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "final loss" in proc.stdout
    return str(logdir)


def test_loss_decreases(run_dir):
    loss = tb.scalar_series(run_dir, "loss")
    assert [s for s, _ in loss] == list(range(STEPS))
    values = np.array([v for _, v in loss])
    assert np.isfinite(values).all()
    assert values[-5:].mean() < 0.5 * values[:5].mean()
    accuracy = [v for _, v in tb.scalar_series(run_dir, "accuracy")]
    assert len(accuracy) == STEPS and accuracy[-1] > 0.8 and all(0 <= a <= 1 for a in accuracy)


def test_weight_histograms(run_dir):
    acc = tb.accumulator(run_dir)
    assert sorted(acc.PluginTagToContent("histograms")) == sorted(
        f"weights/{n}" for n in PARAM_SIZES
    )
    for name, size in PARAM_SIZES.items():
        events = acc.Tensors(f"weights/{name}")
        assert [e.step for e in events] == LOGGED_STEPS
        hists = [tb.array(e) for e in events]
        for h in hists:
            assert h.ndim == 2 and h.shape[1] == 3
            assert h[:, 2].sum() == size  # every weight counted once
    w1 = [tb.array(e) for e in acc.Tensors("weights/W1")]
    assert not np.array_equal(w1[0], w1[-1])  # the weights moved


def test_decision_surface_images(run_dir):
    acc = tb.accumulator(run_dir)
    assert list(acc.PluginTagToContent("images")) == ["decision_surface"]
    events = acc.Tensors("decision_surface")
    assert [e.step for e in events] == LOGGED_STEPS
    pixels = []
    for e in events:
        arr = tb.array(e)
        assert (int(arr[0]), int(arr[1])) == (64, 64)
        pixels.append(np.asarray(Image.open(io.BytesIO(bytes(arr[2]))).convert("RGB"), float))
    first, last = pixels[0], pixels[-1]
    assert not np.array_equal(first, last)
    # XOR: top-left and bottom-right quadrants are class 1 (red), the others class 0 (blue)
    red = last[..., 0] - last[..., 2]
    positive = red[:32, :32].mean() + red[32:, 32:].mean()
    negative = red[:32, 32:].mean() + red[32:, :32].mean()
    assert positive > 0 > negative


def test_about_text(run_dir):
    acc = tb.accumulator(run_dir)
    [event] = acc.Tensors("about/text_summary")
    assert b"XOR" in bytes(tb.array(event).reshape(-1)[0])
