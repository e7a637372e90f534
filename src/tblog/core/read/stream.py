"""One event file read in bounded blocks, as TensorBoard's loaders stream it.

:class:`FileBlocks` yields ``(bytes, Frames)`` blocks of one file, each at most about
:data:`CHUNK` bytes (or one record when a record is larger), decoded with
:func:`tblog.core.format.decode.frames`; a record cut at a block's end is carried into the
next block. Memory stays bounded whatever the file's size:

- a record larger than :data:`BIG` whose summary is one value of a tag the caller does not
  want (``skip``) is checked (data CRC) in pieces and never held;
- a regular file is read up to the size it had when it was opened: bytes appended while
  it is read are left for the next read (a record cut there is a live writer's partial
  record). A file with no size (a device such as ``/dev/zero``, a pipe) is read until its
  first damage or :data:`UNSIZED_LIMIT` bytes, whichever comes first: past that, it is
  damage of that file alone. Damage ends the file at the first bad record, so junk (zeros,
  a device) costs at most one block read;
- a file that cannot be opened or read (``PermissionError``, an I/O error) is damage of
  that file alone: ``damage`` says why, the records before it were yielded.

After iteration, ``damage`` (``None`` or why the file ended early, naming the byte
offset), ``truncated`` (the damage is a cut-off last record) and ``records`` (complete
records read, skipped ones included) describe the file.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO

import numpy as np

from tblog.core.format import crc32c as _crc
from tblog.core.format.crc32c import masked_crc32c
from tblog.core.format.decode import Frames, frames, varint_at
from tblog.core.storage import Storage

# Bytes read per block: large enough that numpy's per-block costs vanish, small enough
# that a few runs decoded at once hold little.
CHUNK = 8 << 20
# Records whose payload is larger than this are read by themselves (or skipped in pieces).
BIG = 1 << 20
# The most bytes read from a file that has no size (a device, a pipe).
UNSIZED_LIMIT = 1 << 30
_PIECE = 1 << 20
_LEN = struct.Struct("<Q")
_CRC = struct.Struct("<I")

try:
    import google_crc32c as _gcrc

    _extend: Callable[[int, bytes], int] | None = _gcrc.extend if _crc._c_crc32c else None
except ImportError:  # pragma: no cover - depends on the environment
    _extend = None


def only_tag(payload: bytes, total: int) -> str | None:
    """The tag of an Event whose ``total``-byte payload begins with ``payload`` and is a
    summary of exactly one value whose first field is its tag; ``None`` for any other
    event (or when ``payload`` is too short to tell)."""
    if len(payload) < 10 or payload[0] != 0x09:
        return None
    p = 9
    if payload[p : p + 1] == b"\x10":
        _, p = varint_at(payload, p + 1)
    for field in (0x2A, 0x0A):  # Event.summary, then Summary.value
        if payload[p : p + 1] != bytes([field]):
            return None
        size, p = varint_at(payload, p + 1)
        if size < 0 or p + size != total:
            return None
    if payload[p : p + 1] != b"\x0a":
        return None
    size, p = varint_at(payload, p + 1)
    if size < 0 or p + size > len(payload):
        return None
    return payload[p : p + size].decode("utf-8", "replace")


def _read(f: BinaryIO, n: int) -> tuple[bytes, OSError | None]:
    """Up to ``n`` bytes (fewer only at the end of the file, or when a read fails: then
    the bytes read before the failure and the error)."""
    parts: list[bytes] = []
    got = 0
    try:
        while got < n:
            more = f.read(n - got)
            if not more:
                break
            parts.append(more)
            got += len(more)
    except OSError as exc:
        return b"".join(parts), exc
    return parts[0] if len(parts) == 1 else b"".join(parts), None


class FileBlocks:
    """The blocks of one event file (see the module docstring). ``skip(tag)`` is true
    for the tags the caller does not want."""

    def __init__(
        self,
        storage: Storage,
        path: str,
        *,
        skip: Callable[[str], bool] | None = None,
        check_crc: bool = True,
        chunk: int = CHUNK,
    ) -> None:
        self.storage = storage
        self.path = path
        self.skip = skip
        self.check_crc = check_crc
        self.chunk = chunk
        self.damage: str | None = None
        self.truncated = False
        self.records = 0
        self.bytes_read = 0
        self._offset = 0

    def __iter__(self) -> Iterator[tuple[bytes, Frames]]:
        try:
            f, size = self.storage.open_read(self.path)
        except FileNotFoundError:  # gone since it was listed
            return
        except OSError as exc:
            self.damage = f"cannot be read ({_why(exc)})"
            return
        with f:
            yield from self._blocks(f, size)

    def _blocks(self, f: BinaryIO, size: int | None) -> Iterator[tuple[bytes, Frames]]:
        limit = UNSIZED_LIMIT if size is None else size
        buf = b""
        need = 0
        while True:
            want = min(max(self.chunk, need) - len(buf), limit - self._offset - len(buf))
            data, failed = _read(f, want) if want > 0 else (b"", None)
            self.bytes_read += len(data)
            eof = failed is not None or len(data) < want
            eof |= self._offset + len(buf) + len(data) >= limit
            buf = buf + data if buf else data
            del data
            if need > self.chunk and len(buf) == need:
                fr = self._one(buf)  # one big record (its header was checked)
            else:
                fr = frames(buf, check_crc=self.check_crc, base=self._offset)
            n = int(fr.starts.size)
            if n:
                yield buf, fr
            self.records += n
            if fr.damage is None:
                self._offset += len(buf)
                if failed is not None:
                    self.damage = f"read failed at byte {self._offset} ({_why(failed)})"
                elif eof:
                    self._unsized(size, f)
                if eof:
                    return
                buf, need = b"", 0
                continue
            if not fr.truncated or eof:
                self.damage, self.truncated = fr.damage, fr.truncated
                if fr.truncated and failed is not None:
                    end = self._offset + len(buf)
                    self.damage = f"read failed at byte {end} ({_why(failed)})"
                    self.truncated = False
                elif fr.truncated:
                    self._unsized(size, f)
                return
            end = int(fr.starts[-1] + 16 + fr.lengths[-1]) if n else 0
            buf = buf[end:]
            self._offset += end
            need = 0
            if len(buf) >= 12:
                (length,) = _LEN.unpack_from(buf, 0)
                need = 16 + length
                if length > BIG and self.skip is not None and _extend is not None:
                    rest = self._skip_big(f, buf, length, limit)
                    if rest is not None:
                        buf = rest
                    elif self.damage is not None:
                        return
                    else:
                        buf, need = b"", 0

    def _one(self, buf: bytes) -> Frames:
        """The frames of ``buf``, one whole record, without scanning its payload."""
        length = len(buf) - 16
        if self.check_crc:
            (stored,) = _CRC.unpack_from(buf, 12 + length)
            if masked_crc32c(buf[12 : 12 + length]) != stored:
                empty = np.zeros(0, np.int64)
                return Frames(empty, empty, f"corrupt record data at byte {self._offset}")
        return Frames(np.zeros(1, np.int64), np.full(1, length, np.int64))

    def _unsized(self, size: int | None, f: BinaryIO) -> None:
        """At the read limit of a file with no size: damage when it goes on."""
        if size is None and self._offset >= UNSIZED_LIMIT and _read(f, 1) != (b"", None):
            self.damage = (
                f"no end after {UNSIZED_LIMIT} bytes (a device or pipe?); read up to byte "
                f"{self._offset}"
            )

    def _skip_big(self, f: BinaryIO, head: bytes, length: int, limit: int) -> bytes | None:
        """Skip the big record that ``head`` (its header and first payload bytes) starts
        when its one value's tag is unwanted, checking its data CRC in pieces (``None``;
        ``damage`` set when it is bad or cut off). Else the record's first bytes (``head``
        and what was read to find its tag), to be read as any record."""
        assert _extend is not None
        at = self._offset
        peek = min(length, 4096) + 12 - len(head)
        if peek > 0:
            more, failed = _read(f, min(peek, max(0, limit - at - len(head))))
            self.bytes_read += len(more)
            head += more
            if failed is not None:
                self.damage = f"read failed at byte {at + len(head)} ({_why(failed)})"
                return None
        tag = only_tag(head[12 : 12 + length], length)
        if tag is None or not self.skip or not self.skip(tag):
            return head
        crc = _extend(0, head[12 : 12 + length])
        got = len(head) - 12
        tail = head[12 + length :]
        while got < length + 4:
            want = min(_PIECE, length + 4 - got, max(0, limit - at - 12 - got))
            piece, failed = _read(f, want)
            self.bytes_read += len(piece)
            if failed is not None:
                self.damage = f"read failed at byte {at + 12 + got} ({_why(failed)})"
                return None
            if not piece:
                break
            take = max(0, min(len(piece), length - got))
            crc = _extend(crc, piece[:take])
            tail += piece[take:]
            got += len(piece)
        if got < length + 4:
            self.damage = f"record at byte {at} cut off ({length} bytes announced)"
            self.truncated = True
            return None
        masked = ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
        if _CRC.unpack_from(tail, 0)[0] != masked:
            self.damage = f"corrupt record data at byte {at}"
            return None
        self.records += 1
        self._offset = at + 16 + length
        return None


def _why(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"
