"""The torch adapter of :mod:`tblog.core.registry` (imports torch: loaded once a torch value
reaches the core)."""

from __future__ import annotations

from typing import Any

from tblog.core import registry
from tblog.integrations.torch._histogram import defer_histogram, histogram_pb
from tblog.integrations.torch._scalar import defer_scalar


def to_numpy(t: Any) -> Any:
    """A host numpy array of a tensor: detached, dense, on the CPU; bf16/fp16/fp8 as float32."""
    import numpy as np

    t = t.detach()
    if getattr(t, "is_sparse", False):
        t = t.to_dense()
    if t.device.type != "cpu":
        t = t.cpu()
    name = str(t.dtype)
    if name in ("torch.bfloat16", "torch.float16") or name.startswith("torch.float8"):
        t = t.float()
    if getattr(t, "is_conj", lambda: False)():
        t = t.resolve_conj()
    return np.asarray(t.numpy())


def _graph_def(model: Any, inputs: Any, verbose: bool, use_strict_trace: bool) -> Any:
    from tblog.integrations.torch._graph import graph_def

    return graph_def(model, inputs, verbose=verbose, use_strict_trace=use_strict_trace)


def _save(state: Any, path: str) -> None:
    from tblog.integrations.torch import checkpoint

    checkpoint.save(state, path)


def _load(path: str) -> Any:
    from tblog.integrations.torch import checkpoint

    return checkpoint.load(path)


def _default_group() -> Any:
    from tblog.integrations.torch._distributed import default_group

    return default_group()


def _global_rank() -> int | None:
    import sys

    dist = sys.modules.get("torch.distributed")
    if dist is None:
        return None
    try:
        if dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
    except Exception:  # noqa: BLE001 - unknown: let the environment decide
        pass
    return None


ADAPTER = registry.Adapter(
    name="torch",
    to_numpy=to_numpy,
    defer_scalar=defer_scalar,
    histogram_pb=histogram_pb,
    defer_histogram=defer_histogram,
    graph_def=_graph_def,
    save_checkpoint=_save,
    load_checkpoint=_load,
    global_rank=_global_rank,
    default_group=_default_group,
    checkpoint_suffix=".pt",
)
