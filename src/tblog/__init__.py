"""tblog: one fast, crash-safe TensorBoard writer for every training framework.

``import tblog`` imports no ML framework: the framework-facing names resolve lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "SummaryWriter": ("tblog.writer.summary_writer", "SummaryWriter"),
    "EventWriter": ("tblog.core.write.writer", "EventWriter"),
    "read": ("tblog.reader.reader", "read"),
    "runs": ("tblog.reader.reader", "runs"),
    "scalars": ("tblog.reader.reader", "scalars"),
    "histograms": ("tblog.reader.reader", "histograms"),
    "hparams": ("tblog.reader.reader", "hparams"),
    "DataLossWarning": ("tblog.core.format.decode", "DataLossWarning"),
    "DataLossError": ("tblog.core.format.records", "DataLossError"),
    "TBCallback": ("tblog.integrations.keras", "TBCallback"),
    "TBLogger": ("tblog.integrations.lightning", "TBLogger"),
    "CheckpointManager": ("tblog.checkpoint.manager", "CheckpointManager"),
    "summary": ("tblog.summary", None),
    "SystemMonitor": ("tblog.system.monitor", "SystemMonitor"),
    "patch": ("tblog.patching", "patch"),
    "unpatch": ("tblog.patching", "unpatch"),
    "patched": ("tblog.patching", "patched"),
}

__all__ = [
    "CheckpointManager",
    "DataLossError",
    "DataLossWarning",
    "EventWriter",
    "SummaryWriter",
    "SystemMonitor",
    "TBCallback",
    "TBLogger",
    "__version__",
    "histograms",
    "hparams",
    "patch",
    "patched",
    "read",
    "runs",
    "scalars",
    "summary",
    "unpatch",
]

if TYPE_CHECKING:
    from tblog.core.format.decode import DataLossWarning
    from tblog.core.format.records import DataLossError
    from tblog.core.write.writer import EventWriter
    from tblog.patching import patch, patched, unpatch
    from tblog.reader.reader import histograms, hparams, read, runs, scalars
    from tblog.system.monitor import SystemMonitor
    from tblog.writer.summary_writer import SummaryWriter


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'tblog' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(target[0])
    value = module if target[1] is None else getattr(module, target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
