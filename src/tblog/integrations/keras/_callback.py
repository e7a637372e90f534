"""``tblog.TBCallback``: ``keras.callbacks.TensorBoard`` on tblog's writer, on every backend.

Imports keras (this module is loaded on first access of ``TBCallback``). Layout, tags and
steps are Keras' own: ``train/`` and ``validation/`` runs, ``epoch_<metric>`` at the epoch,
``batch_<metric>`` at the global batch, ``evaluation_<metric>_vs_iterations`` at the
optimizer's iteration. Unlike Keras 3.15, epoch summaries are written whatever
``update_freq`` is.
"""

from __future__ import annotations

import os
import time
from typing import Any

import keras
import numpy as np

from tblog.checkpoint import recorder
from tblog.core.summaries.common import (
    DATA_CLASS_BLOB_SEQUENCE,
    metadata,
    string_tensor_proto,
    summary_value,
)
from tblog.integrations.keras import _projector, _weights
from tblog.integrations.keras._distribute import is_chief
from tblog.integrations.keras._graph import model_graph_def
from tblog.integrations.keras._profile import Profiler
from tblog.integrations.keras._tf_writers import SummaryDefaults
from tblog.integrations.keras.checkpoint import RESUME_ATTR
from tblog.writer.summary_writer import SummaryWriter


def _check_freq(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value}")
    return int(value)


def _check_update_freq(value: Any) -> int | str:
    if value == "batch":
        return 1
    if value == "epoch":
        return "epoch"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"update_freq must be 'batch', 'epoch' or a positive int, got {value!r}")
    return int(value)


