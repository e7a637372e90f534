"""Keras integration: ``TBCallback`` (``keras.callbacks.TensorBoard`` on tblog) and
``graph_def`` for ``SummaryWriter.add_graph(keras_model)``.

Importing this package does not import keras: ``TBCallback`` subclasses
``keras.callbacks.Callback`` and is built on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tblog.core import registry

registry.register("keras", ("keras",), "tblog.integrations.keras._adapter")

if TYPE_CHECKING:
    from tblog.core.proto import graph_pb2
    from tblog.integrations.keras._callback import TBCallback
    from tblog.integrations.keras.checkpoint import CheckpointCallback

__all__ = ["CheckpointCallback", "TBCallback", "graph_def"]


def graph_def(
    model: Any, input_to_model: Any = None, verbose: bool = False, use_strict_trace: bool = True
) -> tuple[graph_pb2.GraphDef, None]:
    """GraphDef of a Keras model, one node per layer (``SummaryWriter.add_graph`` hook).

    ``input_to_model``, ``verbose`` and ``use_strict_trace`` are ignored: the graph comes
    from the model's structure. Raises ``TypeError`` for non-Keras models.
    """
    from tblog.integrations.keras._graph import model_graph_def

    return model_graph_def(model), None


def __getattr__(name: str) -> Any:
    if name == "TBCallback":
        from tblog.integrations.keras._callback import TBCallback

        globals()[name] = TBCallback
        return TBCallback
    if name == "CheckpointCallback":
        from tblog.integrations.keras.checkpoint import CheckpointCallback

        globals()[name] = CheckpointCallback
        return CheckpointCallback
    raise AttributeError(f"module 'tblog.integrations.keras' has no attribute {name!r}")
