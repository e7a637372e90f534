"""Scalars from torch tensors without stalling the caller.

``defer_scalar`` runs on the caller's thread and only enqueues work: a CUDA tensor is
copied into pinned host memory with ``non_blocking=True`` and a CUDA event is recorded
behind the copy; a CPU tensor is cloned (the caller may change it in place afterwards).
The value becomes a Python float in ``tblog_resolve``, which the writer thread calls.
"""

from __future__ import annotations

import torch

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


def _check_scalar(t: torch.Tensor) -> None:
    # numel() and dtype are metadata: no device synchronisation.
    n = t.numel()
    if n != 1:
        raise ValueError(f"scalar_value must have exactly one element, got shape {tuple(t.shape)}")
    if t.dtype.is_complex:
        raise TypeError(f"scalar_value must be real, got dtype {t.dtype}")


def defer_scalar(t: torch.Tensor) -> DeferredScalar:
    """Snapshot a one-element tensor of any dtype and device for the writer thread.

    Takes a tensor with exactly one element (any shape, any real dtype incl. bfloat16,
    float16 and bool, any device). Never calls ``item()``, ``cpu()`` or ``float()``.
    Raises ``TypeError`` for non-tensors and complex dtypes, ``ValueError`` when the
    tensor has more than one element.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"scalar_value must be a torch.Tensor, got {type(t).__name__}")
    _check_scalar(t)
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
