"""Type stub of tblog's optional native module (``_native.c``)."""

from typing import Any

class Snapshot:
    """The bytes of one tensor element."""

    def tblog_resolve(self) -> float:
        """The element's value as a float."""

def snapshot(address: int, code: int, /) -> Snapshot:
    """Copy the element at ``address``; ``code`` 0..9: float32, float64, float16, bfloat16,
    int64, int32, int16, int8, uint8, bool."""

class Table:
    """A bucket table (65,536 indexes and keys), checked once when made."""

def table(idx: Any, key: Any, /) -> Table:
    """A table from 65,536 uint32 indexes and 65,536 uint32 or uint64 keys (copied)."""

def count(values: Any, table: Table, counts: Any, /) -> tuple[int, int, float, float]:
    """Add each float32/float64 value to ``counts[idx[p] + (u >= key[p])]`` (``u`` its
    monotone key, ``p`` its top 16 bits); return the smallest and largest ``u`` and the
    values' sum and sum of squares (in double). ``counts``: int64, at least
    ``max(idx) + 2`` entries."""
