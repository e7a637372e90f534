"""TFRecord framing: ``len:u64le | masked_crc(len):u32le | data | masked_crc(data):u32le``."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from tblog.core.format.crc32c import masked_crc32c

_LEN = struct.Struct("<Q")
_CRC = struct.Struct("<I")


class DataLossError(ValueError):
    """A record in an event file is corrupt (bad checksum or impossible length)."""


def frame(data: bytes) -> bytes:
    """Return ``data`` framed as one TFRecord."""
    header = _LEN.pack(len(data))
    return header + _CRC.pack(masked_crc32c(header)) + data + _CRC.pack(masked_crc32c(data))


def frame_many(payloads: list[bytes]) -> bytes:
    """Frame every payload and concatenate the records."""
    pack_len = _LEN.pack
    pack_crc = _CRC.pack
    crc = masked_crc32c
    parts: list[bytes] = []
    append = parts.append
    for data in payloads:
        header = pack_len(len(data))
        append(header)
        append(pack_crc(crc(header)))
        append(data)
        append(pack_crc(crc(data)))
    return b"".join(parts)


def iter_records(buf: bytes, *, check_crc: bool = True) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset_after_record, data)`` for each complete record in ``buf``.

    Stops silently at a truncated final record (as TensorBoard does). Raises
    :class:`DataLossError` on a checksum mismatch.
    """
    pos = 0
    end = len(buf)
    while pos + 12 <= end:
        (length,) = _LEN.unpack_from(buf, pos)
        (len_crc,) = _CRC.unpack_from(buf, pos + 8)
        if masked_crc32c(buf[pos : pos + 8]) != len_crc:
            raise DataLossError(f"corrupt record length at byte {pos}")
        start = pos + 12
        stop = start + length
        if stop + 4 > end:
            return  # truncated tail: the writer may still be appending
        data = buf[start:stop]
        if check_crc:
            (data_crc,) = _CRC.unpack_from(buf, stop)
            if masked_crc32c(data) != data_crc:
                raise DataLossError(f"corrupt record data at byte {pos}")
        pos = stop + 4
        yield pos, data


def read_records(f: BinaryIO, *, check_crc: bool = True) -> Iterator[bytes]:
    """Yield the data of each complete record of an open binary file."""
    for _, data in iter_records(f.read(), check_crc=check_crc):
        yield data
