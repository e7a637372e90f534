"""``profile_batch`` of ``TBCallback``: the backend profiler's trace plus the ``batch_<N>``
run-metadata graph summary ``keras.callbacks.TensorBoard`` writes beside it.

Keras traces with ``tf.summary.trace_on(graph=True)`` and exports with
``tf.summary.trace_export(name="batch_<stop>", step=stop)``: a ``graph_run_metadata_graph``
summary (content ``b"1"``) holding a serialized ``RunMetadata`` with the function graphs
TensorFlow ran while tracing. On the TensorFlow backend we collect the same graphs from
the eager context; on JAX (no TensorFlow functions run) the ``RunMetadata`` holds the
model's layer graph as its one function graph.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from typing import Any

from tblog.core.format.events import varint
from tblog.core.summaries.common import metadata, string_tensor_proto, summary_value
from tblog.writer.summary_writer import SummaryWriter

_log = logging.getLogger(__name__)

PLUGIN = "graph_run_metadata_graph"


def profiling_available(backend: str, start: int, stop: int) -> bool:
    """Whether ``profile_batch`` can profile on ``backend`` (Keras' rules): ``ValueError``
    on backends without a profiler; on JAX before Python 3.12 a warning and no profiling
    (JAX's profiler crashes there)."""
    if not (start or stop):
        return False
    if backend not in ("tensorflow", "jax"):
        raise ValueError(
            f"profile_batch needs the tensorflow or jax backend, not {backend}; got "
            f"profile_batch=({start}, {stop}) (use 0)"
        )
    if backend == "jax" and sys.version_info < (3, 12):
        warnings.warn(
            "Profiling with the jax backend requires python >= 3.12: profile_batch ignored",
            stacklevel=3,
        )
        return False
    return True


def run_metadata_bytes(graph_def: bytes) -> bytes:
    """A serialized ``tensorflow.RunMetadata`` whose one ``function_graphs`` entry has
    ``graph_def`` (a serialized GraphDef) as its pre-optimization graph."""
    inner = b"\x12" + varint(len(graph_def)) + graph_def  # FunctionGraphs.pre_optimization_graph
    return b"\x22" + varint(len(inner)) + inner  # RunMetadata.function_graphs


def run_metadata_summary(tag: str, data: bytes) -> Any:
    """The summary ``tf.summary.trace_export`` writes for a graph-only trace."""
    return summary_value(tag, string_tensor_proto(data, shape=()), metadata(PLUGIN, b"1"))


class Profiler:
    """One callback's profiling: start at a global batch, stop (and export) at another."""

    def __init__(self, backend: str, start: int, stop: int) -> None:
        self.backend = backend
        self.start_batch, self.stop_batch = start, stop
        self.enabled = profiling_available(backend, start, stop)
        self.tracing = False
        self._started = False
        self._batch_context: Any = None

    def _keras_backend(self) -> Any:
        from keras.src import backend as keras_backend

        return keras_backend

    def start(self, logdir: str) -> None:
        if self.tracing:
            return
        if self.backend == "tensorflow":
            from tensorflow.python.eager import context

            context.context().enable_graph_collection()
            # Drop graphs collected before now (tf.summary.trace_export writes its summary
            # while still collecting, and trace_off does not clear what that collected).
            context.context().export_run_metadata()
        try:
            self._keras_backend().tensorboard.start_trace(logdir)
            self._started = True
        except Exception as exc:  # noqa: BLE001 - profiler errors must not stop training
            _log.error("Failed to start profiler: %s", exc)
        self.tracing = True

    def batch_begin(self, batch: int) -> None:
        if self._started:
            self._batch_context = self._keras_backend().tensorboard.start_batch_trace(batch)

    def batch_end(self) -> None:
        if self._batch_context is not None:
            self._keras_backend().tensorboard.stop_batch_trace(self._batch_context)
            self._batch_context = None

    def stop(self, writer: SummaryWriter | None, model: Any) -> None:
        """Export ``batch_<stop>`` into ``writer`` (None: write nothing), stop the profiler."""
        self.batch_end()
        self.tracing = False
        data = b""
        if self.backend == "tensorflow":
            from tensorflow.core.protobuf import config_pb2
            from tensorflow.python.eager import context

            run_meta = context.context().export_run_metadata()
            context.context().disable_graph_collection()
            if run_meta is not None:
                data = config_pb2.RunMetadata(
                    function_graphs=run_meta.function_graphs,
                    partition_graphs=run_meta.partition_graphs,
                ).SerializeToString()
        elif model is not None:
            from tblog.integrations.keras._graph import model_graph_def

            data = run_metadata_bytes(model_graph_def(model).SerializeToString())
        if writer is not None and writer.writer is not None:
            tag = f"batch_{self.stop_batch}"
            writer.writer.summary("", run_metadata_summary(tag, data), self.stop_batch, time.time())
        if self._started:
            self._started = False
            try:
                self._keras_backend().tensorboard.stop_trace(save=True)
            except Exception as exc:  # noqa: BLE001
                _log.error("Failed to stop profiler: %s", exc)
