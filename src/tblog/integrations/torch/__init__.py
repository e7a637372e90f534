"""PyTorch integration: tensors in without stalls, device histograms, graphs, module hooks.

Importing this package does not import torch: it registers the adapter module
(:mod:`tblog.integrations.torch._adapter`) with :mod:`tblog.core.registry`, which loads it
once a torch value reaches the core. ``watch``/``unwatch`` are for users.
"""

from __future__ import annotations

from tblog.core import registry

registry.register("torch", ("torch",), "tblog.integrations.torch._adapter")

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
    # Everything loads on first use: this package is imported without torch.
    if name in ("DeferredScalar", "defer_scalar", "to_numpy"):
        from tblog.integrations.torch import _adapter, _scalar

        return getattr(_adapter if name == "to_numpy" else _scalar, name)
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
