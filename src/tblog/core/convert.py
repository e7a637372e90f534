"""The one entry point where framework tensors become numpy arrays or Python numbers.

Frameworks are recognised through :mod:`tblog.core.registry` by the module of the value's
type, so nothing here imports (or names) torch, TensorFlow or JAX: a value of theirs can
only exist once the user imported them, and its adapter does the conversion.
"""

from __future__ import annotations

import math
import numbers
import time
from typing import Any

import numpy as np

from tblog.core import registry


def framework_of(value: Any) -> str | None:
    """The name of the registered framework adapter of ``value``'s type, or ``None``."""
    adapter = registry.adapter_for(value)
    return None if adapter is None else adapter.name


def to_numpy(value: Any) -> np.ndarray:
    """Convert a number, sequence, numpy array or framework tensor to a numpy array.

    Framework tensors go through their adapter's ``to_numpy`` (:mod:`tblog.core.registry`):
    torch tensors are detached and copied to the host, bfloat16/float16/float8 become
    float32. Raises ``TypeError`` for values that have no array form.
    """
    if isinstance(value, np.ndarray):
        return widen(value)
    if isinstance(value, (str, bytes)):
        raise TypeError(f"expected a number or an array, got {type(value).__name__} {value!r:.40}")
    adapter = registry.adapter_for(value)
    if adapter is not None and adapter.to_numpy is not None:
        return adapter.to_numpy(value)
    try:
        return widen(np.asarray(value))
    except Exception as exc:  # pragma: no cover - numpy's own errors vary
        raise TypeError(f"cannot convert {type(value).__name__} to an array: {exc}") from exc


def widen(arr: np.ndarray) -> np.ndarray:
    """bfloat16/float8 arrays (ml_dtypes, from TensorFlow or JAX) become float32."""
    name = arr.dtype.name
    if name == "bfloat16" or name.startswith("float8"):
        return arr.astype(np.float32)
    return arr


def to_float(value: Any) -> float:
    """Convert a scalar-like value (number, 0-d or 1-element array, tensor) to ``float``.

    Raises ``TypeError`` for non-numeric values and ``ValueError`` for arrays with more
    than one element.
    """
    if type(value) is float:
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"scalar value must be a number, got {type(value).__name__}")
    arr = to_numpy(value)
    if arr.size != 1:
        raise ValueError(f"scalar value must have exactly one element, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"scalar value must be numeric, got dtype {arr.dtype}")
    return float(arr.reshape(()))


MIN_STEP, MAX_STEP = -(1 << 63), (1 << 63) - 1  # Event.step is an int64


def to_step(value: Any, name: str = "global_step", *, non_negative: bool = False) -> int:
    """The one step validator: ``value`` as an ``int`` (``Event.step`` is an int64).

    Python and numpy integers, one-element integer arrays/tensors of any framework and
    integer-valued floats are converted exactly (integers never through a float); ``None``
    is 0. With ``non_negative`` (a checkpoint's step) ``None`` is refused and the range is
    ``[0, 2**63 - 1]``. Raises ``TypeError`` for a non-integer and ``ValueError`` for a
    fraction or a value out of range (which would otherwise wrap around), naming ``name``.
    """
    if type(value) is int:
        step = value
    elif value is None and not non_negative:
        return 0
    else:
        step = _to_int(value, name)
    if non_negative:
        if not 0 <= step <= MAX_STEP:
            raise ValueError(f"{name} must be in [0, 2**63 - 1], got {step}")
    elif not MIN_STEP <= step <= MAX_STEP:
        raise ValueError(f"{name} must fit in int64 (Event.step), got {step}")
    return step


def _to_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got bool")
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{name} must be a whole number, got {value}")
        return int(value)
    try:
        arr = to_numpy(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an integer, got {value!r:.60}")
    item = arr.reshape(()).item()  # a Python int for integer dtypes: exact
    if isinstance(item, float) and not item.is_integer():
        raise ValueError(f"{name} must be a whole number, got {item}")
    return int(item)


def to_wall_time(walltime: Any) -> float:
    """``walltime`` as a finite float (``None``: now) (TensorBoard's Rust loader drops non-finite ones).
    Raises ``TypeError`` for a non-number and ``ValueError`` for NaN or infinity."""
    if walltime is None:
        return time.time()
    if isinstance(walltime, (str, bytes)):
        raise TypeError(f"walltime must be a number of seconds, got {type(walltime).__name__}")
    try:
        wall = float(walltime)
    except (TypeError, ValueError):
        raise TypeError(
            f"walltime must be a number of seconds, got {type(walltime).__name__}"
        ) from None
    if not math.isfinite(wall):
        raise ValueError(f"walltime must be a finite number of seconds, got {walltime!r}")
    return wall


# exact type -> its snapshot function, filled on first use (torch.Tensor -> defer_scalar)
_SNAPSHOTS: dict[type, Any] = {}


def prepare_scalar(value: Any) -> Any:
    """Check a scalar on the caller's thread; framework tensors are resolved later."""
    vt = type(value)
    if vt is float:
        return value
    snapshot = _SNAPSHOTS.get(vt)
    if snapshot is not None:
        return snapshot(value)
    if vt is int:
        return float(value)
    adapter = registry.adapter_for(value)
    if adapter is not None and adapter.defer_scalar is not None:
        # read on the writer thread: a device value is never synchronised on the caller's
        _SNAPSHOTS[vt] = adapter.defer_scalar
        return adapter.defer_scalar(value)
    return to_float(value)
