"""CRC-32C (Castagnoli) and the masked form used by TFRecord framing.

A C implementation (``google_crc32c``) is used when it is installed; otherwise a
table-driven pure-Python fallback gives identical results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8


def _make_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _make_table()


def crc32c_python(data: bytes) -> int:
    """Pure-Python CRC-32C of ``data`` (slow; used only without the C extension)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _load_c() -> Callable[[bytes], int] | None:
    try:
        import google_crc32c
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    if getattr(google_crc32c, "implementation", "c") != "c":  # pragma: no cover
        return None
    value: Callable[[bytes], int] = google_crc32c.value
    return value


_c_crc32c = _load_c()
crc32c: Callable[[bytes], int] = _c_crc32c or crc32c_python


def masked_crc32c(data: bytes) -> int:
    """Masked CRC-32C of ``data``, as stored in TFRecord headers and footers (TFRecord's
    mask: rotate right by 15 and add ``0xA282EAD8``, mod 2**32)."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


# ------------------------------------------------------------------ vectorised CRC updates
# CRC-32C is affine: for two messages of equal length, crc(a) ^ crc(b) is a linear function
# of a ^ b, the XOR over each differing byte of that byte's contribution, which depends only
# on the byte's value and on how many bytes follow it. ``shift_table(n)[d, v]`` is that
# contribution for byte value ``v`` followed by ``d`` bytes (``d < n``). The batch scalar
# encoder (``events.ScalarEncoder.frames``) uses it to checksum thousands of records that
# differ from a template only in a few bytes with one numpy gather per differing byte.
_shift_cache: list[Any] = []


def shift_table(n: int) -> Any:
    """``(>= n, 256)`` uint32 array: CRC register contribution of byte ``v`` then ``d`` zeros."""
    import numpy as np

    if _shift_cache and _shift_cache[0].shape[0] >= n:
        return _shift_cache[0]
    rows = max(n, 256)
    table = np.empty((rows, 256), dtype=np.uint32)
    base = np.array(_TABLE, dtype=np.uint32)
    table[0] = base
    for d in range(1, rows):
        prev = table[d - 1]
        table[d] = base[prev & 0xFF] ^ (prev >> 8)
    _shift_cache[:] = [table]
    return table


def mask_array(crc: Any) -> Any:
    """TFRecord's mask applied element-wise to a uint32 numpy array of CRCs."""
    import numpy as np

    crc = crc.astype(np.uint32, copy=False)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_DELTA)
