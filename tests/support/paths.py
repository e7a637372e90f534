"""Where things are, computed once: the repository root and the folders tests run scripts
from. Tests and support scripts import these instead of walking up from ``__file__``."""

from __future__ import annotations

import os
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent  # tests/support: tb.py, tbserver.py, workloads
TESTS = SUPPORT.parent
ROOT = TESTS.parent  # the repository root
SRC = ROOT / "src"
EXAMPLES = ROOT / "examples"


def pythonpath(*first: Path | str) -> str:
    """A ``PYTHONPATH`` for a child process: ``first``, then this process's own one."""
    parts = [str(p) for p in first]
    if os.environ.get("PYTHONPATH"):
        parts.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(parts)
