"""torch scalars: any dtype/device, no host sync on the caller's thread, read back by TensorBoard."""

from __future__ import annotations

import threading

import pytest
import tb
import torch
from torch.utils.tensorboard import SummaryWriter as TorchWriter

import tblog

SYNCING = {"item", "cpu", "__float__", "tolist", "numpy", "__int__", "__bool__", "__index__"}


class CountingTensor(torch.Tensor):
    """Records which thread calls a host-synchronising method."""

    calls: list[tuple[str, int]] = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in SYNCING:
            cls.calls.append((name, threading.get_ident()))
        return super().__torch_function__(func, types, args, kwargs or {})


def _values(logdir, tag):
    return tb.scalar_series(str(logdir), tag)


def test_add_scalar_never_syncs_on_caller_thread(tmp_path):
    CountingTensor.calls = []
    main = threading.get_ident()
    w = tblog.SummaryWriter(tmp_path)
    expected = []
    for step in range(5):
        t = torch.tensor(0.5 * step + 0.25).as_subclass(CountingTensor)
        w.add_scalar("loss", t, step)
        expected.append((step, 0.5 * step + 0.25))
    assert not [c for c in CountingTensor.calls if c[1] == main]
    w.close()
    # The value was read, on another thread: the counter does see these calls.
    assert [c for c in CountingTensor.calls if c[1] != main]
    assert _values(tmp_path, "loss") == expected


def test_in_place_change_after_logging_is_not_seen(tmp_path):
    w = tblog.SummaryWriter(tmp_path)
    t = torch.tensor([3.0])
    w.add_scalar("x", t, 0)
    t.add_(100.0)
    w.add_scalar("x", t, 1)
    t.zero_()
    w.close()
    assert _values(tmp_path, "x") == [(0, 3.0), (1, 103.0)]


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


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dtypes_match_torch_writer(tmp_path, dtype):
    values = [0.1, 1.0, 2.7, -3.3, 1e4 + 0.5] if dtype.is_floating_point else [0, 1, 5, 7]
    if dtype == torch.bool:
        values = [0, 1, 1]
    if dtype == torch.uint8:
        values = [0, 200, 255]
    tensors = [torch.tensor(v).to(dtype) for v in values]
    with tblog.SummaryWriter(tmp_path / "tblog") as w:
        for step, t in enumerate(tensors):
            w.add_scalar("v", t.reshape(1, 1) if step % 2 else t, step)
    ours = _values(tmp_path / "tblog", "v")
    # Expected values come from torch itself (upcast of the same tensors)...
    assert ours == [
        (i, float(torch.tensor(float(t.double()), dtype=torch.float32)))
        for i, t in enumerate(tensors)
    ]
    # ...and match what torch.utils.tensorboard makes TensorBoard show, where it can log them.
    ref = TorchWriter(str(tmp_path / "torch"))
    try:
        for step, t in enumerate(tensors):
            ref.add_scalar("v", t.float() if dtype == torch.bfloat16 else t, step)
    finally:
        ref.close()
    assert ours == _values(tmp_path / "torch", "v")


def test_requires_grad_and_views(tmp_path):
    w = tblog.SummaryWriter(tmp_path)
    p = torch.nn.Parameter(torch.tensor([[1.5, 2.5]]))
    loss = (p * 2).sum()
    w.add_scalar("loss", loss, 0)
    w.add_scalar("elem", p[0, 1], 1)
    w.add_scalars("grp", {"a": p[0, 0], "b": torch.tensor(4, dtype=torch.int8)}, 2)
    w.close()
    assert _values(tmp_path, "loss") == [(0, 8.0)]
    assert _values(tmp_path, "elem") == [(1, 2.5)]
    assert _values(tmp_path / "grp_a", "grp") == [(2, 1.5)]
    assert _values(tmp_path / "grp_b", "grp") == [(2, 4.0)]


