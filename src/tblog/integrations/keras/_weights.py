"""Weights of a Keras model: torch-style tag names and histograms computed with ``keras.ops``.

Only ``O(buckets)`` numbers per weight leave the device: min, max and 30 bucket counts are
computed by the backend (TensorFlow, torch or JAX) and fetched in one transfer per call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tblog.core.proto import summary_pb2
from tblog.core.summaries.histogram import histogram_from_buckets_pb

BUCKETS = 30

# Keras weight names -> the names torch gives the same parameter.
_TORCH_NAMES = {
    "kernel": "weight",
    "embeddings": "weight",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}


def _is_graph_model(layer: Any) -> bool:
    """Functional and Sequential models: children are named by layer name."""
    return any(k.__name__ in ("Functional", "Sequential") for k in type(layer).__mro__)


def _children(layer: Any) -> list[tuple[str, Any]]:
    """``[(name, sublayer)]``: attribute names (as torch names submodules) for subclassed
    layers, layer names for Functional/Sequential models and untracked sublayers."""
    sub = list(getattr(layer, "_layers", []) or [])
    if not sub:
        return []
    if _is_graph_model(layer):
        return [(child.name, child) for child in sub]
    attrs: dict[str, Any] = {}
    items = dict(vars(layer))
    modules = items.get("_modules")
    if isinstance(modules, dict):  # torch backend: torch keeps submodules here
        items.update(modules)
    for attr, value in items.items():
        if attr.startswith("_"):
            continue
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                attrs.setdefault(f"{attr}.{i}", item)
        elif isinstance(value, dict):
            for key, item in value.items():
                attrs.setdefault(f"{attr}.{key}", item)
        else:
            attrs.setdefault(attr, value)
    by_id: dict[int, str] = {}
    for name, value in attrs.items():
        by_id.setdefault(id(value), name)
    return [(by_id.get(id(child), child.name), child) for child in sub]


def named_weights(model: Any, keras_names: bool = False) -> Iterator[tuple[str, Any]]:
    """Yield ``(name, variable)`` for every weight of ``model`` once.

    Default names follow torch's ``named_parameters()`` (``block.0.fc`` module paths,
    ``weight``/``bias``/``running_mean``...) joined by ``/``: ``<module path>/<param>``.
    ``keras_names=True`` yields Keras' own ``variable.path`` (``:`` replaced by ``_``).
    """
    seen: set[int] = set()

    def walk(layer: Any, prefix: str) -> Iterator[tuple[str, Any]]:
        own = list(getattr(layer, "_trainable_variables", [])) + list(
            getattr(layer, "_non_trainable_variables", [])
        )
        for var in own:
            if id(var) in seen:
                continue
            seen.add(id(var))
            if keras_names:
                yield var.path.replace(":", "_"), var
            else:
                leaf = var.name.rsplit("/", 1)[-1]
                name = _TORCH_NAMES.get(leaf, leaf)
                yield (f"{prefix}/{name}" if prefix else name), var
        for name, child in _children(layer):
            yield from walk(child, f"{prefix}.{name}" if prefix else name)

    yield from walk(model, "")


def keras_named_weights(model: Any) -> list[tuple[str, Any]]:
    """``[(name, variable)]`` as ``keras.callbacks.TensorBoard`` names and orders them: the
    weights of each of ``model.layers`` (nested ones included), named by ``variable.path``
    with ``:`` replaced by ``_``. A variable shared by two layers is listed once."""
    seen: set[int] = set()
    out = []
    for layer in model.layers:
        for var in layer.weights:
            if id(var) not in seen:
                seen.add(id(var))
                out.append((var.path.replace(":", "_"), var))
    return out


def weight_summaries(
    named: list[tuple[str, Any]], norms: bool = False
) -> list[tuple[str, summary_pb2.Summary | None, float | None]]:
    """``[(tag, histogram Summary, L2 norm)]`` for ``[(tag, variable or tensor)]``, computed
    with the backend's ops. Histograms have 30 uniform buckets between min and max, as
    ``tf.summary.histogram`` lays them out; ``None`` for weights holding NaN/inf. Norms
    only when ``norms``. Two host transfers in all: every weight's (min, max[, norm]),
    then every weight's counts.
    """
    from keras import backend, ops

    if not named:
        return []
    flat = []
    for _, var in named:
        x = ops.reshape(getattr(var, "value", var), (-1,))
        if str(x.dtype) != "float32":
            x = ops.cast(x, "float32")
        flat.append(x)
    sizes = [int(np.prod(x.shape)) for x in flat]
    width = 3 if norms else 2
    stats = []
    for x, n in zip(flat, sizes, strict=True):
        if n:
            parts = [ops.min(x), ops.max(x)]
            if norms:
                parts.append(ops.sqrt(ops.sum(ops.square(x))))
            stats.append(ops.stack(parts))
    host = np.zeros((len(flat), width))
    if stats:
        host[np.asarray(sizes) > 0] = ops.convert_to_numpy(ops.stack(stats))
    finite = [bool(np.isfinite(row).all()) for row in host]
    # torch: Tensor.histc is one fused pass (keras.ops.histogram's torch.histogram is ~6x slower)
    fused = backend.backend() == "torch"
    counts = []
    for x, size, row, ok in zip(flat, sizes, host, finite, strict=True):
        lo, hi = float(row[0]), float(row[1])
        if size == 0 or not ok or hi <= lo:
            continue
        if fused:
            counts.append(ops.cast(x.histc(BUCKETS, lo, hi), "int32"))
        else:  # tf.histogram_fixed_width masks and sorts: floor((x - lo) / width) + bincount
            index = ops.cast((x - lo) * (BUCKETS / (hi - lo)), "int32")
            index = ops.minimum(index, BUCKETS - 1)
            counts.append(ops.cast(ops.bincount(index, minlength=BUCKETS)[:BUCKETS], "int32"))
    host_counts = np.asarray(ops.convert_to_numpy(ops.stack(counts))) if counts else None
    out: list[tuple[str, summary_pb2.Summary | None, float | None]] = []
    k = 0
    for (tag, _), row, size, ok in zip(named, host, sizes, finite, strict=True):
        lo, hi = float(row[0]), float(row[1])
        norm = float(row[2]) if norms and ok else None
        if not ok:
            out.append((tag, None, norm))
            continue
        cnt = np.zeros(BUCKETS)
        if size and hi > lo and host_counts is not None:
            cnt = host_counts[k].astype(np.float64)
            k += 1
        out.append((tag, _bucket_summary(tag, lo, hi, cnt, size), norm))
    return out


def _bucket_summary(
    tag: str, lo: float, hi: float, counts: np.ndarray, size: int
) -> summary_pb2.Summary:
    if size == 0:
        zeros = np.zeros(BUCKETS)
        return histogram_from_buckets_pb(tag, zeros, zeros, zeros)
    if hi == lo:  # one distinct value: every bucket at that value, all counts in the last
        edges = np.full(BUCKETS, hi)
        single = np.zeros(BUCKETS)
        single[-1] = size
        return histogram_from_buckets_pb(tag, edges, edges, single)
    edges = np.linspace(lo, hi, BUCKETS + 1)
    edges[-1] = hi
    return histogram_from_buckets_pb(tag, edges[:-1], edges[1:], counts)


def weight_image(value: np.ndarray, channels_last: bool = True) -> np.ndarray | None:
    """A weight as ``[N, H, W, 1]`` uint8 images (min-max scaled), laid out as
    ``keras.callbacks.TensorBoard`` does; ``None`` for shapes it cannot show (a single
    value, rank > 3)."""
    w = np.squeeze(np.asarray(value, dtype=np.float32))
    if w.ndim == 1:
        img = w.reshape(1, w.shape[0], 1, 1)
    elif w.ndim == 2:
        if w.shape[0] > w.shape[1]:
            w = w.T
        img = w.reshape(1, w.shape[0], w.shape[1], 1)
    elif w.ndim == 3:
        if channels_last:
            w = np.transpose(w, (2, 0, 1))
        img = w.reshape(w.shape[0], w.shape[1], w.shape[2], 1)
    else:
        return None
    lo, hi = float(np.nanmin(img)), float(np.nanmax(img))
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    out: np.ndarray = np.nan_to_num((img - lo) * scale).clip(0, 255).astype(np.uint8)
    return out
