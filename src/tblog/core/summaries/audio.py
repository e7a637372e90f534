"""Audio: plugin ``audio``, a ``[k, 2]`` DT_STRING tensor of (WAV clip, label) rows.

Mirrors ``tensorboard/plugins/audio/summary_v2.py``: ``AudioPluginData{version 0,
encoding WAV}``. ``data_class`` is left unset on purpose: TensorBoard then marks the series
BLOB_SEQUENCE and keeps column 0 (the clips) itself, in both of its loaders; a writer that
sets BLOB_SEQUENCE on a ``[k, 2]`` tensor skips that projection.

With ``legacy=True`` the clip goes in the legacy ``Summary.Audio`` field instead (sample
rate, channels, frames, the WAV, content type ``audio/wav``; no metadata): what TensorBoard
migrates to the plugin's tensor and the legacy ``EventAccumulator.Audio()`` reads.
"""

from __future__ import annotations

import io
import math
import wave
from typing import Any

import numpy as np

from tblog.core.proto import plugins_pb2, summary_pb2, tensor_pb2
from tblog.core.summaries.common import metadata
from tblog.core.tags import clean_tag

PLUGIN_NAME = "audio"
MAX_CHANNELS = 8
_PCM_MAX = 32767  # int16 full scale, torch's factor


def audio_metadata(description: str = "") -> summary_pb2.SummaryMetadata:
    """Metadata of an audio series: ``AudioPluginData{version 0, encoding WAV}``."""
    content = plugins_pb2.AudioPluginData(
        version=0, encoding=plugins_pb2.AudioPluginData.WAV
    ).SerializeToString()
    return metadata(PLUGIN_NAME, content, summary_pb2.DATA_CLASS_UNKNOWN, description=description)


_METADATA = audio_metadata()


def check_sample_rate(sample_rate: Any) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.number)):
        raise TypeError(f"sample_rate must be a number, got {type(sample_rate).__name__}")
    if not (math.isfinite(sample_rate) and sample_rate >= 1):
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
    return round(float(sample_rate))


def to_pcm16(snd: Any) -> np.ndarray:
    """Samples in [-1, 1] as int16 PCM ``[C, L]``.

    ``snd``: ``[L]``, ``[1, L]`` (mono) or ``[C, L]`` with at most 8 channels; other
    length-1 axes are squeezed as torch does. Values outside [-1, 1] are clipped, then
    multiplied by 32767 and truncated (torch's conversion). Raises ``ValueError`` for
    another rank, an empty clip or NaN/infinity; ``TypeError`` for non-numeric dtypes.
    """
    arr = np.asarray(snd)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"snd_tensor must be a real numeric array, got dtype {arr.dtype}")
    shape = arr.shape
    arr = arr.squeeze()
    if arr.ndim == 0 and arr.size == 1:
        arr = arr.reshape(1)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(
            f"snd_tensor must have shape [L], [1, L] or [C, L] with L > 0, got {shape}"
        )
    if arr.shape[0] > MAX_CHANNELS:
        raise ValueError(
            f"snd_tensor must be channels-first [C, L] with C <= {MAX_CHANNELS}, got {shape}"
        )
    if arr.dtype.kind != "f" or arr.dtype.itemsize < 4:  # float16 cannot hold 32767
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("snd_tensor must not contain NaN or infinity")
    pcm: np.ndarray = (np.clip(arr, -1, 1) * _PCM_MAX).astype("<i2")
    return pcm


def encode_wav(pcm: np.ndarray, sample_rate: int) -> bytes:
    """A 16-bit PCM WAV file of int16 ``[C, L]`` samples at ``sample_rate`` Hz. Raises
    ``ValueError`` when the WAV header cannot hold the rate (its byte rate is a uint32)."""
    if sample_rate * max(1, pcm.shape[0]) * 2 > 0xFFFFFFFF:
        raise ValueError(
            f"sample_rate {sample_rate} Hz is out of range for a WAV file with "
            f"{pcm.shape[0]} channel(s) (at most {0xFFFFFFFF // (2 * max(1, pcm.shape[0]))})"
        )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(pcm.shape[0])
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(np.ascontiguousarray(pcm.T, dtype="<i2").tobytes())
    return out.getvalue()


def legacy_audio_summary(tag: str, pcm: np.ndarray, sample_rate: int) -> summary_pb2.Summary:
    """Summary of int16 ``[C, L]`` samples as a WAV in the legacy ``Summary.Audio`` field."""
    summary = summary_pb2.Summary()
    clip = summary.value.add(tag=tag).audio
    clip.sample_rate = sample_rate
    clip.num_channels = pcm.shape[0]
    clip.length_frames = pcm.shape[1]
    clip.encoded_audio_string = encode_wav(pcm, sample_rate)
    clip.content_type = "audio/wav"
    return summary


def audio_pb(
    tag: str,
    snd: Any,
    sample_rate: float = 44100,
    label: str = "",
    description: str = "",
    *,
    legacy: bool = False,
) -> summary_pb2.Summary:
    """Summary of one audio clip as 16-bit WAV.

    ``snd``: samples in [-1, 1], shape ``[L]``, ``[1, L]`` or ``[C, L]`` (see
    :func:`to_pcm16`, which names the errors); ``sample_rate`` in Hz (positive);
    ``label``: Markdown stored beside the clip. ``legacy``: the legacy ``Summary.Audio``
    field, which has no place for a ``label`` or ``description`` (``ValueError``).
    """
    tag = clean_tag(tag)
    rate = check_sample_rate(sample_rate)
    if legacy:
        if label or description:
            raise ValueError("a legacy audio value has no place for a label or description")
        return legacy_audio_summary(tag, to_pcm16(snd), rate)
    wav = encode_wav(to_pcm16(snd), rate)
    tensor = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_STRING)
    tensor.tensor_shape.dim.add(size=1)
    tensor.tensor_shape.dim.add(size=2)
    tensor.string_val.extend([wav, label.encode("utf-8")])
    summary = summary_pb2.Summary()
    value = summary.value.add(tag=tag)
    value.tensor.CopyFrom(tensor)
    value.metadata.CopyFrom(audio_metadata(description) if description else _METADATA)
    return summary
