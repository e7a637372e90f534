"""PyTorch integration: tensors in without stalls, device histograms, graphs, module hooks.

``tblog.SummaryWriter`` imports this module only once it sees a torch value, so
``import tblog`` never imports torch. The names here are the contract with the core:
``defer_scalar``, ``histogram_pb``, ``defer_histogram`` and ``graph_def``; ``watch``/``unwatch`` are for users.
"""

from __future__ import annotations

from tblog.integrations.torch._scalar import DeferredScalar, defer_scalar

__all__ = [
    "DeferredScalar",
    "defer_histogram",
    "defer_scalar",
    "graph_def",
    "histogram_pb",
    "unwatch",
    "watch",
]


def __getattr__(name: str) -> object:
    # Histograms, graphs and hooks load on first use.
    if name in ("histogram_pb", "defer_histogram"):
        from tblog.integrations.torch import _histogram

        return getattr(_histogram, name)
    if name == "graph_def":
        from tblog.integrations.torch._graph import graph_def

        return graph_def
    if name in ("watch", "unwatch"):
        from tblog.integrations.torch import hooks

        return getattr(hooks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
