"""Foreign protos in, tblog protos out: Summary / Event / GraphDef from TensorFlow,
``tensorboard.compat.proto`` or serialized bytes, and TF1's old-style values re-encoded.

TF1's summary ops (``tf.compat.v1.summary.scalar/histogram/image/audio``) write
``simple_value``, ``histo``, ``image`` and ``audio`` values that TensorBoard's loaders
convert to tensors when they read them. :func:`migrate` writes what they convert to
(scalar DT_FLOAT tensors, ``[k, 3]`` histograms, ``[w, h, png]`` image strings, ``[1, 2]``
WAV audio), each with its plugin's metadata; tensor values are kept as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tblog.core.proto import event_pb2, summary_pb2
from tblog.core.summaries import common
from tblog.core.summaries.audio import audio_metadata
from tblog.core.summaries.histogram import histogram_from_buckets_pb
from tblog.core.summaries.image import image_metadata
from tblog.core.summaries.scalar import scalar_metadata

# Message names by package: TensorFlow's, tensorboard.compat.proto's and ours.
_PACKAGES = ("tensorflow", "tensorboard", "tblog")


def _names(message: str) -> tuple[str, ...]:
    return tuple(f"{package}.{message}" for package in _PACKAGES)


SUMMARY = _names("Summary")
EVENT = _names("Event")
SESSION_LOG = _names("SessionLog")
GRAPH_DEF = _names("GraphDef")
META_GRAPH_DEF = _names("MetaGraphDef")
RUN_METADATA = _names("RunMetadata")


def proto_name(value: Any) -> str | None:
    """The full protobuf message name of ``value`` (``"tensorflow.Summary"``), else ``None``."""
    descriptor = getattr(value, "DESCRIPTOR", None)
    name = getattr(descriptor, "full_name", None)
    return name if isinstance(name, str) and hasattr(value, "SerializeToString") else None


def proto_bytes(value: Any, kinds: tuple[str, ...], name: str, what: str) -> bytes:
    """The serialized form of ``value``: a message of one of ``kinds`` (TensorFlow's,
    ``tensorboard.compat.proto``'s or ours), or bytes already (a scalar string tensor, as
    ``sess.run`` of a summary op returns, is taken too). ``TypeError`` naming ``name``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if proto_name(value) in kinds:
        data: bytes = value.SerializeToString()
        return data
    numpy = getattr(value, "numpy", None)  # an eager string tensor holding the bytes
    if callable(numpy) and getattr(getattr(value, "dtype", None), "name", "") == "string":
        item = np.asarray(numpy())
        if item.shape == () and isinstance(item.item(), bytes):
            return bytes(item.item())
    article = "an" if what[0] in "AEIOU" else "a"
    raise TypeError(
        f"{name} must be {article} {what} protocol buffer (tblog's, TensorFlow's or"
        f" tensorboard.compat.proto's) or its serialized bytes, got {type(value).__name__}"
    )


def _parse(cls: Any, data: bytes, name: str) -> Any:
    from google.protobuf.message import DecodeError

    try:
        return cls.FromString(data)
    except DecodeError as exc:
        raise ValueError(f"{name} is not a serialized {cls.DESCRIPTOR.name}: {exc}") from None


def as_summary(value: Any, name: str = "summary") -> summary_pb2.Summary:
    """``value`` (a Summary of any origin or its bytes) as our Summary, migrated."""
    if isinstance(value, summary_pb2.Summary):
        return migrate(value)
    return migrate(_parse(summary_pb2.Summary, proto_bytes(value, SUMMARY, name, "Summary"), name))


def as_event(value: Any, name: str = "event") -> event_pb2.Event:
    """``value`` (an Event of any origin or its bytes) as a new Event of ours; a summary
    inside it is migrated."""
    event = _parse(event_pb2.Event, proto_bytes(value, EVENT, name, "Event"), name)
    if event.HasField("summary"):
        migrated = migrate(event.summary)
        if migrated is not event.summary:
            event.summary.CopyFrom(migrated)
    return event


def as_session_log(value: Any, name: str = "session_log") -> event_pb2.SessionLog:
    data = proto_bytes(value, SESSION_LOG, name, "SessionLog")
    log: event_pb2.SessionLog = _parse(event_pb2.SessionLog, data, name)
    return log


def migrate(summary: summary_pb2.Summary) -> summary_pb2.Summary:
    """``summary`` with each old-style value replaced by the tensor TensorBoard reads it
    as; the same object when it has none."""
    kinds = [value.WhichOneof("value") for value in summary.value]
    if not any(kind in _MIGRATIONS for kind in kinds):
        return summary
    out = summary_pb2.Summary()
    for value, kind in zip(summary.value, kinds, strict=True):
        convert = _MIGRATIONS.get(kind or "")
        if convert is None:
            out.value.add().CopyFrom(value)
        else:
            out.value.add().CopyFrom(convert(value))
    return out


def _value(
    tag: str, tensor: Any, md: summary_pb2.SummaryMetadata, old: summary_pb2.Summary.Value
) -> summary_pb2.Summary.Value:
    value = summary_pb2.Summary.Value(tag=tag)
    value.tensor.CopyFrom(tensor)
    value.metadata.CopyFrom(md)
    if old.metadata.display_name:
        value.metadata.display_name = old.metadata.display_name
    return value


def _scalar(old: summary_pb2.Summary.Value) -> summary_pb2.Summary.Value:
    md = scalar_metadata(description=old.metadata.summary_description)
    return _value(old.tag, common.scalar_float_proto(old.simple_value), md, old)


def _histogram(old: summary_pb2.Summary.Value) -> summary_pb2.Summary.Value:
    """Buckets ``[left, right, count]``: empty outer buckets dropped, the outer edges
    (often -/+DBL_MAX) replaced by the histogram's min and max."""
    histo = old.histo
    counts = np.asarray(histo.bucket, dtype=np.float64)
    limits = np.asarray(histo.bucket_limit, dtype=np.float64)
    nonzero = np.flatnonzero(counts[: limits.size])
    if nonzero.size == 0:
        left = right = kept = np.zeros(0)
    else:
        first, last = int(nonzero[0]), int(nonzero[-1])
        inner = limits[first:last]
        left = np.concatenate([[histo.min], inner])
        right = np.concatenate([inner, [histo.max]])
        kept = counts[first : last + 1]
    new = histogram_from_buckets_pb(old.tag, left, right, kept).value[0]
    if old.metadata.summary_description:
        new.metadata.summary_description = old.metadata.summary_description
    if old.metadata.display_name:
        new.metadata.display_name = old.metadata.display_name
    return new


def _image(old: summary_pb2.Summary.Value) -> summary_pb2.Summary.Value:
    image = old.image
    data = [str(image.width).encode(), str(image.height).encode(), image.encoded_image_string]
    md = image_metadata(old.metadata.summary_description)
    return _value(old.tag, common.string_tensor_proto(data), md, old)


def _audio(old: summary_pb2.Summary.Value) -> summary_pb2.Summary.Value:
    tensor = common.string_tensor_proto([[old.audio.encoded_audio_string, b""]])
    return _value(old.tag, tensor, audio_metadata(old.metadata.summary_description), old)


_MIGRATIONS = {
    "simple_value": _scalar,
    "histo": _histogram,
    "image": _image,
    "audio": _audio,
}
