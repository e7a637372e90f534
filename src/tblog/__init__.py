"""tblog: one fast, crash-safe TensorBoard writer for every training framework.

``import tblog`` imports no ML framework: the framework-facing names resolve lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "SummaryWriter": ("tblog.core.summary_writer", "SummaryWriter"),
    "EventWriter": ("tblog.core.writer", "EventWriter"),
    "read": ("tblog.core.reader", "read"),
    "runs": ("tblog.core.reader", "runs"),
    "scalars": ("tblog.core.reader", "scalars"),
    "DataLossError": ("tblog.core.records", "DataLossError"),
    "TBCallback": ("tblog.integrations.keras", "TBCallback"),
    "TBLogger": ("tblog.integrations.lightning", "TBLogger"),
    "CheckpointManager": ("tblog.core.checkpoint", "CheckpointManager"),
}

__all__ = [
    "CheckpointManager",
    "DataLossError",
    "EventWriter",
    "SummaryWriter",
    "TBCallback",
    "TBLogger",
    "__version__",
    "read",
    "runs",
    "scalars",
]

if TYPE_CHECKING:
    from tblog.core.reader import read, runs, scalars
    from tblog.core.records import DataLossError
    from tblog.core.summary_writer import SummaryWriter
    from tblog.core.writer import EventWriter


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'tblog' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
