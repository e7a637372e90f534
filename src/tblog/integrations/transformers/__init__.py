"""transformers integration: ``TensorBoardCallback``, a drop-in for
``transformers.integrations.TensorBoardCallback`` that writes through tblog and records
the Trainer's checkpoints (saves, and a ``resume_from_checkpoint`` resume with one point
per step).

Importing this package is cheap: ``TensorBoardCallback`` subclasses transformers'
``TrainerCallback``, so its module (:mod:`tblog.integrations.transformers.callback`) and
transformers itself are imported only when the name is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tblog.integrations.transformers.callback import TensorBoardCallback

__all__ = ["TensorBoardCallback"]


def __getattr__(name: str) -> Any:
    if name == "TensorBoardCallback":
        from tblog.integrations.transformers.callback import TensorBoardCallback

        globals()[name] = TensorBoardCallback
        return TensorBoardCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
