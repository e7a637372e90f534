"""Cross-rank reductions on ``torch.distributed``'s default process group, issued on the
caller's thread without waiting (``async_op=True``) and read on tblog's writer thread.

- CPU values (and any value on a group without NCCL): a float64 CPU copy, reduced by the
  group's CPU backend (gloo); :meth:`AllReduce.result` waits for the Work with a timeout.
- CUDA tensors on an NCCL group: a float64 device copy reduced by NCCL. On the caller,
  ``Work.wait()`` only orders the current stream after the collective (it does not block
  the host unless ``TORCH_NCCL_BLOCKING_WAIT`` is set), then the result is copied into
  pinned memory with ``non_blocking=True`` behind a CUDA event; the writer thread waits for
  that event. A collective NCCL cannot complete is ended by NCCL's watchdog after the
  group's timeout (``init_process_group(timeout=...)``), not by tblog's ``reduce_timeout``.
- ``"mean"`` is a sum divided by the world size (``ReduceOp.AVG`` is NCCL-only).

The group's store (``publish``/``lookup``) is the ``TCPStore`` (or file store) the ranks met
on at ``init_process_group``; torch exposes it as ``distributed_c10d._get_default_store``
only, so a torch without that function has no store here (lookups answer ``None``).
"""

from __future__ import annotations

import datetime
import sys
from typing import Any

import torch

_DTYPE = torch.float64


class AllReduce:
    """One issued ``all_reduce``: :meth:`done` polls it, :meth:`result` waits for it."""

    __slots__ = ("_buf", "_divisor", "_event", "_host", "_work")

    def __init__(self, value: Any, op: str, world_size: int, backend: str) -> None:
        import torch.distributed as dist

        ops = {
            "sum": dist.ReduceOp.SUM,
            "mean": dist.ReduceOp.SUM,
            "min": dist.ReduceOp.MIN,
            "max": dist.ReduceOp.MAX,
        }
        if op not in ops:
            raise ValueError(f"reduce must be one of {sorted(ops)}, got {op!r}")
        buf = _buffer(value, backend)
        self._buf = buf
        self._divisor = float(world_size) if op == "mean" else 1.0
        self._work = dist.all_reduce(buf, op=ops[op], async_op=True)
        self._event: torch.cuda.Event | None = None
        self._host: torch.Tensor | None = None
        if buf.is_cuda and "nccl" in backend:
            self._work.wait()  # stream order only: the host does not wait
            host = torch.empty((), dtype=_DTYPE, pin_memory=True)
            host.copy_(buf.reshape(()), non_blocking=True)
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream(buf.device))
            self._host, self._event = host, event

    def done(self) -> bool:
        """Whether the collective has finished (successfully or not); never waits."""
        if self._event is not None:
            return bool(self._event.query())
        return bool(self._work.is_completed())

    def result(self, timeout: float) -> float:
        """The reduced value; waits up to ``timeout`` seconds for the collective (CPU
        groups), raising what the backend raises when it fails or times out."""
        if self._event is not None:
            self._event.synchronize()
            assert self._host is not None
            return float(self._host.item()) / self._divisor
        self._work.wait(datetime.timedelta(seconds=timeout))
        return float(self._buf.item()) / self._divisor


def _buffer(value: Any, backend: str) -> torch.Tensor:
    """A fresh one-element float64 tensor holding ``value`` (never the caller's tensor,
    which the collective would overwrite), on the device the backend reduces it on."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"scalar_value must have exactly one element, got shape {tuple(value.shape)}"
            )
        if value.dtype.is_complex:
            raise TypeError(f"scalar_value must be real, got dtype {value.dtype}")
        t = value.detach().reshape(1)
        if t.is_cuda and "nccl" not in backend and "gloo" not in backend:
            raise ValueError(f"cannot reduce a CUDA tensor on a {backend!r} process group")
        if not t.is_cuda and "gloo" not in backend and "nccl" in backend:
            t = t.to(_DTYPE).to(_nccl_device())  # a CPU value on an NCCL-only group
        return t.to(_DTYPE, copy=True)
    device = _nccl_device() if "gloo" not in backend and "nccl" in backend else "cpu"
    return torch.tensor([float(value)], dtype=_DTYPE, device=device)


def _nccl_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device())


class DefaultGroup:
    """``torch.distributed``'s default group as :class:`tblog.core.registry.ProcessGroup`."""

    __slots__ = ("_backend", "world_size")

    def __init__(self, world_size: int, backend: str) -> None:
        self.world_size = world_size
        self._backend = backend

    def all_reduce(self, value: Any, op: str, /) -> AllReduce:
        return AllReduce(value, op, self.world_size, self._backend)

    def publish(self, key: str, value: str, /) -> bool:
        """Set ``key`` in the group's store (the rendezvous ``TCPStore`` every rank shares);
        ``False`` when the group has none."""
        store = _store()
        if store is None:
            return False
        store.set(_KEY_PREFIX + key, value)
        return True

    def lookup(self, key: str, timeout: float, /) -> str | None:
        """``key``'s value in the group's store once some rank has set it, waiting up to
        ``timeout`` seconds; ``None`` after that, or when the group has no store."""
        store = _store()
        if store is None:
            return None
        try:
            store.wait([_KEY_PREFIX + key], datetime.timedelta(seconds=timeout))
            return bytes(store.get(_KEY_PREFIX + key)).decode("utf-8")
        except RuntimeError:  # DistStoreError: timed out, or the store is gone
            return None


_KEY_PREFIX = "tblog/"


def _store() -> Any:
    """The default group's store (the one ``init_process_group`` rendezvoused on)."""
    from torch.distributed import distributed_c10d

    get = getattr(distributed_c10d, "_get_default_store", None)
    if get is None:
        return None
    try:
        return get()
    except (RuntimeError, ValueError):
        return None


def default_group() -> DefaultGroup | None:
    """The initialised default process group, else ``None`` (imports nothing new)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return DefaultGroup(int(dist.get_world_size()), str(dist.get_backend()).lower())
