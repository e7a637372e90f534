"""Run directory layout of ``TensorBoardLogger``: ``<save_dir>/<name>/version_<N>[/<sub_dir>]``.

Versions are claimed atomically: ``os.mkdir`` of ``version_<N>`` either creates the
directory or fails because another process got there first, in which case the next number
is tried. Listing and then using a number (what ``TensorBoardLogger`` does) lets two runs
that start at once pick the same directory. Remote (fsspec URL) directories have no atomic
mkdir and fall back to listing.
"""

from __future__ import annotations

import atexit
import os
from typing import Any

from tblog.core.storage import is_url, open_storage

VERSION_PREFIX = "version_"


def is_remote(path: str) -> bool:
    """True for fsspec URLs other than ``file://``."""
    return is_url(path)


def _version_number(name: str) -> int | None:
    if not name.startswith(VERSION_PREFIX):
        return None
    digits = name[len(VERSION_PREFIX) :]
    return int(digits) if digits.isdigit() else None


def existing_versions(root_dir: str) -> list[int]:
    """Numbers of the ``version_<N>`` directories directly under ``root_dir``."""
    storage = open_storage(root_dir)
    found = []
    for name in storage.listdir(root_dir):
        n = _version_number(name)
        if n is not None and storage.isdir(storage.join(root_dir, name)):
            found.append(n)
    return found


def next_version(root_dir: str) -> int:
    """The version ``TensorBoardLogger`` would pick: one past the highest existing one."""
    versions = existing_versions(root_dir)
    return max(versions) + 1 if versions else 0


def make_dirs(path: str) -> None:
    """Create ``path`` and its parents if missing (local path or fsspec URL)."""
    open_storage(path).makedirs(path)


def claim_version(root_dir: str) -> int:
    """Create ``<root_dir>/version_<N>`` for the lowest free ``N`` above the existing ones.

    Safe when several processes or threads claim at once on a local disk: each gets its
    own directory. A local directory still empty when the process exits (claimed, never
    used: e.g. ``trainer.log_dir`` read in a ``ddp_spawn`` parent) is removed then.
    Raises ``OSError`` when ``root_dir`` cannot be created.
    """
    storage = open_storage(root_dir)
    storage.makedirs(root_dir)
    n = next_version(root_dir)
    while not storage.make_new_dir(storage.join(root_dir, f"{VERSION_PREFIX}{n}")):
        n += 1
    if not is_remote(root_dir):
        atexit.register(_remove_if_empty, os.path.join(root_dir, f"{VERSION_PREFIX}{n}"))
    return n


def _remove_if_empty(path: str) -> None:
    try:
        os.rmdir(path)  # only an empty directory
    except OSError:
        pass


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
    return bool(open_storage(log_dir).event_files(log_dir))
