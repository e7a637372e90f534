"""The core finds framework code only through tblog.core.registry."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import types

import numpy as np
import pytest
import tb
from paths import SRC

from tblog.core import convert, registry

CORE = SRC / "tblog" / "core"
FRAMEWORKS = ("torch", "tensorflow", "keras", "lightning", "jax", "pytorch_lightning")


def test_core_names_no_framework_module() -> None:
    offenders = []
    pattern = re.compile(
        r"^\s*(?:import|from)\s+(?:"
        + "|".join(FRAMEWORKS)
        + r")\b|^\s*(?:import|from)\s+tblog\.integrations\.\w",
        re.M,
    )
    for path in CORE.rglob("*.py"):
        if path.name.endswith("_pb2.py"):
            continue
        offenders += [
            f"{path.name}: {m.group(0).strip()}" for m in pattern.finditer(path.read_text())
        ]
    assert offenders == []


def test_logging_numpy_imports_no_framework(tmp_path: pathlib.Path) -> None:
    code = (
        "import sys, numpy as np, tblog\n"
        "w = tblog.SummaryWriter(sys.argv[1])\n"
        "w.add_scalar('a', np.float32(1), 1); w.add_histogram('h', np.arange(5.0), 1)\n"
        "w.add_image('i', np.zeros((3, 2, 2)), 1); w.close()\n"
        f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"


class _FakeTensor:
    """A tensor of a framework tblog has never heard of."""

    def __init__(self, data: list[float]) -> None:
        self.data = data


class _SubTensor(_FakeTensor):
    pass


_SubTensor.__module__ = "userland"  # a subclass defined in user code: found by its MRO


@pytest.fixture()
def fakefw(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    calls: list[str] = []
    fw = types.ModuleType("fakefw")
    _FakeTensor.__module__ = "fakefw.tensor"
    monkeypatch.setitem(sys.modules, "fakefw", fw)

    def to_numpy(value: _FakeTensor) -> np.ndarray:
        calls.append("to_numpy")
        return np.asarray(value.data, dtype=np.float64)

    def defer_scalar(value: _FakeTensor) -> float:
        calls.append("defer_scalar")
        return float(value.data[0])

    adapter_module = types.ModuleType("fakefw_adapter")
    adapter_module.ADAPTER = registry.Adapter(  # type: ignore[attr-defined]
        name="fakefw", to_numpy=to_numpy, defer_scalar=defer_scalar
    )
    monkeypatch.setitem(sys.modules, "fakefw_adapter", adapter_module)
    registry.register("fakefw", ("fakefw",), "fakefw_adapter")
    yield types.SimpleNamespace(calls=calls)
    with registry._lock:
        registry._modules.pop("fakefw", None)
        registry._roots.pop("fakefw", None)
        registry._adapters.pop("fakefw", None)
        registry._by_type.clear()


def test_a_registered_framework_is_used_by_the_core(
    fakefw: types.SimpleNamespace, tmp_path: pathlib.Path
) -> None:
    import tblog

    assert convert.framework_of(_SubTensor([1.0])) == "fakefw"
    np.testing.assert_array_equal(convert.to_numpy(_FakeTensor([1.0, 2.0])), [1.0, 2.0])
    w = tblog.SummaryWriter(str(tmp_path))
    w.add_scalar("loss", _FakeTensor([0.5]), 3)
    w.add_histogram("h", _SubTensor([1.0, 2.0, 3.0]), 3)
    w.close()
    assert "defer_scalar" in fakefw.calls and "to_numpy" in fakefw.calls
    assert tb.scalar_series(str(tmp_path), "loss") == [(3, 0.5)]
    (event,) = tb.accumulator(str(tmp_path)).Tensors("h")
    assert tb.array(event)[:, 2].sum() == 3  # three values counted


def test_adapter_module_must_define_a_matching_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = types.ModuleType("bad_adapter")
    bad.ADAPTER = registry.Adapter(name="other")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bad_adapter", bad)
    registry.register("badfw", ("badfw_root",), "bad_adapter")
    try:
        with pytest.raises(TypeError, match="badfw"):
            registry.adapter_named("badfw")
    finally:
        registry._modules.pop("badfw", None)
        registry._roots.pop("badfw_root", None)
        registry._by_type.clear()


def test_unknown_adapter_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="torch"):
        registry.adapter_named("nosuchframework")
