"""Where event files live: one :class:`Storage` protocol, a local and an fsspec implementation.

Every path operation of the library goes through a ``Storage`` made by :func:`open_storage`,
so no caller branches on local versus remote, and :func:`is_event_file` is the one test of
what an event file is.

Local event files are appended to with unbuffered writes, so what the writer thread has
written is in the OS after each write. Stores that cannot append (S3, GCS, ``memory://``)
get an event file as numbered objects (``<name>``, ``<name>.a1``, ..., ``<name>.b10``, ...:
names that sort in write order, see :func:`segment_name`): a flush rewrites the current
object while it is small and starts a new one past :data:`SEGMENT_BYTES`. TensorBoard
merges every file of a run into one series, read in name order.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from typing import Any, BinaryIO, Protocol

EVENT_FILE_MARK = "tfevents"
# Past this size, an event file in a store that cannot append starts a new object.
SEGMENT_BYTES = 256 << 10


def is_url(path: str) -> bool:
    """True for ``scheme://`` paths other than ``file://``."""
    return "://" in path and not path.startswith("file://")


def is_event_file(name: str) -> bool:
    """True when the base name of ``name`` is an event file's (TensorBoard's own test)."""
    return EVENT_FILE_MARK in name.rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1]


class EventFile(Protocol):
    """An append-only event file."""

    path: str

    def write(self, data: bytes) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class Storage(Protocol):
    """File operations under one log dir root (``root``: normalised path or URL).

    ``remote`` is True for stores whose clients stop working early at interpreter exit
    (see :mod:`tblog.core.write.shutdown`); callers never branch on it for file operations.
    """

    root: str
    remote: bool

    def join(self, *parts: str) -> str: ...

    def dirname(self, path: str) -> str: ...

    def makedirs(self, path: str) -> None: ...

    def listdir(self, path: str) -> list[str]:
        """Base names in ``path`` (empty when it does not exist or is not a directory)."""
        ...

    def isdir(self, path: str) -> bool: ...

    def make_new_dir(self, path: str) -> bool:
        """Create the directory ``path`` (parents must exist); False when it already
        exists. Atomic where the store has directories (two callers never both get True)."""
        ...

    def size(self, path: str) -> int:
        """Size in bytes (0 when it cannot be read)."""
        ...

    def read(self, path: str) -> bytes | None:
        """The whole file, or ``None`` when it does not exist."""
        ...

    def open_read(self, path: str) -> tuple[BinaryIO, int | None]:
        """``path`` opened for reading, and its size when the store knows it (``None`` for
        what has no size: a device, a pipe). Raises ``OSError`` (``FileNotFoundError``,
        ``PermissionError``, ...) when it cannot be opened."""
        ...

    def write_bytes(self, path: str, data: bytes) -> None:
        """Replace ``path`` with ``data`` (atomically where the store allows it)."""
        ...

    def open_append(self, path: str) -> EventFile: ...

    def event_files(self, path: str) -> list[str]:
        """Base names of the event files directly in ``path``, in name order."""
        ...

    def walk_event_files(self, root: str | None = None) -> Iterator[tuple[str, list[str]]]:
        """``(run, [event file paths in name order])`` for every run under ``root`` (default:
        the storage root), runs in name order; ``"."`` names ``root`` itself."""
        ...


