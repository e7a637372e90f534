"""The TensorFlow adapter of :mod:`tblog.core.registry`."""

from __future__ import annotations

from typing import Any

from tblog.core import registry


def to_numpy(value: Any) -> Any:
    """A host numpy array of a TensorFlow tensor or variable (bfloat16 as float32)."""
    import numpy as np

    from tblog.core.convert import widen

    return widen(np.asarray(value.numpy() if hasattr(value, "numpy") else value))


def graph_def(model: Any, inputs: Any, verbose: bool, use_strict_trace: bool) -> Any:
    """``(GraphDef, None)`` of a tf.Graph, Session, GraphDef, tf.function or ConcreteFunction."""
    from tblog.integrations.tensorflow._graph import graph_def as build

    return build(model, inputs, verbose, use_strict_trace)


ADAPTER = registry.Adapter(name="tensorflow", to_numpy=to_numpy, graph_def=graph_def)
