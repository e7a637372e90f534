"""End to end: a real ``tensorboard --logdir`` server over logs written by tblog.

One workload is written twice, by ``tblog.SummaryWriter`` into ``tblog/`` and by
``torch.utils.tensorboard.SummaryWriter`` (the anchor) into ``torch/``; one server per
loader (``--load_fast=false``: Python, ``--load_fast=true``: Rust data server) serves both.
Every plugin's HTTP data API must show the workload's values, and tblog's runs must look
like torch's.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from tbserver import TensorBoardServer

import tblog

pytestmark = pytest.mark.slow  # TensorBoard servers

STEPS = list(range(0, 60, 3))
HIST_STEPS = [0, 10, 20]
HIST_N = 1000
TEXT = "hello **world** at step {}"
HPARAMS = {"lr": 0.01, "optimizer": "adam", "layers": 3}
METRICS = {"hp/accuracy": 0.875, "hp/loss": 0.25}


def _loss(step: int) -> float:
    return 100.0 - 3.5 * step


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8) for _ in range(2)]


def _hist_values(step: int) -> np.ndarray:
    return np.random.default_rng(step).normal(step, 1.0, size=HIST_N)


def _write(writer) -> None:
    for step in STEPS:
        writer.add_scalar("loss", _loss(step), step)
        writer.add_scalars("pair", {"a": step * 2.0, "b": -step * 1.0}, step)
    for step in HIST_STEPS:
        writer.add_histogram("weights", _hist_values(step), step)
    for step, img in enumerate(_images()):
        writer.add_image("picture", img, step, dataformats="HWC")
        writer.add_text("note", TEXT.format(step), step)
    writer.add_hparams(HPARAMS, METRICS, run_name="hp")
    writer.close()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    root = tmp_path_factory.mktemp("e2e")
    _write(tblog.SummaryWriter(str(root / "tblog")))
    _write(TorchWriter(str(root / "torch")))
    return root


@pytest.fixture(scope="module", params=[False, True], ids=["load_fast=false", "load_fast=true"])
def tb(request, logdir):
    with TensorBoardServer(logdir, load_fast=request.param) as server:
        # Wait for the last thing each writer wrote, in every run.
        server.wait_for(lambda: {"tblog/hp", "torch/hp"} <= set(server.runs()))
        for w in ("tblog", "torch"):
            server.wait_for(lambda w=w: len(server.scalars(f"{w}/hp", "hp/loss")) == 1)
            server.wait_for(lambda w=w: len(server.scalars(w, "loss")) == len(STEPS))
        yield server


def _f32(x: float) -> float:
    return float(np.float32(x))


def test_runs_match_torch(tb):
    runs = tb.runs()
    ours = sorted(r[len("tblog/") :] for r in runs if r.startswith("tblog/") or r == "tblog")
    torch = sorted(r[len("torch/") :] for r in runs if r.startswith("torch/") or r == "torch")
    assert ours == torch
    assert {"", "hp"} <= set(ours)
    assert any("pair" in r and r.endswith("a") for r in ours)


def test_scalars(tb):
    expected = [(s, _f32(_loss(s))) for s in STEPS]
    assert tb.scalars("tblog", "loss") == expected
    assert tb.scalars("torch", "loss") == expected
    tags = tb.get_json("/data/plugin/scalars/tags")
    for writer in ("tblog", "torch"):
        pair_runs = sorted(r for r in tags if r.startswith(writer + "/pair"))
        assert len(pair_runs) == 2
        series = {r: tb.wait_for(lambda r=r: tb.scalars(r, "pair")) for r in pair_runs}
        got = sorted(tuple(v) for v in series.values())
        want = sorted([tuple((s, s * 2.0) for s in STEPS), tuple((s, -s * 1.0) for s in STEPS)])
        assert got == want
    for metric, value in METRICS.items():
        assert tb.scalars("tblog/hp", metric) == [(0, _f32(value))]


def test_histograms(tb):
    for writer in ("tblog", "torch"):
        rows = tb.wait_for(
            lambda w=writer: tb.get_json("/data/plugin/histograms/histograms", run=w, tag="weights")
        )
        assert [step for _, step, _ in rows] == HIST_STEPS
        for _, step, buckets in rows:
            counts = np.array([b[2] for b in buckets])
            assert counts.sum() == pytest.approx(HIST_N), writer
            lefts = np.array([b[0] for b in buckets])
            values = _hist_values(step)
            assert lefts.min() <= values.min() + 1e-6
            centre = np.average((lefts + np.array([b[1] for b in buckets])) / 2, weights=counts)
            assert centre == pytest.approx(values.mean(), abs=0.5)


def test_images(tb):
    images = _images()
    for writer in ("tblog", "torch"):
        rows = tb.get_json("/data/plugin/images/images", run=writer, tag="picture")
        assert [r["step"] for r in rows] == list(range(len(images)))
        for row, want in zip(rows, images, strict=True):
            png = tb.get("/data/plugin/images/individualImage?" + row["query"])
            got = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            np.testing.assert_array_equal(got, want, err_msg=writer)


def test_text(tb):
    tags = tb.get_json("/data/plugin/text/tags")
    assert tags["tblog"] == tags["torch"]
    tag = tags["tblog"][0]
    ours = tb.get_json("/data/plugin/text/text", run="tblog", tag=tag)
    theirs = tb.get_json("/data/plugin/text/text", run="torch", tag=tag)
    assert [r["step"] for r in ours] == [0, 1]
    for step, row in enumerate(ours):
        assert re.search(rf"hello <strong>world</strong> at step {step}", row["text"])
    # torch stores a shape-[1] string tensor (rendered as a one-cell table), tblog a
    # rank-0 one (a paragraph, as tf.summary.text): the visible text must be the same.
    assert [_visible(r["text"]) for r in ours] == [_visible(r["text"]) for r in theirs]


def _visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_hparams(tb):
    # The experiment is assembled from every run's hparams data: poll until it is loaded.
    experiment = tb.wait_for(
        lambda: tb.post_json("/data/plugin/hparams/experiment", {"experimentName": ""})
    )
    names = {h["name"] for h in experiment["hparamInfos"]}
    assert set(HPARAMS) <= names
    metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
    assert set(METRICS) <= metrics
    request = {
        "experimentName": "",
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
        "colParams": [{"hparam": h} for h in HPARAMS]
        + [{"metric": {"group": "", "tag": m}} for m in METRICS],
        "startIndex": 0,
        "sliceSize": 100,
    }

    def sessions() -> dict[str, dict]:
        groups = tb.post_json("/data/plugin/hparams/session_groups", request)["sessionGroups"]
        found = {s["name"]: g for g in groups for s in g["sessions"]}
        return found if {"tblog/hp", "torch/hp"} <= set(found) else {}

    by_session = tb.wait_for(sessions, timeout=30)
    for session in ("tblog/hp", "torch/hp"):
        group = by_session[session]
        assert group["hparams"] == HPARAMS, session
        values = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
        assert values == pytest.approx(METRICS), session


def test_tblog_export_matches_the_server(tb, logdir, tmp_path):
    """``tblog export`` rows equal what the server's scalars API serves, for every run
    and tag (tblog's and torch's)."""
    import pandas as pd

    from tblog.cli import main

    out = tmp_path / "rows.parquet"
    assert main(["export", str(logdir), "--format", "parquet", "-o", str(out)]) == 0
    frame = pd.read_parquet(out)
    ours: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for run, tag, step, value in frame[["run", "tag", "step", "value"]].itertuples(index=False):
        ours.setdefault((run, tag), []).append((int(step), float(value)))
    served = {
        (run, tag): tb.scalars(run, tag)
        for run, tags in tb.get_json("/data/plugin/scalars/tags").items()
        for tag in tags
    }
    assert ours == served
