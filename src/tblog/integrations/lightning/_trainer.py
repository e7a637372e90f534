"""How the logger learns that a Trainer resumed from a checkpoint.

Lightning gives a logger no reference to its Trainer and no restore hook, and the Trainer
creates the logger's experiment (and asks for ``version`` to place ``checkpoints/``) before
it loads the checkpoint. So the logger looks, once per run, up the call stack for the
``Trainer._run(model, ckpt_path)`` frame that is creating its experiment: it holds the
Trainer (whose ``loggers`` contain this logger) and the checkpoint being resumed. With
``version=None`` a checkpoint inside ``<save_dir>/<name>/<version>/`` selects that version,
and a small callback added to ``trainer.callbacks`` reports the restored step at
``on_train_start`` (after ``restore_training_state``). Outside a Trainer nothing is found
and the logger behaves like ``TensorBoardLogger``.
"""

from __future__ import annotations

import importlib
import sys
import weakref
from dataclasses import dataclass
from types import FrameType
from typing import Any

_TRAINER_PACKAGES = ("lightning.pytorch", "pytorch_lightning")
_MAX_DEPTH = 48


@dataclass
class TrainerRun:
    """The Trainer driving a logger, and the checkpoint it resumes from (``None``: fresh)."""

    trainer: Any
    ckpt_path: Any
    fitting: bool


def trainer_package(trainer: Any) -> str | None:
    """``"lightning.pytorch"`` or ``"pytorch_lightning"``: the package of ``trainer``'s class."""
    for klass in type(trainer).__mro__:
        module = klass.__module__ or ""
        for package in _TRAINER_PACKAGES:
            if module == package or module.startswith(package + "."):
                return package
    return None


def _drives(candidate: Any, logger: Any) -> bool:
    if candidate is None or trainer_package(candidate) is None:
        return False
    try:
        loggers = candidate.loggers
    except Exception:  # noqa: BLE001 - not a Trainer after all
        return False
    return any(item is logger for item in (loggers or ()))


def find_run(logger: Any) -> TrainerRun | None:
    """The Trainer whose ``_run`` is on the call stack with ``logger`` among its loggers."""
    frame: FrameType | None = sys._getframe(1)
    depth = 0
    found = None
    while frame is not None and depth < _MAX_DEPTH:
        code = frame.f_code
        if code.co_name in ("_run", "_call_setup_hook", "_log_hyperparams"):
            local = frame.f_locals
            candidate = local.get("self") if code.co_name == "_run" else local.get("trainer")
            if _drives(candidate, logger):
                found = candidate
                if code.co_name == "_run":
                    state = getattr(candidate, "state", None)
                    fn = getattr(getattr(state, "fn", None), "value", None)
                    return TrainerRun(candidate, local.get("ckpt_path"), fn == "fit")
        frame = frame.f_back
        depth += 1
    if found is not None:
        fn = getattr(getattr(getattr(found, "state", None), "fn", None), "value", None)
        return TrainerRun(found, getattr(found, "ckpt_path", None), fn == "fit")
    return None


def logging_step(trainer: Any) -> int:
    """The step Lightning's logger connector logs training metrics at after a restore."""
    loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
    step = getattr(loop, "_batches_that_stepped", None)
    return int(step if step is not None else trainer.global_step)


def attach_resume_hook(trainer: Any, logger: Any) -> None:
    """Add (once) a callback telling ``logger`` when ``trainer`` starts training from a checkpoint.

    The callback calls ``logger._on_resumed(trainer)`` at ``on_train_start`` of every fit
    whose ``trainer.ckpt_path`` is set; it holds the logger weakly and has no state.
    """
    package = trainer_package(trainer)
    if package is None:
        return
    callbacks = trainer.callbacks
    for cb in callbacks:
        if getattr(cb, "_tblog_logger", None) is not None and cb._tblog_logger() is logger:
            return
    callbacks.append(_hook_class(package)(logger))


_HOOK_CLASSES: dict[str, type] = {}


def _hook_class(package: str) -> type:
    klass = _HOOK_CLASSES.get(package)
    if klass is not None:
        return klass
    base = importlib.import_module(package + ".callbacks").Callback

    def __init__(self: Any, logger: Any) -> None:
        self._tblog_logger = weakref.ref(logger)

    def on_train_start(self: Any, trainer: Any, pl_module: Any) -> None:
        logger = self._tblog_logger()
        if logger is not None and trainer.ckpt_path:
            logger._on_resumed(trainer)

    def __getstate__(self: Any) -> dict[str, Any]:
        return {}

    def __setstate__(self: Any, state: dict[str, Any]) -> None:
        self._tblog_logger = lambda: None

    klass = type(
        "TBLoggerResumeHook",
        (base,),
        {
            "__init__": __init__,
            "on_train_start": on_train_start,
            "__getstate__": __getstate__,
            "__setstate__": __setstate__,
            "__module__": __name__,
            "__doc__": "Tells a TBLogger the step its Trainer resumed at (added by the logger).",
        },
    )
    _HOOK_CLASSES[package] = klass
    return klass
