"""Files written by ``tblog.SummaryWriter`` read exactly as torch's by the tools torch users
read their logs with: tbparse, TensorBoard's legacy ``EventAccumulator`` API, and both
TensorBoard loaders (issue 15 item 5). Each test runs one workload through
``torch.utils.tensorboard.SummaryWriter`` and through tblog and compares what the reader
returns."""

from __future__ import annotations

import numpy as np
import pytest
import tb

import tblog

torch = pytest.importorskip("torch")
tbparse = pytest.importorskip("tbparse")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

RNG = np.random.default_rng(15)
VALUES = [RNG.normal(size=400) * s for s in (1e-3, 1.0, 1e4)]
INTS = [RNG.integers(-5, 50, size=100) for _ in VALUES]


def _workload(w) -> None:
    for step in range(30):
        w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("acc", torch.tensor(step / 30.0), step)
    w.add_scalar("styled", 2.5, 3, new_style=True)
    for step, v in enumerate(VALUES):
        w.add_histogram("weights", v, step)
        w.add_histogram("weights_t", torch.from_numpy(v.astype(np.float32)), step)
        w.add_histogram("ints", INTS[step], step, bins=10)
        w.add_histogram("auto", v, step, bins="auto")
        w.add_histogram("capped", v, step, bins=200, max_bins=30)
    w.add_histogram_raw("raw", 0.0, 3.0, 6, 9.0, 19.0, [1.0, 2.0, 3.0], [1, 2, 3], 4)
    w.add_scalars("parts", {"a": 1.0, "b": 2.0}, 5)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    out = {}
    for name, cls in (("torch", TorchWriter), ("tblog", tblog.SummaryWriter)):
        d = tmp_path_factory.mktemp(name)
        w = cls(str(d))
        _workload(w)
        w.close()
        out[name] = str(d)
    return out


def _frame(df):
    return df.sort_values(list(df.columns[:2])).reset_index(drop=True)


def test_tbparse_scalars_equal_torch(dirs):
    ours = _frame(tbparse.SummaryReader(dirs["tblog"]).scalars)
    theirs = _frame(tbparse.SummaryReader(dirs["torch"]).scalars)
    assert len(ours) == 30 * 2 + 2  # loss, acc; the two add_scalars runs
    assert ours.to_dict("list") == theirs.to_dict("list")


def test_tbparse_tensor_scalars_equal_torch(dirs):
    ours = tbparse.SummaryReader(dirs["tblog"]).tensors
    theirs = tbparse.SummaryReader(dirs["torch"]).tensors
    assert list(ours["tag"]) == list(theirs["tag"]) == ["styled"]
    assert list(ours["value"]) == list(theirs["value"]) == [2.5]


def test_tbparse_histograms_equal_torch(dirs):
    cols = {"min", "max", "num", "sum", "sum_squares"}
    ours = _frame(tbparse.SummaryReader(dirs["tblog"], extra_columns=cols).histograms)
    theirs = _frame(tbparse.SummaryReader(dirs["torch"], extra_columns=cols).histograms)
    assert len(ours) == len(theirs) == 5 * 3 + 1
    assert list(ours["tag"]) == list(theirs["tag"])
    assert list(ours["step"]) == list(theirs["step"])
    for column in ("counts", "limits"):
        for a, b in zip(ours[column], theirs[column], strict=True):
            np.testing.assert_array_equal(a, b)
    for column in ("min", "max", "num"):
        assert list(ours[column]) == list(theirs[column])
    for column in ("sum", "sum_squares"):  # summed in another order: last bits differ
        np.testing.assert_allclose(ours[column], theirs[column], rtol=1e-9, atol=1e-12)


def _legacy(d):
    return tb.legacy_accumulator(d)


def test_legacy_event_accumulator_equal_torch(dirs):
    ours, theirs = _legacy(dirs["tblog"]), _legacy(dirs["torch"])
    assert ours.Tags()["scalars"] == theirs.Tags()["scalars"] == ["loss", "acc"]
    assert sorted(ours.Tags()["histograms"]) == sorted(theirs.Tags()["histograms"])
    for tag in ("loss", "acc"):
        assert [(e.step, e.value) for e in ours.Scalars(tag)] == [
            (e.step, e.value) for e in theirs.Scalars(tag)
        ]
    for tag in theirs.Tags()["histograms"]:
        a, b = ours.Histograms(tag), theirs.Histograms(tag)
        assert [e.step for e in a] == [e.step for e in b]
        for x, y in zip(a, b, strict=True):
            hx, hy = x.histogram_value, y.histogram_value
            assert (hx.min, hx.max, hx.num) == (hy.min, hy.max, hy.num)
            assert list(hx.bucket_limit) == list(hy.bucket_limit)
            assert list(hx.bucket) == list(hy.bucket)
            assert hx.sum == pytest.approx(hy.sum, rel=1e-9, abs=1e-12)
            assert hx.sum_squares == pytest.approx(hy.sum_squares, rel=1e-9)
    assert ours.Tags()["tensors"] == theirs.Tags()["tensors"] == ["styled"]


def test_python_plugin_loader_equal_torch(dirs):
    ours, theirs = tb.accumulator(dirs["tblog"]), tb.accumulator(dirs["torch"])
    tags = theirs.Tags()["tensors"]
    assert sorted(ours.Tags()["tensors"]) == sorted(tags)
    for tag in tags:
        a, b = ours.Tensors(tag), theirs.Tensors(tag)
        assert [e.step for e in a] == [e.step for e in b]
        for x, y in zip(a, b, strict=True):
            ax, ay = tb.array(x), tb.array(y)
            assert ax.dtype == ay.dtype and ax.shape == ay.shape
            np.testing.assert_array_equal(ax, ay)
        assert ours.SummaryMetadata(tag) == theirs.SummaryMetadata(tag)


@pytest.mark.slow
def test_rust_data_server_equal_torch(dirs):
    from tbserver import TensorBoardServer

    def fetch(d):
        with TensorBoardServer(d, load_fast=True) as server:
            scalars = server.wait_for(
                lambda: server.get_json("/data/plugin/scalars/scalars", run=".", tag="loss")
            )
            hist = server.get_json("/data/plugin/histograms/histograms", run=".", tag="weights")
            raw = server.get_json("/data/plugin/histograms/histograms", run=".", tag="raw")
        return [r[1:] for r in scalars], [r[1:] for r in hist], [r[1:] for r in raw]

    ours, theirs = fetch(dirs["tblog"]), fetch(dirs["torch"])
    assert len(ours[0]) == 30 and len(ours[1]) == 3
    assert ours == theirs


def test_tf_summary_style_keeps_tensor_encodings(tmp_path):
    """``style="tf.summary"`` (what the Keras callback uses) writes tensor scalars and
    ``[k, 3]`` histograms, as tf.summary does: tbparse sees them as tensors."""
    with tblog.SummaryWriter(str(tmp_path), style="tf.summary") as w:
        w.add_scalar("loss", 0.5, 1)
        w.add_histogram("h", VALUES[1], 1)
    reader = tbparse.SummaryReader(str(tmp_path))
    assert reader.scalars.empty and reader.histograms.empty
    assert sorted(reader.tensors["tag"]) == ["h", "loss"]
    acc = tb.accumulator(str(tmp_path))
    assert acc.SummaryMetadata("loss").plugin_data.plugin_name == "scalars"
    assert tb.array(acc.Tensors("h")[0]).shape[1] == 3
