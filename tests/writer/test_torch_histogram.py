"""Histograms reduced on the tensor's device give TensorBoard exactly what the numpy path
gives for the same values (and what torch.utils.tensorboard gives, to float32)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import tb
import torch
from torch.utils.tensorboard import SummaryWriter as TorchWriter

import tblog
from tblog.core.summaries.histogram import tensorflow_edges


def _hist(logdir, tag):
    return [(e.step, tb.array(e)) for e in tb.accumulator(str(logdir)).Tensors(tag)]


def _data(dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.rand(500, generator=g) > 0.3
    if not dtype.is_floating_point:
        return torch.randint(-1000, 1000, (40, 25), generator=g).to(dtype)
    x = torch.randn(64, 33, generator=g, dtype=torch.float64) * 3
    # Values exactly on bucket edges, and on float32-rounded edges.
    e = torch.from_numpy(tensorflow_edges()[1040:1080].copy())
    x = torch.cat([x.reshape(-1), e, e.float().double(), torch.tensor([0.0, -0.0])])
    return x.to(dtype)


def _numpy_values(t):
    return (t.float() if t.dtype in (torch.bfloat16, torch.float16) else t).numpy()


DTYPES = [
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.int64,
    torch.int32,
    torch.uint8,
    torch.bool,
]
BINS = ["tensorflow", 30, 7, [-2.0, -0.5, 0.0, 0.25, 1.0, 4.0], "auto"]


@pytest.fixture
def device_path_on_cpu(monkeypatch):
    """CPU tensors reduced with torch ops, as on a GPU (they normally take the numpy path)."""
    from tblog.integrations.torch import _histogram

    monkeypatch.setattr(_histogram, "HOST_PATH_MIN_NUMEL", 2**62)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_device_path_equals_numpy_path(tmp_path, dtype, device_path_on_cpu):
    t = _data(dtype)
    if dtype == torch.uint8:
        t = t.abs()
    with tblog.SummaryWriter(tmp_path / "torch") as w, tblog.SummaryWriter(tmp_path / "np") as v:
        for i, bins in enumerate(BINS):
            w.add_histogram(f"h{i}", t, 0, bins=bins)
            v.add_histogram(f"h{i}", _numpy_values(t), 0, bins=bins)
            w.add_histogram(f"m{i}", t, 1, bins=bins, max_bins=5)
            v.add_histogram(f"m{i}", _numpy_values(t), 1, bins=bins, max_bins=5)
    for i in range(len(BINS)):
        for tag in (f"h{i}", f"m{i}"):
            ours, ref = _hist(tmp_path / "torch", tag), _hist(tmp_path / "np", tag)
            assert len(ours) == len(ref) == 1
            np.testing.assert_array_equal(ours[0][1], ref[0][1])
            assert ours[0][1][:, 2].sum() > 0


def test_matches_torch_writer(tmp_path):
    t = _data(torch.float32, seed=3).reshape(-1)
    with tblog.SummaryWriter(tmp_path / "tblog") as w:
        w.add_histogram("w", t, 5)
        w.add_histogram("w", t * 2, 6)
        w.add_histogram("b", t, 5, bins=20)
    ref = TorchWriter(str(tmp_path / "torch"))
    ref.add_histogram("w", t, 5)
    ref.add_histogram("w", t * 2, 6)
    ref.add_histogram("b", t, 5, bins=20)
    ref.close()
    for tag in ("w", "b"):
        ours, theirs = _hist(tmp_path / "tblog", tag), _hist(tmp_path / "torch", tag)
        assert [s for s, _ in ours] == [s for s, _ in theirs]
        for (_, a), (_, b) in zip(ours, theirs, strict=True):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_views_grad_and_non_contiguous(tmp_path):
    p = torch.nn.Parameter(torch.randn(20, 30))
    view = p.t()[::2]
    with tblog.SummaryWriter(tmp_path / "a") as w, tblog.SummaryWriter(tmp_path / "b") as v:
        w.add_histogram("x", view, 0)
        v.add_histogram("x", view.detach().numpy(), 0)
    np.testing.assert_array_equal(
        _hist(tmp_path / "a", "x")[0][1], _hist(tmp_path / "b", "x")[0][1]
    )


def test_bad_input_raises(tmp_path):
    with tblog.SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="finite"):
            w.add_histogram("x", torch.tensor([1.0, float("nan")]), 0)
        with pytest.raises(ValueError, match="finite"):
            w.add_histogram("x", torch.tensor([1.0, float("inf")], dtype=torch.bfloat16), 0, bins=5)
        with pytest.raises(TypeError, match="real"):
            w.add_histogram("x", torch.ones(3, dtype=torch.complex64), 0)
        with pytest.raises(ValueError, match="bins"):
            w.add_histogram("x", torch.ones(3), 0, bins=0)
        w.add_histogram("x", torch.ones(3), 0)
    assert len(_hist(tmp_path, "x")) == 1


def test_empty_tensor_matches_numpy(tmp_path):
    with tblog.SummaryWriter(tmp_path / "a") as w, tblog.SummaryWriter(tmp_path / "b") as v:
        w.add_histogram("e", torch.zeros(0), 0)
        v.add_histogram("e", np.zeros(0, dtype=np.float32), 0)
    np.testing.assert_array_equal(
        _hist(tmp_path / "a", "e")[0][1], _hist(tmp_path / "b", "e")[0][1]
    )


@pytest.mark.parametrize("bins", ["tensorflow", 5, [0.0, 2.5, 2.5, 3.0]])
def test_constant_values_and_repeated_edges(tmp_path, bins):
    t = torch.full((7, 3), 2.5, dtype=torch.bfloat16)
    with tblog.SummaryWriter(tmp_path / "a") as w, tblog.SummaryWriter(tmp_path / "b") as v:
        w.add_histogram("c", t, 0, bins=bins)
        v.add_histogram("c", t.float().numpy(), 0, bins=bins)
    a, b = _hist(tmp_path / "a", "c")[0][1], _hist(tmp_path / "b", "c")[0][1]
    np.testing.assert_array_equal(a, b)
    assert a[:, 2].sum() == 21


class _Event:
    """Stands in for a CUDA event on CPU; records that the writer thread waited on it."""

    waited_on: list[int] = []

    def synchronize(self):
        _Event.waited_on.append(threading.get_ident())


def test_deferred_path_equals_sync_path(tmp_path, monkeypatch):
    """The CUDA path (reduce, non-blocking copy, fill on the writer thread), run on CPU."""
    from tblog.integrations.torch import _histogram

    monkeypatch.setattr(_histogram, "DEFERRED_DEVICES", ("cpu",))
    monkeypatch.setattr(_histogram, "record_event", lambda device: _Event())
    _Event.waited_on = []
    t = _data(torch.bfloat16, seed=5)
    with tblog.SummaryWriter(tmp_path / "a") as w, tblog.SummaryWriter(tmp_path / "b") as v:
        for step, bins in enumerate(["tensorflow", [-1.0, 0.0, 0.5, 2.0]]):
            w.add_histogram("d", t, step, bins=bins, max_bins=4 if step else None)
            w.add_histogram("after", t * 2, step)
            v.add_histogram("d", _numpy_values(t), step, bins=bins, max_bins=4 if step else None)
            v.add_histogram("after", _numpy_values(t * 2), step)
    assert len(_Event.waited_on) == 4
    assert threading.get_ident() not in _Event.waited_on
    for tag in ("d", "after"):
        a, b = _hist(tmp_path / "a", tag), _hist(tmp_path / "b", tag)
        assert [s for s, _ in a] == [s for s, _ in b] == [0, 1]
        for (_, x), (_, y) in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_deferred_nan_raises_on_the_next_call(tmp_path, monkeypatch):
    from tblog.integrations.torch import _histogram

    monkeypatch.setattr(_histogram, "DEFERRED_DEVICES", ("cpu",))
    monkeypatch.setattr(_histogram, "record_event", lambda device: _Event())
    w = tblog.SummaryWriter(tmp_path)
    w.add_histogram("bad", torch.tensor([1.0, float("nan")]), 0)  # no sync: nothing known yet
    with pytest.raises(ValueError, match="finite"):
        w.flush()
    w.add_histogram("good", torch.tensor([1.0, 2.0]), 1)
    w.close()
    acc = tb.accumulator(str(tmp_path))
    assert acc.PluginTagToContent("histograms").keys() == {"good"}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int32, torch.bfloat16])
def test_large_cpu_tensors_match_the_numpy_path(tmp_path, dtype):
    """CPU tensors take the numpy path (zero-copy view; bf16 stays on torch ops):
    TensorBoard sees the same histogram as for the numpy array, for every bins form."""
    n = 70_001
    t = (torch.randn(n) * 3).to(dtype)
    ref = t.float().numpy() if dtype == torch.bfloat16 else t.numpy()
    with tblog.SummaryWriter(tmp_path / "t") as a, tblog.SummaryWriter(tmp_path / "n") as b:
        for step, bins in enumerate(["tensorflow", 17, "auto"]):
            a.add_histogram("h", t, step, bins=bins)
            b.add_histogram("h", ref, step, bins=bins)
    got = [tb.array(e) for e in tb.accumulator(tmp_path / "t").Tensors("h")]
    want = [tb.array(e) for e in tb.accumulator(tmp_path / "n").Tensors("h")]
    assert len(got) == 3
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_host_reduction_equals_device_reduction(dtype):
    """watch()'s CPU shortcut packs what the torch-ops reduction packs: min, max, the
    non-finite flag and every bucket count (sum and sum of squares, which no output uses,
    are left 0), and watch() writes the same histograms either way."""
    from tblog.integrations.torch import _histogram

    edges = tensorflow_edges()
    g = torch.Generator().manual_seed(3)
    x = torch.cat([torch.randn(5006, generator=g, dtype=dtype) * 7, _data(dtype)]).reshape(60, -1)
    for t in (x, x.t(), x[:, ::3]):  # contiguous, transposed, strided
        host = _histogram.reduce_on_host(t, edges).numpy()
        device = _histogram.reduce_on_device(t, edges, "tensorflow").numpy()
        np.testing.assert_array_equal(host[[0, 1, 4]], device[[0, 1, 4]])
        np.testing.assert_array_equal(host[5:], device[5:])
        a = _histogram.summary_from_packed("h", edges, host, t.numel(), None)
        b = _histogram.summary_from_packed("h", edges, device, t.numel(), None)
        assert a.SerializeToString() == b.SerializeToString()
    bad = x.clone()
    bad[3, 3] = float("nan")
    assert _histogram.reduce_on_host(bad, edges)[4] == 1
    assert _histogram.reduce_on_host(x.to(torch.bfloat16), edges) is None  # torch ops for it


# ------------------------------------------------ torch's HistogramProto form (issue 15.5)
HUGE = [[1e20, 1.0], [1e300, -1e300, 0.0], [3e38, 3e38], [-5e25, 2.0, 7e21]]


def _histo(summary):
    (value,) = summary.value
    assert value.WhichOneof("value") == "histo"
    return value.histo


@pytest.mark.parametrize("device_path", [False, True], ids=["host", "device-ops"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32])
def test_histogram_proto_from_tensors_equals_numpy_path(monkeypatch, device_path, dtype):
    from tblog.core.summaries import histogram
    from tblog.integrations.torch import _histogram

    if device_path:  # torch ops (what a CUDA tensor takes), here on the CPU
        monkeypatch.setattr(_histogram, "HOST_PATH_MIN_NUMEL", 2**62)
    t = _data(dtype)
    got = _histo(_histogram.histogram_pb("h", t, encoding=histogram.HISTO))
    want = _histo(histogram.histogram_pb("h", _numpy_values(t), encoding=histogram.HISTO))
    assert (got.min, got.max, got.num) == (want.min, want.max, want.num)
    assert list(got.bucket_limit) == list(want.bucket_limit)
    assert list(got.bucket) == list(want.bucket)
    values = _numpy_values(t).astype(np.float64).reshape(-1)
    assert got.sum == pytest.approx(values.sum(), rel=1e-9, abs=1e-9)
    assert got.sum_squares == pytest.approx(values.dot(values), rel=1e-9)
    assert got.sum_squares > 0  # computed, not left 0 (the host reduction used to)


@pytest.mark.parametrize("values", HUGE, ids=str)
@pytest.mark.parametrize("device_path", [False, True], ids=["host", "device-ops"])
def test_huge_magnitudes_count_every_value(monkeypatch, tmp_path, values, device_path):
    from tblog.integrations.torch import _histogram

    if device_path:
        monkeypatch.setattr(_histogram, "HOST_PATH_MIN_NUMEL", 2**62)
    dtype = torch.float32 if max(map(abs, values)) < 3.4e38 else torch.float64
    t = torch.tensor(values, dtype=dtype)
    for style in ("torch", "tf.summary"):
        d = tmp_path / style
        with tblog.SummaryWriter(d, style=style) as w:
            w.add_histogram("h", t, 1)
            w.add_histogram("n", t.numpy(), 1)
        for tag in ("h", "n"):
            [(step, arr)] = _hist(d, tag)
            assert step == 1
            assert arr[:, 2].sum() == len(values)  # every finite value is counted
            assert np.float32(arr[0, 0]) == np.float32(min(values))
            assert np.float32(arr[-1, 1]) == np.float32(max(values))
