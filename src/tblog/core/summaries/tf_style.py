"""The encodings of ``tf.summary``'s histogram, image, audio and text ops, as pure functions
(arrays in, ``Summary`` out) behind :mod:`tblog.summary._api` (tf.summary's front-end).

Each mirrors ``tensorboard/plugins/<kind>/summary_v2.py`` exactly, so TensorBoard shows the
same thing for ``tf.summary.<kind>`` and ``tblog.summary.<kind>``:

- histogram: ``[k, 3]`` DT_DOUBLE ``(left, right, count)`` rows over ``buckets`` (30) equal
  buckets from min to max (:func:`tblog.core.summaries.histogram.uniform_buckets`, the one
  tf-style histogram);
- image: a rank-1 string tensor ``[width, height, png_0, ...]`` of the first ``max_outputs``
  images of an ``[k, h, w, c]`` batch, floats converted as ``tf.image.convert_image_dtype``
  (``x * 255.5``, saturated, truncated);
- audio: a ``[k, 2]`` string tensor of (16-bit WAV, empty label) rows of a ``[k, t, c]``
  batch, samples as ``tf.audio.encode_wav`` (``round(x * 32768)`` clamped to int16);
- text: a DT_STRING tensor of the data's shape.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from tblog.core.proto import summary_pb2, tensor_pb2
from tblog.core.summaries import audio as audio_summary
from tblog.core.summaries import histogram as histogram_summary
from tblog.core.summaries import image as image_summary
from tblog.core.summaries import text as text_summary
from tblog.core.summaries.common import string_tensor_proto, summary_value

DEFAULT_BUCKET_COUNT = histogram_summary.DEFAULT_BUCKET_COUNT


def check_count(value: Any, name: str, minimum: int = 0) -> int:
    """``value`` as an int ``>= minimum`` (Python or numpy integer, or a one-element
    integer tensor already converted); ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        arr = np.asarray(value) if isinstance(value, np.ndarray) else None
        if arr is None or arr.size != 1 or arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        value = arr.reshape(()).item()
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def histogram_pb(
    tag: str, data: np.ndarray, buckets: Any = None, description: str = ""
) -> summary_pb2.Summary:
    """Summary of tf.summary.histogram's ``[k, 3]`` buckets of ``data`` (any shape):
    :func:`tblog.core.summaries.histogram.uniform_pb`. ``buckets``: a non-negative int
    (default 30). Raises ``TypeError`` for non-numeric data or a non-int ``buckets``."""
    count = DEFAULT_BUCKET_COUNT if buckets is None else check_count(buckets, "buckets")
    return histogram_summary.uniform_pb(tag, data, count, description)


def to_uint8_tf(arr: np.ndarray) -> np.ndarray:
    """Pixels as ``tf.image.convert_image_dtype(x, tf.uint8, saturate=True)`` makes them:
    uint8 unchanged, floats times 255.5 clamped to 0-255 and truncated, bool as 0/255,
    other integers rescaled from their range."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        scale = arr.dtype.type(255.5)
        out: np.ndarray = np.clip(arr * scale, 0, 255).astype(np.uint8)
        return out
    if arr.dtype.kind == "b":
        return arr.astype(np.uint8) * np.uint8(255)
    top = int(np.iinfo(arr.dtype).max) + 1
    wide = arr.astype(np.int64)
    scaled = wide // (top // 256) if top > 256 else wide * (256 // top)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def image_pb(
    tag: str, data: np.ndarray, max_outputs: Any = 3, description: str = ""
) -> summary_pb2.Summary:
    """Summary of the first ``max_outputs`` images of ``data`` ``[k, h, w, c]`` (c 1-4) as
    separate PNG samples ``[w, h, png...]``. Raises ``ValueError`` for another rank, a
    channel count outside 1-4 or NaN/infinity; ``TypeError`` for non-numeric data."""
    limit = check_count(max_outputs, "max_outputs")
    arr = image_summary.check_pixels(data, "data")
    if arr.ndim != 4:
        raise ValueError(f"data must be a [k, h, w, c] batch of images, got shape {arr.shape}")
    if arr.shape[3] not in (1, 2, 3, 4):
        raise ValueError(f"data must have 1-4 channels (its last axis), got shape {arr.shape}")
    pixels = to_uint8_tf(arr[:limit])
    blobs = [image_summary.encode_png(image_summary.to_pil(hwc)) for hwc in pixels]
    return image_summary.blob_summary(tag, blobs, arr.shape[2], arr.shape[1], description)


def to_pcm16_tf(clip: np.ndarray) -> np.ndarray:
    """``[t, c]`` samples as ``tf.audio.encode_wav`` stores them: ``roundf(x * 32768)``
    (halves away from zero, not to even) clamped to int16, channels-first ``[c, t]`` for
    :func:`audio.encode_wav`."""
    product = clip.astype(np.float32) * np.float32(32768.0)  # exact: a power of two
    scaled = np.copysign(np.floor(np.abs(product) + np.float32(0.5)), product)
    pcm: np.ndarray = np.clip(scaled, -32768, 32767).astype("<i2").T
    return pcm


def audio_pb(
    tag: str,
    data: np.ndarray,
    sample_rate: Any,
    max_outputs: Any = 3,
    encoding: str | None = None,
    description: str = "",
) -> summary_pb2.Summary:
    """Summary of the first ``max_outputs`` clips of ``data`` ``[k, t, c]`` (floats in
    [-1, 1]) as ``[k, 2]`` (WAV, label) rows. ``sample_rate``: positive Hz. ``encoding``:
    ``"wav"`` or ``None``. Raises ``ValueError``/``TypeError`` naming the argument."""
    if encoding is None:
        encoding = "wav"
    if encoding != "wav":
        raise ValueError(f"encoding must be 'wav' (or None), got {encoding!r}")
    limit = check_count(max_outputs, "max_outputs")
    if isinstance(sample_rate, np.ndarray) and sample_rate.size == 1:
        sample_rate = sample_rate.reshape(()).item()
    rate = audio_summary.check_sample_rate(sample_rate)
    arr = np.asarray(data)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"data must be real numbers, got dtype {arr.dtype}")
    if arr.ndim != 3:
        raise ValueError(f"data must be a [k, t, c] batch of clips, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("data must not contain NaN or infinity")
    clips = [audio_summary.encode_wav(to_pcm16_tf(clip), rate) for clip in arr[:limit]]
    tensor = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_STRING)
    tensor.tensor_shape.dim.add(size=len(clips))
    tensor.tensor_shape.dim.add(size=2)
    for wav in clips:
        tensor.string_val.extend([wav, b""])
    return summary_value(tag, tensor, audio_summary.audio_metadata(description))


def _is_text(item: Any) -> bool:
    return isinstance(item, (str, bytes, np.str_, np.bytes_))


def text_pb(tag: str, data: Any, description: str = "") -> summary_pb2.Summary:
    """Summary of ``data``: a ``str``/``bytes`` or any nesting/array of them, as a DT_STRING
    tensor of that shape. Raises ``TypeError`` for non-string data."""
    if _is_text(data):
        return text_summary.text_pb(tag, data, description)
    arr = np.asarray(data, dtype=object) if not isinstance(data, np.ndarray) else data
    if arr.dtype.kind not in "OSU" or not all(map(_is_text, arr.reshape(-1))):
        raise TypeError(f"data must be a string or strings, got {type(data).__name__}")
    return summary_value(tag, string_tensor_proto(arr), text_summary.text_metadata(description))
