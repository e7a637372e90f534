"""How a ``TBLogger`` resumes its run, through Lightning's public API only.

- **Saving**: at the first ``log_graph(model)`` of a fit (the Trainer calls it on every
  logger once the model is set up and, for a resumed fit, restored, before training),
  the logger adds a :class:`~lightning.pytorch.callbacks.Callback` to ``trainer.callbacks``
  whose ``on_save_checkpoint`` writes the logger's identity into every checkpoint, under
  ``checkpoint["tblog_loggers"]``: name, version, sub dir and the last step it logged
  (and flushes every writer of the process first, as every checkpoint hook does).
- **Resuming**: at that same ``log_graph`` call, when ``trainer.ckpt_path`` is set and the
  Trainer is fitting, the logger reads its identity back from that checkpoint file, moves
  to that version (if the Trainer claimed a new one meanwhile, and the logger was made
  with ``version=None``) and marks its run as resumed from that step. So any
  ``fit(ckpt_path=...)`` continues the same version, wherever the checkpoint lives.
  A checkpoint saved without the identity (by ``TensorBoardLogger``, or an older tblog)
  falls back to the version directory it lies in, and its ``global_step``.

Used: ``LightningModule.trainer``, ``Trainer.ckpt_path``, ``Trainer.state.fn``,
``Trainer.callbacks``, ``Trainer.checkpoint_callbacks``, ``ModelCheckpoint.dirpath``,
``Callback.on_save_checkpoint``: all public (checked against Lightning 2.6.6).
"""

from __future__ import annotations

import importlib
import os
import re
import weakref
from dataclasses import dataclass
from typing import Any

from tblog.checkpoint.recorder import CheckpointRecorder
from tblog.core.storage import is_event_file

_TRAINER_PACKAGES = ("lightning.pytorch", "pytorch_lightning")
CHECKPOINT_KEY = "tblog_loggers"


def trainer_package(trainer: Any) -> str | None:
    """``"lightning.pytorch"`` or ``"pytorch_lightning"``: the package of ``trainer``'s class."""
    for klass in type(trainer).__mro__:
        module = klass.__module__ or ""
        for package in _TRAINER_PACKAGES:
            if module == package or module.startswith(package + "."):
                return package
    return None


def trainer_of(model: Any) -> Any:
    """``model.trainer`` (public), or ``None`` when the module is not attached to one."""
    try:
        return model.trainer
    except (AttributeError, RuntimeError):
        return None


@dataclass
class Identity:
    """What a checkpoint says about the logger that logged its run."""

    name: str
    version: int | str
    sub_dir: str | None
    step: int  # the last step the checkpoint's batches logged at (-1: none)


def attach_state_callback(trainer: Any, logger: Any) -> None:
    """Add (once) the callback writing ``logger``'s identity into ``trainer``'s checkpoints."""
    package = trainer_package(trainer)
    if package is None:
        return
    for cb in trainer.callbacks:
        ref = getattr(cb, "_tblog_logger", None)
        if ref is not None and ref() is logger:
            return
    trainer.callbacks.append(_callback_class(package)(logger))


def identity_of(logger: Any, trainer: Any = None, pl_module: Any = None) -> dict[str, Any]:
    return {
        "name": logger.name,
        "version": logger.version,
        "sub_dir": logger.sub_dir,
        "step": max(int(logger._last_step), _included_log_step(trainer, pl_module)),
    }


def _included_log_step(trainer: Any, pl_module: Any) -> int:
    """The logging step of the last batch a checkpoint saved now includes (-1: unknown).
    Lightning logs a batch's metrics after its ``on_train_batch_end``, so a checkpoint
    saved there (``every_n_train_steps``) holds a batch whose points are logged just after
    the save: they belong to the checkpoint, and the resume (which logs from the next
    batch on) keeps them. Under automatic optimization (one optimizer step a batch at
    most) that batch logs at ``global_step - 1`` or earlier, never later; manual
    optimization may step more than once a batch: only the last logged step is known."""
    if getattr(pl_module, "automatic_optimization", False) is not True:
        return -1
    global_step = getattr(trainer, "global_step", None)
    return global_step - 1 if type(global_step) is int else -1


def read_identity(path: str, logger: Any) -> tuple[Identity | None, int | None]:
    """``(identity of logger's run or None, the checkpoint's global_step or None)`` from the
    checkpoint at ``path`` (read lazily: tensors are memory-mapped, not loaded)."""
    checkpoint = _load(path)
    if not isinstance(checkpoint, dict):
        return None, None
    global_step = checkpoint.get("global_step")
    global_step = int(global_step) if isinstance(global_step, int) else None
    for entry in checkpoint.get(CHECKPOINT_KEY) or ():
        if (entry.get("name") or "") == logger.name and entry.get("sub_dir") == logger.sub_dir:
            return (
                Identity(
                    entry["name"] or "",
                    entry["version"],
                    entry.get("sub_dir"),
                    int(entry.get("step", -1)),
                ),
                global_step,
            )
    return None, global_step


def _load(path: str) -> Any:
    import torch

    if "://" not in str(path):
        try:
            return torch.load(path, map_location="cpu", mmap=True, weights_only=False)
        except (RuntimeError, ValueError, OSError):
            pass  # not a zip-format file: read it whole
    import fsspec

    with fsspec.open(str(path), "rb") as f:
        return torch.load(f, map_location="cpu", weights_only=False)


