"""Images: plugin ``images``, a rank-1 DT_STRING tensor ``[width, height, png, ...]``, or
with ``legacy=True`` the legacy ``Summary.Image`` field (height, width, colorspace = the
encoded image's channel count, the PNG; no metadata), which TensorBoard's loaders migrate
to the plugin's tensor and which the legacy ``EventAccumulator.Images()`` (and tbparse)
read.

Mirrors ``tensorboard/plugins/image/summary_v2.py`` + ``metadata.py``; pixels are prepared
the way ``torch.utils.tensorboard`` prepares them (``convert_to_HWC``/``make_grid``), so the
same call shows TensorBoard the same picture: uint8 is taken as 0-255, every other dtype
as 0-1 (multiplied by 255, clipped, truncated); a batch is tiled into one grid image.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from tblog.core.proto import plugins_pb2, summary_pb2, tensor_pb2
from tblog.core.summaries.common import DATA_CLASS_BLOB_SEQUENCE, metadata
from tblog.core.tags import clean_tag

PLUGIN_NAME = "images"
GRID_COLUMNS = 8  # torch's make_grid default
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_FORMAT_LETTERS = ({"H", "W"}, {"C", "H", "W"}, {"N", "C", "H", "W"})


def image_metadata(description: str = "") -> summary_pb2.SummaryMetadata:
    """Metadata of an image series (``ImagePluginData{version 0}``, data_class BLOB_SEQUENCE)."""
    content = plugins_pb2.ImagePluginData(version=0).SerializeToString()
    return metadata(PLUGIN_NAME, content, DATA_CLASS_BLOB_SEQUENCE, description=description)


_METADATA = image_metadata()


def blob_summary(
    tag: str, blobs: Sequence[bytes], width: int, height: int, description: str = ""
) -> summary_pb2.Summary:
    """Summary of encoded images (PNG, GIF, ...) of one ``width`` x ``height``."""
    tensor = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_STRING)
    tensor.tensor_shape.dim.add(size=2 + len(blobs))
    tensor.string_val.extend([str(int(width)).encode(), str(int(height)).encode(), *blobs])
    summary = summary_pb2.Summary()
    value = summary.value.add(tag=tag)
    value.tensor.CopyFrom(tensor)
    value.metadata.CopyFrom(image_metadata(description) if description else _METADATA)
    return summary


def legacy_image_summary(
    tag: str, blob: bytes, width: int, height: int, colorspace: int
) -> summary_pb2.Summary:
    """Summary of one encoded image (PNG, GIF, ...) in the legacy ``Summary.Image`` field,
    without plugin metadata (TensorBoard migrates it to the images plugin)."""
    summary = summary_pb2.Summary()
    image = summary.value.add(tag=tag).image
    image.height = int(height)
    image.width = int(width)
    image.colorspace = int(colorspace)
    image.encoded_image_string = blob
    return summary


def one_image_summary(
    tag: str,
    blob: bytes,
    size: tuple[int, int],
    channels: int,
    description: str = "",
    *,
    legacy: bool = False,
) -> summary_pb2.Summary:
    """Summary of one encoded image of ``size`` (width, height) with ``channels`` channels:
    the plugin's tensor, or with ``legacy`` the ``Summary.Image`` field (which has no place
    for a ``description``: ``ValueError``)."""
    if not legacy:
        return blob_summary(tag, [blob], size[0], size[1], description)
    if description:
        raise ValueError("a legacy image value has no metadata to hold a description")
    return legacy_image_summary(tag, blob, size[0], size[1], channels)


def check_pixels(array: Any, name: str) -> np.ndarray:
    """``array`` as a real numeric numpy array; ``TypeError`` for other dtypes and
    ``ValueError`` for NaN or infinities."""
    arr = np.asarray(array)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric or bool array, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} must not contain NaN or infinity")
    return arr


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """Pixels as uint8: uint8 unchanged; any other dtype times 255, clipped to 0-255 and
    truncated (torch's rule, so 0-1 floats map to 0-255)."""
    if arr.dtype == np.uint8:
        return arr
    scaled = arr.astype(np.float32) * np.float32(255)
    pixels: np.ndarray = np.clip(scaled, 0, 255).astype(np.uint8)
    return pixels


def to_nhwc(array: Any, dataformats: str, name: str = "img_tensor") -> np.ndarray:
    """Reorder an image or batch to ``[N, H, W, C]`` following ``dataformats``.

    ``dataformats``: any ordering of HW, CHW or NCHW (case-insensitive); HW and CHW give
    ``N = 1``. ``C`` must be 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA). Raises
    ``ValueError`` naming ``dataformats`` and the shape when they disagree.
    """
    arr = check_pixels(array, name)
    if not isinstance(dataformats, str):
        raise TypeError(f"dataformats must be a str, got {type(dataformats).__name__}")
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt) or set(fmt) not in _FORMAT_LETTERS:
        raise ValueError(f"dataformats must be an ordering of HW, CHW or NCHW, got {dataformats!r}")
    if arr.ndim != len(fmt):
        raise ValueError(
            f"dataformats {dataformats!r} needs a {len(fmt)}-D {name}, got shape {arr.shape}"
        )
    full = fmt if len(fmt) == 4 else "N" + fmt if "C" in fmt else "NC" + fmt
    arr = arr.reshape((1,) * (4 - arr.ndim) + arr.shape)
    nhwc = arr.transpose([full.index(c) for c in "NHWC"])
    if nhwc.shape[3] not in _MODES:
        raise ValueError(
            f"{name} must have 1, 2, 3 or 4 channels (C in dataformats {dataformats!r}), "
            f"got shape {np.shape(array)}"
        )
    if 0 in nhwc.shape:
        raise ValueError(f"{name} must not be empty, got shape {np.shape(array)}")
    return nhwc


