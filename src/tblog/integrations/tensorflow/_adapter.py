"""The TensorFlow adapter of :mod:`tblog.core.registry`."""

from __future__ import annotations

from typing import Any

from tblog.core import registry


def to_numpy(value: Any) -> Any:
    """A host numpy array of a TensorFlow tensor or variable (bfloat16 as float32)."""
    import numpy as np

    from tblog.core.convert import widen

    try:
        data = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    except NotImplementedError:  # a symbolic tensor: no value until the graph runs
        raise TypeError(
            f"{value!r:.80} is a symbolic TensorFlow tensor (inside a tf.function or a Keras "
            "graph): tblog needs eager values. Log it outside the tf.function (return it), "
            "or run eagerly (model.compile(run_eagerly=True)); tf.summary works inside."
        ) from None
    return widen(data)


def graph_def(model: Any, inputs: Any, verbose: bool, use_strict_trace: bool) -> Any:
    """``(GraphDef, None)`` of a tf.Graph, Session, GraphDef, tf.function or ConcreteFunction."""
    from tblog.integrations.tensorflow._graph import graph_def as build

    return build(model, inputs, verbose, use_strict_trace)


def scalar_now(value: Any) -> float:
    """A scalar tensor or variable as a float, read now (an eager value is on the host or
    copied by ``float``); shape-[1] tensors and errors go through ``convert.to_float``."""
    try:
        return float(value)
    except (TypeError, ValueError, NotImplementedError):
        from tblog.core.convert import to_float

        return to_float(value)


_current_name_scope: Any = None


def name_scope() -> str:
    """The current ``tf.name_scope`` (``""`` outside any), for ``tblog.summary`` tags."""
    global _current_name_scope
    get = _current_name_scope
    if get is None:
        import tensorflow as tf

        get = _current_name_scope = tf.get_current_name_scope
    scope: str = get()
    return scope


ADAPTER = registry.Adapter(
    name="tensorflow",
    to_numpy=to_numpy,
    defer_scalar=scalar_now,
    name_scope=name_scope,
    graph_def=graph_def,
)
