"""PyTorch-Ignite integration: ``TensorboardLogger``, a drop-in for
``ignite.handlers.tensorboard_logger.TensorboardLogger`` that writes through tblog.

Importing this package is cheap: Ignite (and torch) are imported only when one of the
names below is first used. The handlers are Ignite's own classes (they only call
``logger.writer.add_scalar``/``add_histogram`` and check ``isinstance(logger,
ignite's TensorboardLogger)``, which ours is), so tags and steps are Ignite's.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "TensorboardLogger",
    "WeightsHistHandler",
    "WeightsScalarHandler",
    "global_step_from_engine",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tblog.integrations.ignite import logger

        value = getattr(logger, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
