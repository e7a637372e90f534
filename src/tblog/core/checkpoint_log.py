"""Recording checkpoint saves and restores in a run (shared by every checkpoint hook).

A save writes a ``checkpoint/step`` scalar and a ``checkpoint/saved`` text entry (step,
path, metrics); a restore at step N calls ``writer.restart(N)`` so TensorBoard drops the
points the crashed run wrote at or after N, and writes a ``checkpoint/restored`` entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _fmt_metrics(metrics: Mapping[str, Any] | None) -> str:
    if not metrics:
        return ""
    parts = [f"{k}={float(v):.6g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in metrics.items()]
    return " (" + ", ".join(parts) + ")"


def record_save(writer: Any, step: int, path: str, metrics: Mapping[str, Any] | None = None) -> None:
    """Record in ``writer``'s run that a checkpoint of ``step`` was saved at ``path``."""
    writer.add_scalar("checkpoint/step", float(step), step)
    writer.add_text("checkpoint/saved", f"step {step}: `{path}`{_fmt_metrics(metrics)}", step)


def record_restore(writer: Any, step: int, path: str | None = None) -> None:
    """Record a restore at ``step`` and mark the run so curves continue at ``step``."""
    writer.restart(step)
    where = f" from `{path}`" if path else ""
    writer.add_text("checkpoint/restored", f"resumed at step {step}{where}", step)
