"""``MetricWriter``: CLU's metric-writer interface on tblog's ``tf.summary`` API.

Each method writes what clu's TensorFlow writer (``clu.metric_writers.SummaryWriter``)
writes for the same call, through :mod:`tblog.summary` instead of ``tf.summary``: the same
tags, steps, encodings and hparams session, so TensorBoard shows the same.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from tblog import summary as tb_summary
from tblog.core.proto import plugins_pb2, summary_pb2
from tblog.integrations.clu.modules import metric_writers

__all__ = ["MetricWriter", "create_default_writer"]

_mw = metric_writers()
_Interface: Any = _mw.MetricWriter  # clu.metric_writers.interface.MetricWriter
_clu_utils = importlib.import_module("clu.internal.utils")  # flatten_dict, as clu's writer
_log = logging.getLogger(__name__)
_HPARAMS_TAG = "_hparams_/session_start_info"


def _process_index() -> int:
    import jax

    return int(jax.process_index())


def _session_start_info(hparams: Mapping[str, Any]) -> Any:
    """TensorBoard's ``hparams_api.hparams`` summary metadata: the session's values, its
    group named by the SHA-256 of their JSON, as TensorBoard derives it."""
    values = {
        k: v.item() if isinstance(v, np.generic) else v for k, v in _clu_utils.flatten_dict(hparams)
    }
    group = hashlib.sha256(
        json.dumps(values, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ).hexdigest()
    start = plugins_pb2.SessionStartInfo(group_name=group, start_time_secs=_now())
    for key in sorted(values):
        value = values[key]
        if isinstance(value, bool):
            start.hparams[key].bool_value = value
        elif isinstance(value, (int, float)):
            start.hparams[key].number_value = value
        elif isinstance(value, str):
            start.hparams[key].string_value = value
        else:
            raise TypeError(f"hparams[{key!r}] = {value!r}, of unsupported type {type(value)!r}")
    data = plugins_pb2.HParamsPluginData(version=0, session_start_info=start)
    md = summary_pb2.SummaryMetadata()
    md.plugin_data.plugin_name = "hparams"
    md.plugin_data.content = data.SerializeToString()
    return md


def _metadata(key: str, md: Any) -> Any:
    """``md`` (a SummaryMetadata proto, its bytes or None) as ``tf.summary.write`` takes it:
    bytes that do not parse give empty metadata (TensorFlow ignores them; a warning here)."""
    if not isinstance(md, bytes):
        return md
    parsed = summary_pb2.SummaryMetadata()
    try:
        parsed.ParseFromString(md)
    except DecodeError:
        _log.warning("metadata[%r] is not a serialized SummaryMetadata: written without", key)
        return summary_pb2.SummaryMetadata()
    return parsed


def _now() -> float:
    import time

    return time.time()


class MetricWriter(_Interface):  # type: ignore[misc]
    """A ``clu.metric_writers`` writer of TensorBoard event files in ``logdir`` (a path or
    fsspec URL) that needs no TensorFlow.

    ``process_zero_only`` (default True): on a JAX process other than 0 the writer writes
    nothing (no files), as ``create_default_writer(just_logging=True)`` would have it.
    """

    def __init__(self, logdir: str | os.PathLike[str], *, process_zero_only: bool = True):
        super().__init__()
        self._writer: Any = (
            tb_summary.create_noop_writer()
            if process_zero_only and _process_index() != 0
            else tb_summary.create_file_writer(os.fspath(logdir))
        )

    def _default(self) -> Any:
        return self._writer.as_default(flush=False)

    def write_summaries(
        self,
        step: int,
        values: Mapping[str, Any],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        with self._default():
            for key, value in values.items():
                md = metadata.get(key) if metadata is not None else None
                tb_summary.write(key, value, step=step, metadata=_metadata(key, md))

    def write_scalars(self, step: int, scalars: Mapping[str, Any]) -> None:
        with self._default():
            for key, value in scalars.items():
                tb_summary.scalar(key, value, step=step)

    def write_images(self, step: int, images: Mapping[str, Any]) -> None:
        with self._default():
            for key, value in images.items():
                if len(value.shape) == 3:
                    value = value[None]
                tb_summary.image(key, value, step=step, max_outputs=value.shape[0])

    def write_videos(self, step: int, videos: Mapping[str, Any]) -> None:
        # clu's TensorBoard writer writes no videos either (it warns once): TensorBoard
        # shows the same
        if not getattr(self, "_warned_videos", False):
            self._warned_videos = True
            _log.warning("MetricWriter does not support writing videos.")

    def write_audios(self, step: int, audios: Mapping[str, Any], *, sample_rate: int) -> None:
        with self._default():
            for key, value in audios.items():
                tb_summary.audio(
                    key, value, sample_rate=sample_rate, step=step, max_outputs=value.shape[0]
                )

    def write_texts(self, step: int, texts: Mapping[str, str]) -> None:
        with self._default():
            for key, value in texts.items():
                tb_summary.text(key, value, step=step)

    def write_histograms(
        self,
        step: int,
        arrays: Mapping[str, Any],
        num_buckets: Mapping[str, int] | None = None,
    ) -> None:
        with self._default():
            for key, value in arrays.items():
                buckets = None if num_buckets is None else num_buckets.get(key)
                tb_summary.histogram(key, value, step=step, buckets=buckets)

    def write_hparams(self, hparams: Mapping[str, Any]) -> None:
        with self._default():
            empty = np.zeros([0], np.float32)
            tb_summary.write(_HPARAMS_TAG, empty, step=0, metadata=_session_start_info(hparams))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def create_default_writer(
    logdir: str | os.PathLike[str] | None = None,
    *,
    just_logging: bool | None = None,
    asynchronous: bool = True,
    collection: str | None = None,
) -> Any:
    """clu's ``create_default_writer`` with :class:`MetricWriter` in place of its TF writer:
    a ``MultiWriter`` (``AsyncMultiWriter`` when ``asynchronous``) of a ``LoggingWriter``
    and, unless ``just_logging`` or ``logdir`` is None, a ``MetricWriter`` of
    ``logdir/collection``. ``just_logging=None`` (the default) means
    ``jax.process_index() > 0``: only process 0 writes files.
    """
    if just_logging is None:
        just_logging = _process_index() > 0
    writers: list[Any] = [_mw.LoggingWriter(collection=collection)]
    if not just_logging and logdir is not None:
        path = os.fspath(logdir)
        if collection is not None:
            path = os.path.join(path, collection)
        writers.append(MetricWriter(path, process_zero_only=False))
    return _mw.AsyncMultiWriter(writers) if asynchronous else _mw.MultiWriter(writers)
