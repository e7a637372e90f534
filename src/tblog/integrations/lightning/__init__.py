"""Lightning integration: ``TBLogger``, a drop-in for Lightning's ``TensorBoardLogger``.

Importing this package is cheap: ``TBLogger`` subclasses Lightning's ``Logger``, so its
module (:mod:`tblog.integrations.lightning.logger`) and Lightning itself are imported only
when the name is first used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TBLogger"]


def __getattr__(name: str) -> Any:
    if name == "TBLogger":
        from tblog.integrations.lightning.logger import TBLogger

        globals()[name] = TBLogger
        return TBLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
