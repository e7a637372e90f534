"""Default state (de)serialization of ``tblog.CheckpointManager``: ``torch.save``/``torch.load``.

Imported by the manager only when no ``save_fn``/``load_fn`` is given, so ``import tblog``
never imports torch.
"""

from __future__ import annotations

from typing import Any

import torch


def save(state: Any, path: str) -> None:
    """Write ``state`` (state dicts, tensors, numbers, lists/dicts of them) to ``path``."""
    torch.save(state, path)


def load(path: str) -> Any:
    """Read what :func:`save` wrote. Only tensors and plain containers are loaded
    (``weights_only=True``); pass a ``load_fn`` to the manager for other objects."""
    return torch.load(path, weights_only=True)
