"""Where event files live: the local file system or any fsspec URL.

Local event files are appended to with unbuffered writes, so what the writer thread has
written is in the OS after each write. Stores that cannot append (S3, GCS, ``memory://``)
get each flushed chunk as a new object (``<name>``, ``<name>.0001``, ...): TensorBoard
merges every file of a run into one series, and a flush uploads only the new bytes.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any, Protocol


def is_url(path: str) -> bool:
    """True for ``scheme://`` paths other than ``file://``."""
    return "://" in path and not path.startswith("file://")


class EventFile(Protocol):
    """An append-only event file."""

    path: str

    def write(self, data: bytes) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


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

    def fsync(self) -> None:
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


class SegmentedEventFile:
    """An event file in a store that cannot append: each flush writes one new object."""

    def __init__(self, fs: Any, path: str) -> None:
        self.path = path
        self._fs = fs
        self._pending: list[bytes] = []
        self._segment = 0
        self.bytes_uploaded = 0

    def write(self, data: bytes) -> None:
        self._pending.append(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        name = self.path if self._segment == 0 else f"{self.path}.{self._segment:04d}"
        with self._fs.open(name, "wb") as f:
            f.write(data)
        self._pending.clear()
        self._segment += 1
        self.bytes_uploaded += len(data)

    def close(self) -> None:
        self.flush()


class Storage:
    """File operations for one log dir root: local paths or an fsspec URL.

    ``storage_options`` go to fsspec (e.g. ``{"endpoint_url": ...}`` for ``s3://``); they
    can also come from fsspec's own configuration (``FSSPEC_S3_ENDPOINT_URL``, ...).
    """

    def __init__(self, root: str, storage_options: dict[str, Any] | None = None) -> None:
        root = os.fspath(root)
        if root.startswith("file://"):
            root = root[len("file://") :]
        self.remote = is_url(root)
        self.fs: Any = None
        if self.remote:
            import fsspec

            self.fs, _ = fsspec.core.url_to_fs(root, **(storage_options or {}))
            self.root = root.rstrip("/")
        else:
            self.root = os.path.expanduser(root)

    def join(self, *parts: str) -> str:
        parts = tuple(p for p in parts if p)
        if self.remote:
            return posixpath.join(*parts)
        return os.path.join(*parts)

    def makedirs(self, path: str) -> None:
        if self.remote:
            self.fs.makedirs(path, exist_ok=True)
            return
        if os.path.exists(path) and not os.path.isdir(path):
            raise NotADirectoryError(f"log dir {path!r} exists and is not a directory")
        os.makedirs(path, exist_ok=True)

    def listdir(self, path: str) -> list[str]:
        """Base names in ``path`` (empty when it does not exist or is a local file; for a
        remote file, fsspec lists the file itself)."""
        if self.remote:
            try:
                return [posixpath.basename(p.rstrip("/")) for p in self.fs.ls(path, detail=False)]
            except FileNotFoundError:
                return []
        try:
            return os.listdir(path)
        except (FileNotFoundError, NotADirectoryError):
            return []

    def has_event_files(self, path: str) -> bool:
        return any("tfevents" in name for name in self.listdir(path))

    def open_event_file(self, path: str) -> EventFile:
        if self.remote:
            return SegmentedEventFile(self.fs, self._strip(path))
        return LocalEventFile(path)

    def write_bytes(self, path: str, data: bytes) -> None:
        if self.remote:
            with self.fs.open(self._strip(path), "wb") as f:
                f.write(data)
            return
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def read_bytes(self, path: str) -> bytes | None:
        try:
            if self.remote:
                with self.fs.open(self._strip(path), "rb") as f:
                    data: bytes = f.read()
                    return data
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _strip(self, path: str) -> str:
        # fsspec file systems accept both URLs and protocol-less paths.
        return path
