"""The Lightning package that ``TBLogger`` builds on: ``lightning`` (preferred) or
``pytorch_lightning``, whichever is installed, and the few of its helpers the logger uses.
Importing this module imports that package.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from typing import Any, TypeVar, cast

from tblog.integrations.lightning import _trainer


def _import_first(*names: str) -> Any:
    error: ImportError | None = None
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            error = exc
    raise ImportError(
        "tblog.TBLogger needs `lightning` or `pytorch_lightning`: pip install lightning"
    ) from error


_pl = _import_first("lightning.pytorch", "pytorch_lightning")
PACKAGE: str = _pl.__name__
_fabric = importlib.import_module(
    "lightning.fabric" if PACKAGE == "lightning.pytorch" else "lightning_fabric"
)
loggers = importlib.import_module(PACKAGE + ".loggers")
_fabric_logger = importlib.import_module(_fabric.__name__ + ".loggers.logger")
fabric_utils = importlib.import_module(_fabric.__name__ + ".utilities.logger")
cloud_io = importlib.import_module(_fabric.__name__ + ".utilities.cloud_io")
_rank_zero = importlib.import_module(PACKAGE + ".utilities.rank_zero")
saving = importlib.import_module(PACKAGE + ".core.saving")

_F = TypeVar("_F", bound=Callable[..., Any])


def _decorator(fn: Any) -> Callable[[_F], _F]:
    """Lightning's (untyped) decorators, typed as keeping the signature they wrap."""
    return cast("Callable[[_F], _F]", fn)


_rank_zero_only = _rank_zero.rank_zero_only  # its ``rank`` is set by the Trainer's strategy
rank_zero_only = _decorator(_rank_zero_only)
rank_zero_experiment = _decorator(_fabric_logger.rank_zero_experiment)
rank_zero_warn = _rank_zero.rank_zero_warn


def rank() -> int:
    """This process's global rank as Lightning knows it (0 outside distributed runs)."""
    return int(getattr(_rank_zero_only, "rank", 0))


def jit_is_scripting(model: Any) -> Any:
    """Lightning's ``_jit_is_scripting`` context of the package that defines ``model``."""
    package = _trainer.trainer_package(model)
    module = importlib.import_module((package or PACKAGE) + ".core.module")
    ctx = getattr(module, "_jit_is_scripting", None)
    return ctx() if ctx is not None else contextlib.nullcontext()


def register_as_tensorboard_logger(cls: type, package: str) -> None:
    """Make ``isinstance(logger, <package>.loggers.TensorBoardLogger)`` true, so that
    ``trainer.log_dir`` is this logger's ``log_dir`` as it is for ``TensorBoardLogger``."""
    try:
        tb_logger = importlib.import_module(package + ".loggers").TensorBoardLogger
    except (ImportError, AttributeError):
        return
    if not issubclass(cls, tb_logger):
        tb_logger.register(cls)
