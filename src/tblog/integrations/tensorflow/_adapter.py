"""The TensorFlow adapter of :mod:`tblog.core.registry`."""

from __future__ import annotations

from typing import Any

from tblog.core import registry


def to_numpy(value: Any) -> Any:
    """A host numpy array of a TensorFlow tensor or variable (bfloat16 as float32)."""
    import numpy as np

    from tblog.core.convert import widen

    return widen(np.asarray(value.numpy() if hasattr(value, "numpy") else value))


def name_scope() -> str:
    """The current ``tf.name_scope`` (``""`` outside any), for ``tblog.summary`` tags."""
    import tensorflow as tf

    scope: str = tf.get_current_name_scope()
    return scope


ADAPTER = registry.Adapter(name="tensorflow", to_numpy=to_numpy, name_scope=name_scope)
