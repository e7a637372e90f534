"""accelerate integration: ``TensorBoardTracker``, an ``accelerate.tracking.GeneralTracker``
for ``Accelerator(log_with=TensorBoardTracker(run_name, logging_dir))`` that writes through
tblog and records ``save_state``/``load_state``.

Importing this package is cheap: ``TensorBoardTracker`` subclasses accelerate's
``GeneralTracker``, so its module (:mod:`tblog.integrations.accelerate.tracker`) and
accelerate itself are imported only when the name is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tblog.integrations.accelerate.tracker import TensorBoardTracker

__all__ = ["TensorBoardTracker"]


def __getattr__(name: str) -> Any:
    if name == "TensorBoardTracker":
        from tblog.integrations.accelerate.tracker import TensorBoardTracker

        globals()[name] = TensorBoardTracker
        return TensorBoardTracker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
