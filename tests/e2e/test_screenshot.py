"""The scalars dashboard of a real TensorBoard, rendered by headless Chromium, shows the
curve of a run written by tblog.

Chromium is installed by ``tests/install_chromium.sh``; the test skips only when
``/usr/bin/chromium`` is absent.
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from PIL import Image
from tbserver import TensorBoardServer

import tblog

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1400, 900
# TensorBoard's first run colour (#ff7043, the runs palette of the frontend).
RUN_COLOUR = np.array([0xFF, 0x70, 0x43])

pytestmark = [
    pytest.mark.slow,  # a TensorBoard server and a headless browser
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"{CHROMIUM} is not installed (run tests/install_chromium.sh as root)",
    ),
]


def _screenshot(url: str, out: str, user_dir: str, budget_ms: int) -> None:
    argv = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={user_dir}",
        f"--screenshot={out}", f"--window-size={WIDTH},{HEIGHT}",
        f"--virtual-time-budget={budget_ms}", url,
    ]  # fmt: skip
    subprocess.run(argv, capture_output=True, timeout=120, check=True)


def _curve_pixels(png: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the run-coloured pixels right of the sidebar and below the header."""
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert rgb.shape[:2] == (HEIGHT, WIDTH)
    region = rgb[100:, 360:]
    close = np.abs(region - RUN_COLOUR).sum(axis=2) < 60
    y, x = np.nonzero(close)
    return x + 360, y + 100


def test_scalars_dashboard_shows_the_curve(tmp_path):
    logdir = tmp_path / "logs"
    writer = tblog.SummaryWriter(str(logdir / "steep"))
    for step in range(100):
        writer.add_scalar("ramp", float(step * step), step)
    writer.close()
    png = str(tmp_path / "scalars.png")
    with TensorBoardServer(logdir, load_fast=False) as tb:
        tb.wait_for(lambda: len(tb.scalars("steep", "ramp")) == 100)
        # The frontend fetches data asynchronously: give it more virtual time on a retry.
        for budget in (10_000, 30_000):
            _screenshot(tb.url + "/#scalars", png, str(tmp_path / "chromium"), budget)
            x, y = _curve_pixels(png)
            if x.size > 150:
                break
    assert x.size > 150, f"no curve in the screenshot {png}"
    # One line rising steeply from left to right: wide, tall, and higher (smaller y) on
    # the right than on the left.
    assert x.max() - x.min() > 150
    assert y.max() - y.min() > 100
    left = y[x < np.percentile(x, 20)].mean()
    right = y[x > np.percentile(x, 80)].mean()
    assert right < left - 50