def test_bad_scalars_raise_on_caller(tmp_path):
    w = tblog.SummaryWriter(tmp_path)
    with pytest.raises(ValueError, match="exactly one element"):
        w.add_scalar("x", torch.ones(3), 0)
    with pytest.raises(TypeError, match="real"):
        w.add_scalar("x", torch.tensor(1 + 2j), 0)
    w.add_scalar("x", torch.tensor(1.0), 0)
    w.close()
    assert _values(tmp_path, "x") == [(0, 1.0)]


SNAPSHOT_CASES = [
    (torch.float32, [0.1, -3.3, 1e38, float("inf"), float("-inf"), 1e-45]),
    (torch.float64, [0.1, -1e300, 5e-324]),
    (torch.float16, [0.1, -65504.0, 6e-8, float("inf")]),  # 6e-8: a subnormal half
    (torch.bfloat16, [0.1, -3.0e38, float("-inf")]),
    (torch.int64, [2**53 + 1, -(2**63), 2**63 - 1]),
    (torch.int32, [-(2**31), 2**31 - 1]),
    (torch.int16, [-(2**15), 12345]),
    (torch.int8, [-128, 127]),
    (torch.uint8, [0, 255]),
    (torch.bool, [False, True]),
]


@pytest.mark.parametrize(("dtype", "values"), SNAPSHOT_CASES, ids=lambda v: str(v))
def test_element_snapshots_read_as_item(dtype, values):
    """A CPU element snapshot (the C extension's and the pure-Python fallback's) reads back
    as float(t.item()), for every dtype, NaN, infinities and extremes included."""
    from tblog.core import _native
    from tblog.integrations.torch import _scalar

    tensors = [torch.tensor(v, dtype=dtype) for v in values]
    if dtype.is_floating_point:
        tensors.append(torch.tensor(float("nan"), dtype=dtype))
    for t in tensors:
        want = float(t.item())
        code = _scalar._CODES[t.dtype]
        for snap in (_native.snapshot(t.data_ptr(), code), _scalar.ScalarBytes(t.data_ptr(), code)):
            got = snap.tblog_resolve()
            assert got == want or (got != got and want != want), (dtype, want, got, snap)


@pytest.mark.parametrize("native", [True, False], ids=["native", "fallback"])
def test_plain_cpu_tensors_are_not_read_on_the_caller(tmp_path, monkeypatch, native):
    """Plain CPU tensors are snapshotted without item()/tolist()/float() on the caller's
    thread; the value is the one at call time, and views, integer and negative-bit tensors
    come out right."""
    from tblog.integrations.torch import _scalar

    if not native:
        monkeypatch.setattr(_scalar, "_snapshot", _scalar.ScalarBytes)
    calls = []
    for name in ("item", "tolist", "__float__", "cpu", "numpy"):
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, _name=name, **kwargs):
            calls.append((_name, threading.get_ident()))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    base = torch.tensor([[1.5, 2.5], [3.5, 4.5]])
    neg_view = torch.tensor([1 + 2j]).conj().imag  # bytes say +2, the value is -2
    assert neg_view.is_neg()
    with tblog.SummaryWriter(tmp_path) as w:
        w.add_scalar("x", base[1, 0], 0)  # a view at a storage offset
        base.mul_(10)  # changed after logging: not seen
        w.add_scalar("x", torch.tensor(7, dtype=torch.int16), 1)
        w.add_scalar("x", neg_view, 2)
        w.add_scalar("x", torch.tensor(0.25, dtype=torch.bfloat16).reshape(1, 1), 3)
    monkeypatch.undo()
    assert [name for name, thread in calls if thread == threading.get_ident()] == []
    assert _values(tmp_path, "x") == [(0, 3.5), (1, 7.0), (2, -2.0), (3, 0.25)]


def test_tensor_without_storage_is_cloned_not_read_by_address():
    """A plain CPU tensor that has no storage (a vmap wrapper) cannot be snapshotted by
    address: it takes the clone path instead of raising."""
    from torch.func import vmap

    from tblog.integrations.torch import _scalar

    snapshots = []

    def per_example(x):
        total = x.sum()
        snapshots.append(_scalar.defer_scalar(total))
        return total

    vmap(per_example)(torch.randn(3, 4))
    assert [type(s) for s in snapshots] == [_scalar.DeferredScalar]
