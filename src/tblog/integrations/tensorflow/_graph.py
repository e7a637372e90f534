"""TensorFlow graphs for the Graphs dashboard: ``tf.Graph`` (``sess.graph``), a
``tf.compat.v1.Session``, a ``GraphDef``, a ``tf.function`` traced with example inputs, or
a ``ConcreteFunction``.

Graphs are serialized as TensorFlow's own writers do (``as_graph_def(add_shapes=True)``),
so node names keep their ``tf.name_scope`` prefixes and the dashboard collapses scopes the
same way; the GraphDef bytes are re-read into tblog's schema (same field numbers, unknown
fields such as the function library kept).
"""

from __future__ import annotations

from typing import Any

from tblog.core.proto import graph_pb2

ACCEPTED = (
    "a tf.Graph (e.g. sess.graph), a tf.compat.v1.Session, a GraphDef, a tf.function with"
    " example inputs, or a ConcreteFunction"
)


def _concrete(function: Any, inputs: Any) -> Any:
    """Trace ``function`` (a ``tf.function``) with ``inputs``: a tuple/list of positional
    arguments, a dict of keyword arguments, one tensor, or ``None`` (its input_signature)."""
    try:
        if inputs is None:
            return function.get_concrete_function()
        if isinstance(inputs, dict):
            return function.get_concrete_function(**inputs)
        if isinstance(inputs, (tuple, list)):
            return function.get_concrete_function(*inputs)
        return function.get_concrete_function(inputs)
    except (TypeError, ValueError) as exc:
        hint = "" if inputs is not None else " (pass example inputs as input_to_model)"
        raise TypeError(f"cannot trace tf.function {_name(function)!r}{hint}: {exc}") from exc


def _name(function: Any) -> str:
    return str(getattr(function, "__name__", None) or getattr(function, "name", "function"))


def tf_graph_def(model: Any, inputs: Any = None) -> graph_pb2.GraphDef:
    """The GraphDef of a TensorFlow graph-like ``model`` (see the module docstring);
    ``TypeError`` naming the accepted kinds for anything else."""
    import tensorflow as tf

    if isinstance(model, tf.compat.v1.Session):
        model = model.graph
    if isinstance(model, tf.types.experimental.PolymorphicFunction):
        model = _concrete(model, inputs)
    if isinstance(model, tf.types.experimental.ConcreteFunction):
        model = model.graph
    if isinstance(model, tf.Graph):
        data = model.as_graph_def(add_shapes=True).SerializeToString()
    elif isinstance(model, tf.compat.v1.GraphDef):
        data = model.SerializeToString()
    else:
        raise TypeError(f"expected {ACCEPTED}; got {type(model).__name__}")
    return graph_pb2.GraphDef.FromString(data)


def graph_def(
    model: Any, inputs: Any, verbose: bool, use_strict_trace: bool
) -> tuple[graph_pb2.GraphDef, None]:
    """The registry's ``graph_def`` hook: ``(GraphDef, None)`` (no run metadata)."""
    return tf_graph_def(model, inputs), None
