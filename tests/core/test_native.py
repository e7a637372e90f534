"""tblog.core._native is optional: without it (no C compiler at install) everything still
works and TensorBoard sees the same data; with it, it is what the fast paths use."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import tb
import torch

WORKLOAD = """
import sys
import numpy as np
import torch
import tblog
rng = np.random.default_rng(7)
values = np.concatenate([rng.standard_normal(200_000), [0.0, -0.0, 1e-30]]).astype(np.float32)
with tblog.SummaryWriter(sys.argv[1]) as w:
    w.add_histogram("h", values, 0)
    w.add_histogram("h", torch.from_numpy(values * 3).double(), 1)
    for step, dtype in enumerate([torch.float32, torch.bfloat16, torch.float16, torch.int64]):
        w.add_scalar("s", torch.tensor(-2.7, dtype=torch.float64).to(dtype), step)
"""

WITHOUT_NATIVE = """
import sys
sys.modules["tblog.core._native"] = None  # as if the extension had not been built
from tblog.core.summaries import _counting
from tblog.integrations.torch import _scalar
assert _counting._native is None and _scalar._snapshot is _scalar.ScalarBytes
"""


def _run(code: str, logdir) -> None:
    subprocess.run([sys.executable, "-c", code, str(logdir)], check=True, timeout=120)


def test_without_the_native_module_tensorboard_sees_the_same(tmp_path):
    _run(WITHOUT_NATIVE + WORKLOAD, tmp_path / "fallback")
    _run(WORKLOAD, tmp_path / "native")
    runs = {name: tb.accumulator(str(tmp_path / name)) for name in ("fallback", "native")}
    hists = {name: [tb.array(e) for e in acc.Tensors("h")] for name, acc in runs.items()}
    assert len(hists["native"]) == 2
    for a, b in zip(hists["fallback"], hists["native"], strict=True):
        np.testing.assert_array_equal(a, b)
    scalars = {name: tb.scalar_series(str(tmp_path / name), "s") for name in runs}
    assert scalars["fallback"] == scalars["native"]
    assert [v for _, v in scalars["native"]] == [
        float(torch.tensor(-2.7, dtype=torch.float64).to(dt).float())
        for dt in (torch.float32, torch.bfloat16, torch.float16, torch.int64)
    ]


def test_native_module_is_used():
    """The install built the extension, and the writer's fast paths pick it."""
    from tblog.core import _native
    from tblog.core.summaries import _counting
    from tblog.integrations.torch import _scalar

    assert _counting._native is _native
    assert _scalar._snapshot is _native.snapshot
    assert type(_scalar.defer_scalar(torch.tensor(1.0))) is _native.Snapshot


def test_native_counter_checks_its_arguments():
    """The C counter refuses what would make it write out of bounds or misread values."""
    import pytest

    from tblog.core import _native

    idx = np.zeros(65536, dtype=np.uint32)
    idx[40000:] = 5  # buckets up to 6: counts need 7 entries
    key = np.full(65536, np.iinfo(np.uint32).max, dtype=np.uint32)
    table = _native.table(idx, key)
    values = np.array([1.0, -1.0], dtype=np.float32)
    with pytest.raises(ValueError, match="max"):
        _native.count(values, table, np.zeros(6, dtype=np.int64))
    with pytest.raises(TypeError, match="float"):
        _native.count(values.astype(np.float64), table, np.zeros(7, dtype=np.int64))
    with pytest.raises(TypeError, match="float"):
        _native.count(values.astype(np.int32), table, np.zeros(7, dtype=np.int64))
    with pytest.raises(ValueError, match="65536"):
        _native.table(idx[:100], key)
    with pytest.raises(TypeError):
        _native.count(values, idx, np.zeros(7, dtype=np.int64))  # not a table
    counts = np.zeros(7, dtype=np.int64)
    _native.count(values, table, counts)
    # 1.0's key has prefix 0xBF80 (>= 40000: bucket 5); -1.0's is 0x407F (< 40000: bucket 0)
    assert counts.tolist() == [1, 0, 0, 0, 0, 1, 0]