def _check_profile_batch(value: Any) -> tuple[int, int]:
    message = f"profile_batch must be a non-negative int or a pair of positive ints, got {value!r}"
    if isinstance(value, str):
        try:
            value = [int(v) for v in value.split(",")]
        except ValueError:
            raise ValueError(message) from None
        value = value[0] if len(value) == 1 else value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        start = stop = int(value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        start, stop = int(value[0]), int(value[1])
    else:
        raise ValueError(message)
    if start < 0 or stop < start:
        raise ValueError(message)
    return start, stop


def _model_json_summary(model: Any) -> Any:
    """The ``keras`` tag ``keras.callbacks.TensorBoard`` writes (plugin graph_keras_model),
    for Functional and Sequential models only, as Keras."""
    if type(model).__name__ not in ("Functional", "Sequential"):
        return None
    try:
        config = model.to_json()
    except Exception:  # noqa: BLE001 - a model that cannot serialize just has no config
        return None
    # as TensorBoard reads Keras' own (a rank-0 string migrated by its loader): one blob, so
    # that the Graphs dashboard finds the conceptual graph (list_blob_sequences)
    md = metadata("graph_keras_model", b"1", data_class=DATA_CLASS_BLOB_SEQUENCE)
    return summary_value("keras", string_tensor_proto([config], shape=(1,)), md)


class TBCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Log a Keras fit/evaluate to TensorBoard, as ``keras.callbacks.TensorBoard`` does.

    Arguments have Keras' names and meaning. ``histogram_freq``: weight histograms every
    so many epochs (computed on the backend, only bucket counts reach the host).
    ``write_graph``: a layer graph (Graphs dashboard) and, for Functional and Sequential
    models, the model config (``keras`` tag); ``False`` writes neither.
    ``write_images``: weights as images. ``update_freq``: ``"epoch"``, ``"batch"`` or N
    (``batch_<metric>`` every N batches). ``profile_batch``: batch or ``(start, stop)`` to
    profile with the backend's profiler (TensorFlow, and JAX on Python 3.12+), plus the
    ``batch_<stop>`` run-metadata graph Keras writes. ``embeddings_freq``: write
    ``Embedding`` layers for the Projector every so many epochs; ``embeddings_metadata``:
    a label file (or ``{layer name: file}``), one label per row, relative to ``log_dir``
    as in Keras; a missing file is a warning (the embedding is written without labels).
    ``keras_tag_names``: weight tags as Keras writes them (``<weight path>/histogram``)
    instead of the tag scheme shared with the torch hooks (``parameters/<module>/<param>``).
    Only the chief writes under ``tf.distribute`` multi-worker training.

    Raises ``ValueError``/``TypeError`` for invalid arguments.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: int | str = "epoch",
        profile_batch: int | str | tuple[int, int] = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: str | dict[str, str] | None = None,
        *,
        keras_tag_names: bool = False,
        flush_secs: float = 120,
    ) -> None:
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = _check_freq("histogram_freq", histogram_freq)
        self.write_graph = bool(write_graph)
        self.write_images = bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = _check_update_freq(update_freq)
        self._start_batch, self._stop_batch = _check_profile_batch(profile_batch)
        self._profiler = Profiler(keras.backend.backend(), self._start_batch, self._stop_batch)
        self.embeddings_freq = _check_freq("embeddings_freq", embeddings_freq)
        if embeddings_metadata is not None and not isinstance(embeddings_metadata, (str, dict)):
            raise TypeError(
                f"embeddings_metadata must be a file name or a dict, got {type(embeddings_metadata).__name__}"
            )
        self.embeddings_metadata = embeddings_metadata
        self.keras_tag_names = bool(keras_tag_names)
        self._flush_secs = flush_secs
        self._writers: dict[str, SummaryWriter] = {}
        self._enabled = True
        self._resume_step: tuple[int, int] | None = None
        self._global_train_batch: int | None = 0
        self._graph_written = False
        self._graphed_model: Any = None  # one graph per model and log dir, across fits
        self._epoch_start_time = 0.0
        self._epoch_start_iterations = 0
        self._batch_start_time = 0.0
        self._metadata = _projector.Metadata(self.log_dir, None)
        self._weights: list[tuple[str, Any]] | None = None
        # default tf.summary / tblog.summary writers during fit/evaluate, as Keras' callback
        self._summaries = SummaryDefaults(self._writer, self.update_freq)

    # ------------------------------------------------------------------ writers
    def _writer(self, run: str) -> SummaryWriter:
        writer = self._writers.get(run)
        if writer is None:
            writer = SummaryWriter(
                os.path.join(self.log_dir, run), flush_secs=self._flush_secs, style="tf.summary"
            )
            self._writers[run] = writer
            if self._resume_step is not None:
                _mark_resume(writer, self._resume_step)
        return writer

    def _apply_resume(self) -> None:
        """After a :class:`CheckpointCallback` restored the model, make TensorBoard drop what
        the crashed process logged after the checkpoint, in every run of this callback."""
        resume = getattr(self.model, RESUME_ATTR, None)
        if resume is None or resume == self._resume_step:
            return
        self._resume_step = resume
        for writer in self._writers.values():
            _mark_resume(writer, resume)

    def _close_writers(self) -> None:
        writers, self._writers = self._writers, {}
        for writer in writers.values():
            writer.close()

    def set_model(self, model: Any) -> None:
        """Attach the model (Keras calls this at each fit/evaluate)."""
        super().set_model(model)
        self._enabled = is_chief(keras.backend.backend())
        self._weights = None
        if model is not self._graphed_model:
            self._graph_written = not self.write_graph

    # ------------------------------------------------------------------ train
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # Batch steps continue from the optimizer's iterations (read at the first batch, once
        # a checkpoint callback may have restored them); a fresh model starts at 1 as Keras.
        self._global_train_batch = None
        self._metadata = _projector.Metadata(self.log_dir, self.embeddings_metadata)
        if self.embeddings_freq:
            _projector.check_metadata_names(self.embeddings_metadata, self.model)
            if self._enabled:
                layers = _projector.embedding_layers(self.model)
                self._metadata.check([layer.name for layer in layers])
        if self._enabled and self.model.built and not self._graph_written:
            self._write_graph()
        if self._enabled:
            self._summaries.push("train", 0)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._summaries.close()
        if self._profiler.tracing:
            self._stop_profiler()
        self._close_writers()
        self._resume_step = None  # a restore marks the writers of its own fit only

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.write_steps_per_second:
            self._epoch_start_iterations = self._iterations()
            self._epoch_start_time = time.time()

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._global_train_batch is None:
            self._global_train_batch = self._iterations()
            if self._enabled:
                self._apply_resume()
        self._global_train_batch += 1
        if self._enabled:
            self._summaries.repush("train", self._global_train_batch)
        if self.write_steps_per_second:
            self._batch_start_time = time.time()
        if self._enabled and self._profiler.enabled:
            if self._global_train_batch == self._start_batch:
                self._profiler.start(os.path.join(self.log_dir, "train"))
            if self._profiler.tracing:
                self._profiler.batch_begin(batch)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if not self._enabled:
            return
        if not self._graph_written:
            self._write_graph()
        step = self._global_train_batch or 0
        if self.update_freq != "epoch" and step % int(self.update_freq) == 0:
            writer = self._writer("train")
            metrics: dict[str, Any] = {}
            if self.write_steps_per_second:
                elapsed = time.time() - self._batch_start_time
                metrics["batch_steps_per_second"] = 1.0 / max(elapsed, 1e-9)
            if isinstance(logs, dict):
                metrics.update((f"batch_{name}", value) for name, value in logs.items())
            writer.log_metrics(metrics, step)
        if self._profiler.tracing:
            self._profiler.batch_end()
            if step >= self._stop_batch:
                self._stop_profiler()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self._enabled:
            return
        self._log_epoch_metrics(epoch, logs or {})
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._log_embeddings(epoch)
        self._summaries.forward()

    # ------------------------------------------------------------------ test
    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self._enabled:
            self._summaries.test_begin()

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._enabled:
            self._summaries.test_batch_begin()

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._enabled:
            self._summaries.test_end()
        if not self._enabled or not logs:
            return
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "iterations"):
            return
        step = self._iterations()
        writer = self._writer("validation")
        writer.log_metrics(
            {f"evaluation_{name}_vs_iterations": v for name, v in logs.items()}, step
        )
        writer.flush()

    # ------------------------------------------------------------------ helpers
    def _iterations(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def _learning_rates(self) -> dict[str, float]:
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
        if optimizer is None:
            return {}
        if hasattr(optimizer, "optimizers"):
            return {
                f"learning_rate_{opt.name}": float(keras.ops.convert_to_numpy(opt.learning_rate))
                for opt in optimizer.optimizers
            }
        if isinstance(optimizer, keras.optimizers.Optimizer):
            return {"learning_rate": float(keras.ops.convert_to_numpy(optimizer.learning_rate))}
        return {}

    def _log_epoch_metrics(self, epoch: int, logs: dict[str, Any]) -> None:
        if not logs:
            return
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        train.update(self._learning_rates())
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._epoch_start_time, 1e-9)
            train["steps_per_second"] = (
                self._iterations() - self._epoch_start_iterations
            ) / elapsed
        for run, values in (("train", train), ("validation", val)):
            if values:
                metrics = {f"epoch_{name}": value for name, value in values.items()}
                self._writer(run).log_metrics(metrics, epoch)

    def _named_weights(self) -> list[tuple[str, Any]]:
        if self._weights is None:
            if self.keras_tag_names:
                named = _weights.keras_named_weights(self.model)
                self._weights = [(f"{name}/histogram", var) for name, var in named]
            else:
                named = list(_weights.named_weights(self.model))
                self._weights = [(f"parameters/{name}", var) for name, var in named]
        return self._weights

    def _log_weights(self, epoch: int) -> None:
        named = self._named_weights()
        writer = self._writer("train")
        events = writer.writer
        if events is None:
            return
        wall = time.time()
        norms = not self.keras_tag_names
        for tag, summary, norm in _weights.weight_summaries(named, norms=norms):
            if summary is not None:
                events.summary("", summary, epoch, wall)
            if norm is not None:
                writer.add_scalar("parameters_norm/" + tag[len("parameters/") :], norm, epoch, wall)
        if self.write_images:
            channels_last = keras.config.image_data_format() == "channels_last"
            for tag, var in named:
                img = _weights.weight_image(keras.ops.convert_to_numpy(var), channels_last)
                if img is None or img.shape[-1] not in (1, 3, 4):
                    continue
                if self.keras_tag_names:
                    image_tag = tag[: -len("/histogram")] + "/image"
                else:
                    image_tag = "parameters_image/" + tag[len("parameters/") :]
                writer.add_images(image_tag, img, epoch, dataformats="NHWC")

    def _log_embeddings(self, epoch: int) -> None:
        for layer in _projector.embedding_layers(self.model):
            table = keras.ops.convert_to_numpy(layer.embeddings)
            labels, header = self._metadata.labels(layer.name, table.shape[0])
            self._writer("train").add_embedding(
                table, metadata=labels, global_step=epoch, tag=layer.name, metadata_header=header
            )

    def _write_graph(self) -> None:
        self._graph_written = True
        self._graphed_model = self.model
        writer = self._writer("train")
        writer.add_graph_def(model_graph_def(self.model))
        summary = _model_json_summary(self.model)
        if summary is not None and writer.writer is not None:
            writer.writer.summary("", summary, 0, time.time())

    def _stop_profiler(self) -> None:
        self._profiler.stop(self._writer("train") if self._enabled else None, self.model)


_ITERATION_TAGS = ("batch_", "evaluation_")


def _mark_resume(writer: SummaryWriter, resume: tuple[int, int]) -> None:
    """Mark a run that mixes two step axes as resumed: ``epoch_*``, histograms and images
    count epochs, ``batch_*`` and ``evaluation_*`` the optimizer's iterations.

    ``resume`` is ``(iterations, epoch)`` of the restored checkpoint; each axis is marked at
    its first step logged from there (:func:`tblog.checkpoint.recorder.mark_resume`), so both
    curves keep their history up to the checkpoint and continue after it.
    """
    iterations, epoch = resume
    recorder.mark_resume(writer, epoch, axes=[recorder.Axis(_ITERATION_TAGS, iterations)])
