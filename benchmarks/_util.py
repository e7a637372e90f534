"""Shared helpers for the benchmarks: run a snippet in a fresh interpreter, print tables.

Each measurement runs in its own subprocess so that one library's imports, threads and
caches never slow another down; the snippet prints one JSON object on its last line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

ENV = {
    **os.environ,
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow"),
    "CUDA_VISIBLE_DEVICES": "",
    "TBLOG_NO_SIGTERM_HANDLER": "1",
}


def installed(module: str) -> bool:
    """True when ``module`` can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def run_snippet(code: str, *args: str, timeout: float = 900) -> dict[str, Any]:
    """Run ``code`` with ``sys.argv[1:] = args`` in a new interpreter; return its JSON line.

    Raises ``RuntimeError`` with the child's stderr tail when it fails.
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def fmt(value: Any, digits: int = 3) -> str:
    """Format a number with ``digits`` significant digits (``-`` for ``None``)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{round(value):,}"
    return f"{value:.{digits}g}"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table (Markdown pipe syntax, readable as-is in a terminal)."""
    cells = [[str(h) for h in header]] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [f"### {title}", ""]
    for k, r in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines) + "\n"


def ratio(anchor: float | None, ours: float | None) -> str:
    """``anchor / ours`` as ``"12.3x"`` (how many times better we are when lower is better)."""
    if not anchor or not ours:
        return "-"
    value = anchor / ours
    return f"{value:,.0f}x" if value >= 100 else f"{value:.1f}x"


def machine() -> str:
    """One line describing where the numbers come from."""
    import platform

    cpus = os.cpu_count()
    try:
        load = f", load avg {os.getloadavg()[0]:.1f}"
    except OSError:
        load = ""
    return f"{platform.python_implementation()} {platform.python_version()}, {cpus} CPUs{load}"
