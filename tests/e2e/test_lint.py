"""ruff (lint and format) and mypy (strict on all of ``src/tblog``: core, integrations,
CLI) run with the test suite, so CI runs them."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest
from paths import ROOT

pytestmark = pytest.mark.slow  # ruff and mypy over the whole tree

PATHS = ["src", "tests", "examples", "benchmarks", "noxfile.py"]


def _tool(name: str) -> str:
    exe = shutil.which(name, path=str(pathlib.Path(sys.executable).parent)) or shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed (it is in the test extra)")
    return exe


def test_ruff_lint():
    out = subprocess.run([_tool("ruff"), "check", *PATHS], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format():
    out = subprocess.run(
        [_tool("ruff"), "format", "--check", *PATHS], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_everywhere():
    import re
    import tomllib

    out = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    # every module of the package is checked (integrations included), and strictly
    ours = [p for p in (ROOT / "src" / "tblog").rglob("*.py") if not p.name.endswith("_pb2.py")]
    checked = re.search(r"in (\d+) source files", out.stdout)
    assert checked and int(checked.group(1)) >= len(ours), out.stdout
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    strict = [o for o in config["overrides"] if o.get("strict")]
    assert any("tblog.*" in o["module"] for o in strict), strict
