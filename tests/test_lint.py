"""ruff (lint and format) and mypy (strict on the core) run with the test suite, so CI runs them."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
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


def test_mypy_strict_core():
    out = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
