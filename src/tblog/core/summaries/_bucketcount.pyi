"""Type stub of the native bucket counter (``_bucketcount.c``)."""

from typing import Any

def count(values: Any, idx: Any, key: Any, counts: Any, /) -> tuple[int, int]:
    """Add each float32/float64 value to ``counts[idx[p] + (u >= key[p])]`` (``u`` its
    monotone key, ``p`` its top 16 bits); return the smallest and largest ``u``."""
