"""Run directory layout of ``TensorBoardLogger``: ``<save_dir>/<name>/version_<N>[/<sub_dir>]``.

Versions are claimed atomically: ``os.mkdir`` of ``version_<N>`` either creates the
directory or fails because another process got there first, in which case the next number
is tried. Listing and then using a number (what ``TensorBoardLogger`` does) lets two runs
that start at once pick the same directory. Remote (fsspec URL) directories have no atomic
mkdir and fall back to listing.
"""

from __future__ import annotations

import os
from typing import Any

VERSION_PREFIX = "version_"
EVENT_FILE_MARKER = "tfevents"


def is_remote(path: str) -> bool:
    """True for fsspec URLs other than ``file://``."""
    return "://" in path and not path.startswith("file://")


def _filesystem(path: str) -> tuple[Any, str]:
    import fsspec

    fs, root = fsspec.core.url_to_fs(path)
    return fs, root


def _version_number(name: str) -> int | None:
    if not name.startswith(VERSION_PREFIX):
        return None
    digits = name[len(VERSION_PREFIX) :]
    return int(digits) if digits.isdigit() else None


def existing_versions(root_dir: str) -> list[int]:
    """Numbers of the ``version_<N>`` directories directly under ``root_dir``."""
    found: list[int] = []
    if is_remote(root_dir):
        fs, root = _filesystem(root_dir)
        try:
            entries = fs.listdir(root, detail=True)
        except (OSError, FileNotFoundError):
            return []
        for entry in entries:
            n = _version_number(os.path.basename(str(entry["name"]).rstrip("/")))
            if n is not None and entry.get("type") == "directory":
                found.append(n)
        return found
    try:
        with os.scandir(root_dir) as it:
            for entry in it:
                n = _version_number(entry.name)
                if n is not None and entry.is_dir():
                    found.append(n)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return found


def next_version(root_dir: str) -> int:
    """The version ``TensorBoardLogger`` would pick: one past the highest existing one."""
    versions = existing_versions(root_dir)
    return max(versions) + 1 if versions else 0


def make_dirs(path: str) -> None:
    """Create ``path`` and its parents if missing (local path or fsspec URL)."""
    if is_remote(path):
        fs, root = _filesystem(path)
        fs.makedirs(root, exist_ok=True)
    else:
        os.makedirs(path, exist_ok=True)


def claim_version(root_dir: str) -> int:
    """Create ``<root_dir>/version_<N>`` for the lowest free ``N`` above the existing ones.

    Safe when several processes or threads claim at once: each gets its own directory.
    Raises ``OSError`` when ``root_dir`` cannot be created.
    """
    if is_remote(root_dir):
        fs, root = _filesystem(root_dir)
        n = next_version(root_dir)
        fs.makedirs(f"{root.rstrip('/')}/{VERSION_PREFIX}{n}", exist_ok=True)
        return n
    os.makedirs(root_dir, exist_ok=True)
    n = next_version(root_dir)
    while True:
        try:
            os.mkdir(os.path.join(root_dir, f"{VERSION_PREFIX}{n}"))
        except FileExistsError:
            n += 1
            continue
        return n


def version_of_checkpoint(root_dir: str, ckpt_path: Any) -> int | str | None:
    """The version whose directory under ``root_dir`` holds ``ckpt_path``, else ``None``.

    ``version_<N>`` directories give ``N``; other directory names are returned as strings
    (``TensorBoardLogger`` uses a string version as the directory name itself).
    """
    path = os.fspath(ckpt_path)
    if is_remote(path) or is_remote(root_dir):
        rel = (
            path[len(root_dir.rstrip("/")) + 1 :]
            if path.startswith(root_dir.rstrip("/") + "/")
            else None
        )
    else:
        root = os.path.realpath(os.path.expanduser(root_dir))
        full = os.path.realpath(os.path.expanduser(path))
        rel = os.path.relpath(full, root) if full.startswith(root + os.sep) else None
    if not rel:
        return None
    parts = rel.replace("\\", "/").split("/")
    if len(parts) < 2 or parts[0] in ("", ".", ".."):
        return None
    n = _version_number(parts[0])
    return n if n is not None else parts[0]


def has_event_files(log_dir: str) -> bool:
    """True when ``log_dir`` already holds an event file (the run is being continued)."""
    if is_remote(log_dir):
        fs, root = _filesystem(log_dir)
        try:
            names = [os.path.basename(str(p)) for p in fs.ls(root, detail=False)]
        except (OSError, FileNotFoundError):
            return False
    else:
        try:
            names = os.listdir(log_dir)
        except (FileNotFoundError, NotADirectoryError):
            return False
    return any(EVENT_FILE_MARKER in name for name in names)
