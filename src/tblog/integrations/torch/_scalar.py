"""Scalars from torch tensors without stalling the caller.

``defer_scalar`` runs on the caller's thread and only enqueues work: a CUDA tensor is
copied into pinned host memory with ``non_blocking=True`` and a CUDA event is recorded
behind the copy; a plain CPU tensor's element bytes are copied (a snapshot, like a clone,
at a tenth of its cost: the caller may change the tensor in place afterwards); other
tensors (subclasses, other devices, negative-bit views, tensors without storage) are
cloned. The value becomes a Python float in ``tblog_resolve``, which the writer thread
calls.
"""

from __future__ import annotations

import ctypes
import struct
import sys
from collections.abc import Callable
from typing import Any

import torch

from tblog.core import native

_NUMERIC_KINDS = frozenset("biuf")


class DeferredScalar:
    """A one-element tensor snapshot whose float value is read on the writer thread."""

    __slots__ = ("_event", "_value")

    def __init__(self, value: torch.Tensor, event: torch.cuda.Event | None = None) -> None:
        self._value = value
        self._event = event

    def tblog_resolve(self) -> float:
        """Wait for the copy (not the stream) and return the value as a float."""
        if self._event is not None:
            self._event.synchronize()
        value = self._value
        if value.is_complex():
            raise TypeError(f"scalar value must be real, got dtype {value.dtype}")
        return float(value.item())


# dtype -> element code of tblog.core._native.snapshot (and of the fallback below)
_CODES: dict[torch.dtype, int] = {
    torch.float32: 0,
    torch.float64: 1,
    torch.float16: 2,
    torch.bfloat16: 3,
    torch.int64: 4,
    torch.int32: 5,
    torch.int16: 6,
    torch.int8: 7,
    torch.uint8: 8,
    torch.bool: 9,
}
# code -> (struct format in native byte order, size); bfloat16 is a float32's upper half
_FORMATS = [
    ("=f", 4),
    ("=d", 8),
    ("=e", 2),
    ("bf16", 2),
    ("=q", 8),
    ("=i", 4),
    ("=h", 2),
    ("=b", 1),
    ("=B", 1),
    ("=?", 1),
]
_LITTLE = sys.byteorder == "little"
_STRIDED = torch.strided


class ScalarBytes:
    """The bytes of one tensor element, copied on the caller's thread and decoded into a
    float on the writer thread (what ``_native.snapshot`` does, without the C extension)."""

    __slots__ = ("_code", "_raw")

    def __init__(self, address: int, code: int) -> None:
        self._raw = ctypes.string_at(address, _FORMATS[code][1])
        self._code = code

    def tblog_resolve(self) -> float:
        raw, fmt = self._raw, _FORMATS[self._code][0]
        if fmt == "bf16":
            raw, fmt = (b"\0\0" + raw if _LITTLE else raw + b"\0\0"), "=f"
        return float(struct.unpack(fmt, raw)[0])


_snapshot: Callable[[int, int], Any] = (
    ScalarBytes if native.module is None else native.module.snapshot
)


def _check_scalar(t: torch.Tensor) -> None:
    # numel() and dtype are metadata: no device synchronisation.
    n = t.numel()
    if n != 1:
        raise ValueError(f"scalar_value must have exactly one element, got shape {tuple(t.shape)}")
    if t.dtype.is_complex:
        raise TypeError(f"scalar_value must be real, got dtype {t.dtype}")


def defer_scalar(t: torch.Tensor) -> Any:
    """Snapshot a one-element tensor of any dtype and device for the writer thread.

    Takes a tensor with exactly one element (any shape, any real dtype incl. bfloat16,
    float16 and bool, any device). Never calls ``item()``, ``cpu()`` or ``float()``.
    Raises ``TypeError`` for non-tensors and complex dtypes, ``ValueError`` when the
    tensor has more than one element.
    """
    if type(t) is torch.Tensor and t.is_cpu and t.numel() == 1:
        # The common case (a loss or metric on the CPU): copy the element's bytes. Only plain
        # strided tensors: a subclass may define its own storage, and a negative-bit view's
        # bytes are not its value.
        code = _CODES.get(t.dtype)
        if code is not None and t.layout is _STRIDED and not t.is_neg():
            try:
                address = t.data_ptr()
            except RuntimeError:  # no storage (a functorch wrapper, ...): clone it below
                address = 0
            if address:
                return _snapshot(address, code)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"scalar_value must be a torch.Tensor, got {type(t).__name__}")
    _check_scalar(t)
    if t.device.type == "meta":
        raise ValueError("scalar_value is a 'meta' device tensor: it holds no value to log")
    value = t.detach()
    if value.layout != torch.strided:
        value = value.to_dense()
    device = value.device
    if device.type == "cuda":
        value = value.reshape(())
        host = torch.empty((), dtype=value.dtype, pin_memory=True)
        host.copy_(value, non_blocking=True)
        event = torch.cuda.Event()
        event.record(torch.cuda.current_stream(device))
        return DeferredScalar(host, event)
    # CPU (and other devices): a stream-ordered clone (any one-element shape: ``item()``
    # reads it), read on the writer thread.
    return DeferredScalar(value.clone())
