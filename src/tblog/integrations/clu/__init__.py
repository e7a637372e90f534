"""CLU (JAX) integration: ``MetricWriter``, an implementation of
``clu.metric_writers.interface.MetricWriter`` that writes through tblog (no TensorFlow),
and ``create_default_writer``, clu's function of that name with this writer.

Importing this package is cheap: clu and jax are imported only when a name below is first
used. ``clu.metric_writers``' own ``__init__`` imports TensorFlow (for its
``SummaryWriter``); see :mod:`tblog.integrations.clu.modules` for how its TF-free modules
(the interface, ``LoggingWriter``, ``MultiWriter``, ``AsyncMultiWriter``) are loaded without
it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MetricWriter", "create_default_writer"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tblog.integrations.clu import writer

        value = getattr(writer, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
