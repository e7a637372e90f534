"""Embeddings for TensorBoard's Projector: files beside the event files, no event records.

:func:`embedding_files` returns what ``add_embedding`` writes, in torch's layout
(docs/event-format.md §6.10): ``<step:05d>/<escaped tag>/tensors.tsv`` (one row per point),
``metadata.tsv`` (labels, optionally under a header row) and ``sprite.png`` (the label
images in a square grid), plus the text-format ``ProjectorConfig`` entry to append to
``projector_config.pbtxt`` in the log dir.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from tblog.core.proto import plugins_pb2
from tblog.core.tags import clean_tag

MAX_SPRITE_SIZE = 8192


def escape_tag(tag: str) -> str:
    """``tag`` with ``%``, ``/`` and ``\\`` escaped as ``%xx`` (one directory name)."""
    return tag.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


def _png(image: np.ndarray) -> bytes:
    """Encode an ``[H, W, 3]`` or ``[H, W, 4]`` uint8 array as PNG."""
    h, w, c = image.shape
    color_type = {3: 2, 4: 6}[c]
    rows = np.concatenate([np.zeros((h, 1), np.uint8), image.reshape(h, w * c)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def _sprite(label_img: np.ndarray) -> bytes:
    """PNG of ``[N, C, H, W]`` images (C 1, 3 or 4) in a ``ceil(sqrt(N))``-wide grid."""
    n, c, h, w = label_img.shape
    imgs = label_img
    if imgs.dtype.kind == "f":
        imgs = (np.nan_to_num(imgs) * 255).clip(0, 255)  # in the input's dtype, as torch
    imgs = imgs.astype(np.uint8)
    if c == 1:
        imgs = np.repeat(imgs, 3, axis=1)
        c = 3
    per_row = math.ceil(math.sqrt(n))
    canvas = np.zeros((per_row * h, per_row * w, c), dtype=np.uint8)
    for i in range(n):
        y, x = divmod(i, per_row)
        canvas[y * h : (y + 1) * h, x * w : (x + 1) * w] = imgs[i].transpose(1, 2, 0)
    return _png(canvas)


def _cell(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _metadata_tsv(metadata: Sequence[Any], n: int, header: Sequence[Any] | None) -> bytes:
    if isinstance(metadata, (str, bytes)) or not hasattr(metadata, "__len__"):
        raise TypeError(f"metadata must be a sequence of labels, got {type(metadata).__name__}")
    if len(metadata) != n:
        raise ValueError(f"metadata has {len(metadata)} entries for {n} points")
    if not header:
        lines = [_cell(m) for m in metadata]
    else:
        cols = len(header)
        lines = ["\t".join(_cell(h) for h in header)]
        for i, row in enumerate(metadata):
            if isinstance(row, (str, bytes)) or not hasattr(row, "__len__") or len(row) != cols:
                raise ValueError(f"metadata[{i}] must have {cols} columns, like metadata_header")
            lines.append("\t".join(_cell(v) for v in row))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _tensors_tsv(mat: np.ndarray) -> bytes:
    fmt = "%.9g" if mat.dtype.itemsize <= 4 else "%.17g"
    out = io.BytesIO()
    np.savetxt(
        out, mat.astype(np.float64) if mat.dtype.kind != "f" else mat, fmt=fmt, delimiter="\t"
    )
    return out.getvalue()


def embedding_files(
    mat: np.ndarray,
    metadata: Sequence[Any] | None = None,
    label_img: np.ndarray | None = None,
    tag: str = "default",
    step: int = 0,
    metadata_header: Sequence[Any] | None = None,
) -> tuple[dict[str, bytes], str]:
    """Files of one embedding, relative to the log dir, and its ``projector_config.pbtxt`` entry.

    ``mat``: ``[N, D]`` real numbers (finite). ``metadata``: N labels, or N rows of
    ``len(metadata_header)`` values when ``metadata_header`` is given. ``label_img``:
    ``[N, C, H, W]`` thumbnails, C in (1, 3, 4), floats in [0, 1] or uint8. Raises
    ``ValueError`` for mismatched sizes, non-finite values or a sprite over 8192 px, and
    ``TypeError`` for non-numeric arrays.
    """
    from google.protobuf import text_format

    tag = clean_tag(tag)
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    m = np.asarray(mat)
    if m.dtype.kind not in "biuf":
        raise TypeError(f"mat must be numeric, got dtype {m.dtype}")
    if m.ndim != 2:
        raise ValueError(f"mat must be 2-D [N, D], got shape {m.shape}")
    if not np.isfinite(m).all():
        raise ValueError("mat must be finite")
    n = m.shape[0]
    subdir = f"{int(step):05d}/{escape_tag(tag)}"
    files = {f"{subdir}/tensors.tsv": _tensors_tsv(m)}
    info = plugins_pb2.EmbeddingInfo(
        tensor_name=f"{tag}:{int(step):05d}", tensor_path=f"{subdir}/tensors.tsv"
    )
    info.tensor_shape.extend(m.shape)
    if metadata is not None:
        files[f"{subdir}/metadata.tsv"] = _metadata_tsv(metadata, n, metadata_header)
        info.metadata_path = f"{subdir}/metadata.tsv"
    if label_img is not None:
        imgs = np.asarray(label_img)
        if imgs.dtype.kind not in "biuf":
            raise TypeError(f"label_img must be numeric, got dtype {imgs.dtype}")
        if imgs.ndim != 4 or imgs.shape[1] not in (1, 3, 4):
            raise ValueError(
                f"label_img must have shape [N, C, H, W] with C 1, 3 or 4, got {imgs.shape}"
            )
        if imgs.shape[0] != n:
            raise ValueError(f"label_img has {imgs.shape[0]} images for {n} points")
        per_row = math.ceil(math.sqrt(n))
        if per_row * max(imgs.shape[2], imgs.shape[3]) > MAX_SPRITE_SIZE:
            raise ValueError(
                f"the sprite of {n} images of {imgs.shape[3]}x{imgs.shape[2]} px would exceed "
                f"{MAX_SPRITE_SIZE} px; use smaller label_img"
            )
        files[f"{subdir}/sprite.png"] = _sprite(imgs)
        info.sprite.image_path = f"{subdir}/sprite.png"
        info.sprite.single_image_dim.extend([imgs.shape[3], imgs.shape[2]])
    entry = text_format.MessageToString(plugins_pb2.ProjectorConfig(embeddings=[info]))
    return files, entry
