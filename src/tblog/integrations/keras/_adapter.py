"""The Keras adapter of :mod:`tblog.core.registry` (any backend)."""

from __future__ import annotations

from typing import Any

from tblog.core import registry
from tblog.integrations.keras import graph_def


def _graph_def(model: Any, inputs: Any, verbose: bool, use_strict_trace: bool) -> Any:
    return graph_def(model, inputs, verbose, use_strict_trace)


def to_numpy(value: Any) -> Any:
    """A host numpy array of a Keras tensor or variable, whatever the backend."""
    import keras
    import numpy as np

    return np.asarray(keras.ops.convert_to_numpy(value))


ADAPTER = registry.Adapter(name="keras", to_numpy=to_numpy, graph_def=_graph_def)