def make_grid(nhwc: np.ndarray, columns: int = GRID_COLUMNS) -> np.ndarray:
    """Tile ``[N, H, W, C]`` into one ``[rows*H, cols*W, C]`` image, row-major, with
    ``cols = min(N, columns)`` and zero (black) padding: torch's ``make_grid`` layout."""
    n, h, w, c = nhwc.shape
    cols = min(n, columns)
    rows = -(-n // cols)
    if rows * cols != n:
        pad = np.zeros((rows * cols - n, h, w, c), dtype=nhwc.dtype)
        nhwc = np.concatenate([nhwc, pad])
    grid = nhwc.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * h, cols * w, c)


def to_pil(hwc: np.ndarray) -> Any:
    """A PIL image of a uint8 ``[H, W, C]`` array (C 1-4: L, LA, RGB, RGBA)."""
    from PIL import Image

    h, w, c = hwc.shape
    return Image.frombytes(_MODES[c], (w, h), np.ascontiguousarray(hwc).tobytes())


def encode_png(image: Any) -> bytes:
    """PNG bytes of a PIL image."""
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _hwc_uint8(img: Any, dataformats: str, name: str) -> np.ndarray:
    nhwc = to_uint8(to_nhwc(img, dataformats, name))
    return nhwc[0] if nhwc.shape[0] == 1 else make_grid(nhwc)


def image_pb(
    tag: str, img: Any, dataformats: str = "CHW", description: str = "", *, legacy: bool = False
) -> summary_pb2.Summary:
    """Summary of one image, PNG-encoded.

    ``img``: ``[C, H, W]`` by default, or the layout ``dataformats`` names (HW, HWC, ...;
    an N in it tiles the batch like :func:`images_pb`). uint8 is 0-255, other dtypes
    0-1. Raises ``ValueError`` for a shape that does not match ``dataformats``, a
    channel count other than 1-4, NaN or infinity; ``TypeError`` for non-numeric dtypes.
    ``legacy``: write the legacy ``Summary.Image`` field (colorspace: the PNG's channels).
    """
    tag = clean_tag(tag)
    hwc = _hwc_uint8(img, dataformats, "img_tensor")
    h, w, c = hwc.shape
    png = encode_png(to_pil(hwc))
    return one_image_summary(tag, png, (w, h), c, description, legacy=legacy)


def images_pb(
    tag: str, imgs: Any, dataformats: str = "NCHW", description: str = "", *, legacy: bool = False
) -> summary_pb2.Summary:
    """Summary of a batch of images shown as one grid (8 per row, as torch shows it).

    ``imgs``: ``[N, C, H, W]`` by default, or the layout ``dataformats`` names. Same
    value rules and errors as :func:`image_pb`; ``legacy`` as there.
    """
    return image_pb(tag, imgs, dataformats, description, legacy=legacy)


