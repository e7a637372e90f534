"""Recording checkpoint saves and restores in a run: the functions of
:mod:`tblog.checkpoint.recorder` under their earlier names (kept for existing callers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tblog.checkpoint import recorder
from tblog.checkpoint.recorder import RESTORED_TAG, SAVED_TAG, mark_resume
from tblog.checkpoint.recorder import STEP_TAG as SCALAR_TAG
from tblog.core.storage import open_storage


def record_save(
    writer: Any, step: int, path: str, metrics: Mapping[str, Any] | None = None
) -> None:
    """Record in ``writer``'s run that a checkpoint of ``step`` was saved at ``path``."""
    recorder.CheckpointRecorder(writer).saved(step, path, metrics)


def record_restore(writer: Any, step: int, path: str | None = None) -> None:
    """Record a restore of the checkpoint of ``step`` and mark ``writer``'s runs."""
    recorder.CheckpointRecorder(writer).restored(step, path)


def stale_tags(
    logdir: str, step: int, storage_options: dict[str, Any] | None = None
) -> dict[str, dict[str, str]]:
    """``{run: {tag: kind}}`` of the summary tags with a point at a step >= ``step``, for
    the run in ``logdir`` (run ``""``) and its sub-runs; ``kind`` is ``"scalar"``,
    ``"blob"`` or ``"tensor"``."""
    from tblog.checkpoint.resume_scan import scan_runs

    storage = open_storage(logdir, storage_options)
    return {run: scan.stale(step) for run, scan in scan_runs(storage, storage.root).items()}


__all__ = [
    "RESTORED_TAG",
    "SAVED_TAG",
    "SCALAR_TAG",
    "mark_resume",
    "record_restore",
    "record_save",
    "stale_tags",
]