class LocalEventFile:
    """An event file on the local disk, appended to with unbuffered writes.

    A failed write is rolled back (the file is truncated to the last complete write) so
    a full disk never leaves half a record behind.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._f = open(path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        self._size = self._f.tell()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                n = self._f.write(view)
                if n is None:  # pragma: no cover - non-blocking files only
                    continue
                view = view[n:]
        except BaseException:
            try:
                self._f.truncate(self._size)
                self._f.seek(self._size)
            except OSError:  # pragma: no cover - best effort on a failing disk
                pass
            raise
        self._size += len(data)

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def segment_name(path: str, index: int) -> str:
    """The name of segment ``index`` of the event file ``path`` in a store that cannot
    append: ``path`` itself, then ``<path>.<letter><index>`` where the letter (``a``..``z``)
    says how many digits follow (``.a1`` .. ``.a9``, ``.b10`` .. ``.b99``, ``.c100``, ...), so
    that names sort in write order as text, as TensorBoard's loaders sort a run's files (and
    never sort between ``path`` and the next file of the run), for every index below 10**26.
    """
    if index == 0:
        return path
    digits = str(index)
    if index < 0 or len(digits) > 26:
        raise ValueError(f"segment index out of range: {index}")
    return f"{path}.{chr(ord('a') + len(digits) - 1)}{digits}"


class SegmentedEventFile:
    """An event file in a store that cannot append, as numbered objects (``segment_name``).

    Each flush rewrites the current segment object with all its bytes (to a reader, the
    object grew, as an appended file grows) while the segment is below
    :data:`SEGMENT_BYTES`; the flush that takes it past that size closes it, and the next
    flush starts a new object. So a flush per step uploads at most about ``SEGMENT_BYTES``
    plus its new bytes, and a file of ``n`` bytes is about ``n / SEGMENT_BYTES`` objects
    whatever the number of flushes."""

    def __init__(self, fs: Any, path: str) -> None:
        self.path = path
        self._fs = fs
        self._pending: list[bytes] = []
        self._segment = 0
        self._current = b""  # what the current segment object holds

    def write(self, data: bytes) -> None:
        self._pending.append(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join([self._current, *self._pending])
        with self._fs.open(segment_name(self.path, self._segment), "wb") as f:
            f.write(data)
        self._pending.clear()
        if len(data) >= SEGMENT_BYTES:
            self._segment += 1
            self._current = b""
        else:
            self._current = data

    def close(self) -> None:
        self.flush()


class LocalStorage:
    """:class:`Storage` on the local file system."""

    remote = False

    def __init__(self, root: str) -> None:
        self.root = os.path.expanduser(root)

    def join(self, *parts: str) -> str:
        return os.path.join(*(p for p in parts if p))

    def dirname(self, path: str) -> str:
        return os.path.dirname(path)

    def makedirs(self, path: str) -> None:
        if os.path.exists(path) and not os.path.isdir(path):
            raise NotADirectoryError(f"log dir {path!r} exists and is not a directory")
        os.makedirs(path, exist_ok=True)

    def listdir(self, path: str) -> list[str]:
        try:
            return os.listdir(path)
        except (FileNotFoundError, NotADirectoryError):
            return []

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def make_new_dir(self, path: str) -> bool:
        try:
            os.mkdir(path)
        except FileExistsError:
            return False
        return True

    def size(self, path: str) -> int:
        try:
            return os.path.getsize(path)
        except OSError:
            return 0

    def read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def open_read(self, path: str) -> tuple[BinaryIO, int | None]:
        f = open(path, "rb")  # noqa: SIM115 - the caller closes it
        try:
            st = os.fstat(f.fileno())
        except OSError:
            f.close()
            raise
        return f, st.st_size if stat.S_ISREG(st.st_mode) else None

    def write_bytes(self, path: str, data: bytes) -> None:
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def open_append(self, path: str) -> EventFile:
        return LocalEventFile(path)

    def event_files(self, path: str) -> list[str]:
        return sorted(n for n in self.listdir(path) if is_event_file(n))

    def walk_event_files(self, root: str | None = None) -> Iterator[tuple[str, list[str]]]:
        top = self.root if root is None else root
        for dirpath, dirnames, filenames in sorted(os.walk(top, followlinks=True)):
            dirnames.sort()
            files = sorted(f for f in filenames if is_event_file(f))
            if files:
                rel = os.path.relpath(dirpath, top).replace(os.sep, "/")
                yield rel, [os.path.join(dirpath, f) for f in files]


class FsspecStorage:
    """:class:`Storage` on an fsspec URL (``s3://``, ``gs://``, ``memory://``, ...)."""

    remote = True

    def __init__(self, root: str, storage_options: dict[str, Any] | None = None) -> None:
        import fsspec

        self.fs: Any
        self.fs, _ = fsspec.core.url_to_fs(root, **(storage_options or {}))
        self.root = root.rstrip("/")

    def join(self, *parts: str) -> str:
        return posixpath.join(*(p for p in parts if p))

    def dirname(self, path: str) -> str:
        return path.rstrip("/").rsplit("/", 1)[0]

    def makedirs(self, path: str) -> None:
        self.fs.makedirs(path, exist_ok=True)

    def listdir(self, path: str) -> list[str]:
        try:
            return [posixpath.basename(p.rstrip("/")) for p in self.fs.ls(path, detail=False)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def isdir(self, path: str) -> bool:
        return bool(self.fs.isdir(path))

    def make_new_dir(self, path: str) -> bool:
        # Object stores have no atomic mkdir: listing and creating is the best they allow.
        if self.fs.exists(path):
            return False
        self.fs.makedirs(path, exist_ok=True)
        return True

    def size(self, path: str) -> int:
        try:
            return int(self.fs.size(path) or 0)
        except OSError:
            return 0

    def read(self, path: str) -> bytes | None:
        try:
            data: bytes = self.fs.cat_file(path)
            return data
        except FileNotFoundError:
            return None

    def open_read(self, path: str) -> tuple[BinaryIO, int | None]:
        f = self.fs.open(path, "rb")
        size = getattr(f, "size", None)
        return f, int(size) if isinstance(size, int) else None

    def write_bytes(self, path: str, data: bytes) -> None:
        with self.fs.open(path, "wb") as f:
            f.write(data)

    def open_append(self, path: str) -> EventFile:
        return SegmentedEventFile(self.fs, path)

    def event_files(self, path: str) -> list[str]:
        return sorted(n for n in self.listdir(path) if is_event_file(n))

    def walk_event_files(self, root: str | None = None) -> Iterator[tuple[str, list[str]]]:
        base = self.fs._strip_protocol(self.root if root is None else root).rstrip("/")
        found: dict[str, list[str]] = {}
        for path in sorted(self.fs.find(base)):
            if is_event_file(path):
                parent = path.rsplit("/", 1)[0]
                rel = parent[len(base) :].strip("/") or "."
                found.setdefault(rel, []).append(path)
        for run in sorted(found):
            yield run, sorted(found[run])


def open_storage(
    root: str | os.PathLike[str], storage_options: dict[str, Any] | None = None
) -> Storage:
    """The :class:`Storage` of ``root``: an fsspec URL, or a local path (``file://`` too).

    ``storage_options`` go to fsspec (e.g. ``{"endpoint_url": ...}`` for ``s3://``); they
    can also come from fsspec's own configuration (``FSSPEC_S3_ENDPOINT_URL``, ...).
    """
    path = os.fspath(root)
    if path.startswith("file://"):
        path = path[len("file://") :]
    if is_url(path):
        return FsspecStorage(path, storage_options)
    return LocalStorage(path)
