"""Meshes and point clouds: plugin ``mesh``, one ``[B, N, 3]`` tensor per component.

Each component gets its own value tagged ``<tag>_VERTEX``, ``<tag>_FACE`` or
``<tag>_COLOR``; ``MeshPluginData.name`` is the user's tag, which the plugin groups them
by (docs/event-format.md §6.9). Vertices are written as float32, faces as int32 and colors as
uint8, the dtypes TensorBoard's own ``mesh_pb`` uses and its plugin serves.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tblog.core.proto import plugins_pb2, summary_pb2
from tblog.core.summaries.common import DATA_CLASS_TENSOR, metadata, tensor_proto
from tblog.core.tags import clean_tag

PLUGIN_NAME = "mesh"
_VERTEX = plugins_pb2.MeshPluginData.VERTEX
_FACE = plugins_pb2.MeshPluginData.FACE
_COLOR = plugins_pb2.MeshPluginData.COLOR
_NAMES = {_VERTEX: "VERTEX", _FACE: "FACE", _COLOR: "COLOR"}


def _component(name: str, array: Any) -> np.ndarray:
    arr = np.asarray(array)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{name} must have shape [B, N, 3], got {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    return arr


def mesh_pb(
    tag: str,
    vertices: np.ndarray,
    colors: np.ndarray | None = None,
    faces: np.ndarray | None = None,
    config_dict: dict[str, Any] | None = None,
    description: str = "",
) -> summary_pb2.Summary:
    """Summary of a mesh or point cloud.

    ``vertices``: ``[B, N, 3]`` xyz coordinates. ``colors``: ``[B, N, 3]`` RGB in 0-255.
    ``faces``: ``[B, F, 3]`` integer vertex indices in ``[0, N)``. ``config_dict``: a
    JSON-serializable three.js scene configuration. Raises ``ValueError`` for wrong shapes,
    out-of-range colors or indices, and ``TypeError`` for non-numeric arrays or an
    unserializable ``config_dict``.
    """
    tag = clean_tag(tag)
    verts = _component("vertices", vertices)
    parts: list[tuple[int, np.ndarray]] = [(_VERTEX, verts.astype(np.float32))]
    if faces is not None:
        f = _component("faces", faces)
        if f.dtype.kind == "f" and not (f == np.round(f)).all():
            raise ValueError("faces must hold integer vertex indices")
        if f.size and (f.min() < 0 or f.max() >= verts.shape[1]):
            raise ValueError(f"faces must index vertices in [0, {verts.shape[1]})")
        if f.shape[0] != verts.shape[0]:
            raise ValueError(
                f"faces batch size {f.shape[0]} != vertices batch size {verts.shape[0]}"
            )
        parts.append((_FACE, f.astype(np.int32)))
    if colors is not None:
        c = _component("colors", colors)
        if c.shape != verts.shape:
            raise ValueError(f"colors must have the shape of vertices {verts.shape}, got {c.shape}")
        if c.size and (c.min() < 0 or c.max() > 255):
            raise ValueError("colors must be RGB values in [0, 255]")
        parts.append((_COLOR, c.astype(np.uint8)))
    if config_dict is None:
        json_config = "{}"
    else:
        if not isinstance(config_dict, dict):
            raise TypeError(f"config_dict must be a dict, got {type(config_dict).__name__}")
        try:
            json_config = json.dumps(config_dict, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"config_dict must be JSON-serializable: {exc}") from None
    components = 0
    for content_type, _ in parts:
        components |= 1 << content_type
    summary = summary_pb2.Summary()
    for content_type, arr in parts:
        content = plugins_pb2.MeshPluginData(
            version=0,
            name=tag,
            content_type=content_type,
            json_config=json_config,
            shape=list(arr.shape),
            components=components,
        )
        value = summary.value.add(tag=f"{tag}_{_NAMES[content_type]}")
        value.tensor.CopyFrom(tensor_proto(arr))
        value.metadata.CopyFrom(
            metadata(
                PLUGIN_NAME, content.SerializeToString(), DATA_CLASS_TENSOR, description=description
            )
        )
    return summary
