"""Video: an animated GIF in the ``images`` plugin (TensorBoard serves it as image/gif).

``torch.utils.tensorboard`` and tensorboardX write the same thing with moviepy; here the
GIF is written with Pillow. A batch of videos is tiled into one grid per frame with
torch's layout (the batch padded with black videos to a power of two). With ``legacy=True``
the GIF goes in the legacy ``Summary.Image`` field, colorspace = the video's channel count
(what torch writes).
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from tblog.core.proto import summary_pb2
from tblog.core.summaries.image import check_pixels, one_image_summary, to_uint8
from tblog.core.tags import clean_tag

_CHANNELS = (1, 3, 4)


def video_grid(frames: np.ndarray) -> np.ndarray:
    """``[N, T, H, W, C]`` -> ``[T, rows*H, cols*W, C]``: the batch is padded with zeros
    to a power of two and laid out in ``2**((bit_length(N) - 1) // 2)`` rows."""
    n, t, h, w, c = frames.shape
    padded = 1 << (n - 1).bit_length()
    if padded != n:
        pad = np.zeros((padded - n, t, h, w, c), dtype=frames.dtype)
        frames = np.concatenate([frames, pad])
    rows = 2 ** ((n.bit_length() - 1) // 2)
    cols = padded // rows
    grid = frames.reshape(rows, cols, t, h, w, c).transpose(2, 0, 3, 1, 4, 5)
    return grid.reshape(t, rows * h, cols * w, c)


def _palette_frames(rgb: np.ndarray) -> list[Any] | None:
    """Frames ``[T, H, W, 3]`` as palette images sharing one exact palette, or ``None``
    when the video has more than 256 colours."""
    from PIL import Image

    t, h, w, _ = rgb.shape
    if len(np.unique(_color_codes(rgb[0]))) > 256:  # cheap early exit on the first frame
        return None
    colors, index = np.unique(_color_codes(rgb), return_inverse=True)
    if len(colors) > 256:
        return None
    palette = np.stack([colors >> 16, (colors >> 8) & 255, colors & 255], axis=1)
    palette_bytes = palette.astype(np.uint8).tobytes()
    frames = []
    for frame in index.reshape(t, h, w).astype(np.uint8):
        image = Image.frombytes("P", (w, h), frame.tobytes())
        image.putpalette(palette_bytes)
        frames.append(image)
    return frames


def _color_codes(rgb: np.ndarray) -> np.ndarray:
    rgb32 = rgb.astype(np.uint32)
    codes: np.ndarray = (rgb32[..., 0] << 16) | (rgb32[..., 1] << 8) | rgb32[..., 2]
    return codes.reshape(-1)


def encode_gif(frames: np.ndarray, fps: float) -> bytes:
    """An endlessly looping GIF of uint8 ``[T, H, W, C]`` frames (C 1, 3 or 4; alpha is
    dropped). Gray and videos of at most 256 colours are exact; others are reduced to 256
    colours per frame (fast octree). Consecutive identical frames are merged (the
    animation looks the same)."""
    from PIL import Image

    _, h, w, c = frames.shape
    if c == 1:
        images = [Image.frombytes("L", (w, h), f.tobytes()) for f in np.ascontiguousarray(frames)]
    else:
        rgb = np.ascontiguousarray(frames[..., :3])
        images = _palette_frames(rgb) or [
            Image.frombytes("RGB", (w, h), f.tobytes()).quantize(
                256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
            )
            for f in rgb
        ]
    out = io.BytesIO()
    duration = max(10, round(1000 / fps))
    images[0].save(
        out, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0
    )
    return out.getvalue()


def video_pb(
    tag: str, vid: Any, fps: float = 4, description: str = "", *, legacy: bool = False
) -> summary_pb2.Summary:
    """Summary of a batch of videos ``[N, T, C, H, W]`` as one GIF.

    uint8 frames are 0-255, other dtypes 0-1 (as for images). ``C``: 1 (gray), 3 (RGB) or
    4 (RGBA, alpha dropped). ``fps``: frames per second (GIF delays are whole
    hundredths of a second). Raises ``ValueError`` for another rank or channel count, an
    empty video, NaN/infinity or ``fps`` not positive; ``TypeError`` for non-numeric data.
    ``legacy``: write the legacy ``Summary.Image`` field (colorspace ``C``).
    """
    tag = clean_tag(tag)
    arr = check_pixels(vid, "vid_tensor")
    if arr.ndim != 5:
        raise ValueError(f"vid_tensor must have shape [N, T, C, H, W], got {arr.shape}")
    if arr.shape[2] not in _CHANNELS:
        raise ValueError(
            f"vid_tensor must have 1, 3 or 4 channels (shape [N, T, C, H, W]), got {arr.shape}"
        )
    if 0 in arr.shape:
        raise ValueError(f"vid_tensor must not be empty, got shape {arr.shape}")
    if not isinstance(fps, (int, float, np.number)) or isinstance(fps, bool):
        raise TypeError(f"fps must be a number, got {type(fps).__name__}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    frames = video_grid(to_uint8(arr).transpose(0, 1, 3, 4, 2))
    gif = encode_gif(frames, float(fps))
    _, h, w, c = frames.shape
    return one_image_summary(tag, gif, (w, h), c, description, legacy=legacy)