def image_samples_pb(
    tag: str, imgs: Any, dataformats: str = "NHWC", max_outputs: int = 3, description: str = ""
) -> summary_pb2.Summary:
    """Summary of the first ``max_outputs`` images of a batch as separate samples (what
    ``tf.summary.image`` writes: ``[w, h, png_0, ...]``, browsed with a slider).

    ``imgs``: ``[N, H, W, C]`` by default, or the layout ``dataformats`` names. Values and
    errors as in :func:`image_pb`; ``max_outputs`` must be a positive int.
    """
    tag = clean_tag(tag)
    if isinstance(max_outputs, bool) or not isinstance(max_outputs, (int, np.integer)):
        raise TypeError(f"max_outputs must be an int, got {type(max_outputs).__name__}")
    if max_outputs < 1:
        raise ValueError(f"max_outputs must be at least 1, got {max_outputs}")
    nhwc = to_uint8(to_nhwc(imgs, dataformats, "imgs")[:max_outputs])
    blobs = [encode_png(to_pil(hwc)) for hwc in nhwc]
    return blob_summary(tag, blobs, nhwc.shape[2], nhwc.shape[1], description)


def _check_boxes(boxes: Any, labels: Any) -> tuple[np.ndarray, list[str] | None]:
    arr = np.asarray(boxes)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"box_tensor must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"box_tensor must have shape [N, 4] (x1, y1, x2, y2), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("box_tensor must not contain NaN or infinity")
    if labels is None:
        return arr.astype(np.float64), None
    if isinstance(labels, str):
        labels = [labels]
    labels = list(labels)
    if len(labels) != arr.shape[0] or not all(isinstance(s, str) for s in labels):
        raise ValueError(f"labels must be {arr.shape[0]} strings (one per box), got {labels!r:.80}")
    return arr.astype(np.float64), labels


def draw_boxes(image: Any, boxes: np.ndarray, labels: list[str] | None) -> Any:
    """Draw ``boxes`` ([N, 4] x1, y1, x2, y2 in pixels) in red, 2 px wide, on an RGB(A)
    PIL ``image``; each label goes in a red box on the box's lower-left corner."""
    from PIL import ImageDraw, ImageFont

    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default() if labels else None
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        draw.line([(x1, y1), (x1, y2), (x2, y2), (x2, y1), (x1, y1)], fill="red", width=2)
        if labels and labels[i]:
            left, top, right, bottom = draw.textbbox((0, 0), labels[i], font=font)
            width, height = right - left, bottom - top
            margin = int(np.ceil(0.05 * height))
            draw.rectangle([x1, y2 - height - 2 * margin, x1 + width, y2], fill="red")
            draw.text(
                (x1 + margin - left, y2 - height - margin - top), labels[i], fill="black", font=font
            )
    return image


def image_with_boxes_pb(
    tag: str,
    img: Any,
    boxes: Any,
    dataformats: str = "CHW",
    labels: Sequence[str] | None = None,
    rescale: float = 1,
    *,
    legacy: bool = False,
) -> summary_pb2.Summary:
    """Summary of one image with bounding boxes drawn on it.

    ``img`` as in :func:`image_pb`; ``boxes``: ``[N, 4]`` pixel corners x1, y1, x2, y2;
    ``labels``: ``N`` strings or ``None``; ``rescale``: the image (boxes included) is
    resized by this factor. Raises ``ValueError`` for bad shapes, label counts or a
    ``rescale`` that is not positive. ``legacy`` as in :func:`image_pb` (width and height
    are the encoded, rescaled image's).
    """
    tag = clean_tag(tag)
    hwc = _hwc_uint8(img, dataformats, "img_tensor")
    box_arr, label_list = _check_boxes(boxes, labels)
    if not isinstance(rescale, (int, float, np.number)) or isinstance(rescale, bool):
        raise TypeError(f"rescale must be a number, got {type(rescale).__name__}")
    h, w = hwc.shape[:2]
    size = (int(w * rescale), int(h * rescale))
    if not np.isfinite(rescale) or min(size) < 1:
        raise ValueError(f"rescale must be a positive factor, got {rescale}")
    if hwc.shape[2] < 3:  # gray (+alpha) -> RGB (+alpha) so the boxes can be red
        hwc = np.concatenate([hwc[..., :1]] * 3 + [hwc[..., 1:]], axis=2)
    image = draw_boxes(to_pil(hwc), box_arr, label_list)
    if size != (w, h):
        from PIL import Image

        image = image.resize(size, Image.Resampling.LANCZOS)
    return one_image_summary(tag, encode_png(image), size, len(image.getbands()), legacy=legacy)