def fitting(trainer: Any) -> bool:
    fn = getattr(getattr(trainer, "state", None), "fn", None)
    return getattr(fn, "value", fn) == "fit"


def move_checkpoint_dirs(trainer: Any, old_dir: str, new_dir: str) -> None:
    """Point the ``ModelCheckpoint`` callbacks whose ``dirpath`` Lightning derived from the
    version the logger left (``<old_dir>/checkpoints``) at ``<new_dir>/checkpoints``."""
    old = os.path.normpath(os.path.join(old_dir, "checkpoints"))
    for cb in getattr(trainer, "checkpoint_callbacks", None) or ():
        dirpath = getattr(cb, "dirpath", None)
        if isinstance(dirpath, str) and os.path.normpath(dirpath) == old:
            cb.dirpath = os.path.join(new_dir, "checkpoints")


_RANK_RUN = re.compile(r"rank_(\d+)")


def move_run(log_dir: str, version_dir: str, dest: str, rank_run: str | None = None) -> None:
    """Move the event files of the run in ``log_dir`` (a version claimed for this fit, left
    for another version) to the same places under ``dest``, then remove the directories
    left empty, up to ``version_dir``. ``rank_run``: only that rank run's (a ``per_rank``
    logger on a rank but 0: ``log_dir/<rank_run>``); else everything but the other ranks'
    runs (``rank_<r>``, r > 0: each rank moves its own), sub-runs and files another process
    (a ``ddp_spawn`` parent) wrote there included."""
    src = log_dir if rank_run is None else os.path.join(log_dir, rank_run)
    dest = dest if rank_run is None else os.path.join(dest, rank_run)
    for top, dirs, names in os.walk(src, topdown=True):
        if rank_run is None and os.path.normpath(top) == os.path.normpath(src):
            dirs[:] = [d for d in dirs if not _other_rank(d)]
        for name in names:
            if not is_event_file(name):
                continue
            path = os.path.join(top, name)
            target = os.path.join(dest, os.path.relpath(top, src))
            try:
                if not _holds_data(path):
                    os.remove(path)  # a file version and a START: nothing to keep
                    continue
                os.makedirs(target, exist_ok=True)
                os.replace(path, os.path.join(target, name))
            except OSError:
                pass
    for top, _dirs, _names in os.walk(src, topdown=False):
        try:
            os.rmdir(top)
        except OSError:
            pass
    path = os.path.dirname(src) if rank_run is not None else log_dir
    while os.path.normpath(path).startswith(os.path.normpath(version_dir)):
        try:
            os.rmdir(path)
        except OSError:
            return
        if os.path.normpath(path) == os.path.normpath(version_dir):
            return
        path = os.path.dirname(path)


def _holds_data(path: str) -> bool:
    """Whether the event file ``path`` holds a summary, a graph or run metadata."""
    from tblog.core.read.events import path_events
    from tblog.core.storage import open_storage

    storage = open_storage(path)
    for event in path_events(storage, path, check_crc=False):
        if event.summary.value or event.graph_def or event.meta_graph_def:
            return True
        if event.HasField("tagged_run_metadata"):
            return True
    return False


def _other_rank(name: str) -> bool:
    match = _RANK_RUN.fullmatch(name)
    return match is not None and int(match.group(1)) != 0


_CALLBACK_CLASSES: dict[str, type] = {}


def _callback_class(package: str) -> type:
    klass = _CALLBACK_CLASSES.get(package)
    if klass is not None:
        return klass
    base = importlib.import_module(package + ".callbacks").Callback

    def __init__(self: Any, logger: Any) -> None:
        self._tblog_logger = weakref.ref(logger)

    def on_save_checkpoint(
        self: Any, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]
    ) -> None:
        logger = self._tblog_logger()
        if logger is not None:
            entries = checkpoint.setdefault(CHECKPOINT_KEY, [])
            entries.append(identity_of(logger, trainer, pl_module))
            if logger._experiment is not None:
                # what was logged before the checkpoint is on disk before the file is
                CheckpointRecorder(logger._experiment).before_save()

    def __getstate__(self: Any) -> dict[str, Any]:
        return {}

    def __setstate__(self: Any, state: dict[str, Any]) -> None:
        self._tblog_logger = lambda: None

    klass = type(
        "TBLoggerState",
        (base,),
        {
            "__init__": __init__,
            "on_save_checkpoint": on_save_checkpoint,
            "__getstate__": __getstate__,
            "__setstate__": __setstate__,
            "__module__": __name__,
            "__doc__": "Writes a TBLogger's name, version, sub dir and last step into checkpoints.",
        },
    )
    _CALLBACK_CLASSES[package] = klass
    return klass


def checkpoint_metrics(cb: Any, path: str) -> dict[str, float]:
    """``{monitor: score}`` of the checkpoint ``cb`` (a ``ModelCheckpoint``) saved at
    ``path``, else ``{}``."""
    monitor = getattr(cb, "monitor", None)
    score = (getattr(cb, "best_k_models", None) or {}).get(path)
    if not monitor or score is None:
        return {}
    return {str(monitor): float(score)}
