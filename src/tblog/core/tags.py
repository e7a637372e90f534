"""Tag validation: types are checked at the call, unusable names are cleaned with a warning."""

from __future__ import annotations

import re
import warnings
from typing import Any

MAX_TAG_LENGTH = 4096
# Control characters break TensorBoard's URLs and its text-format graph output.
_INVALID = re.compile(r"[\x00-\x1f\x7f]")


def clean_tag(tag: Any, name: str = "tag") -> str:
    """Return a tag TensorBoard can use.

    Raises ``TypeError`` if ``tag`` is not a ``str`` and ``ValueError`` if it is empty,
    longer than ``MAX_TAG_LENGTH`` or not encodable as UTF-8 (a lone surrogate). Control characters are replaced by ``_`` and a leading
    ``/`` is removed, with a ``UserWarning`` (as ``tf.summary`` does).
    """
    if not isinstance(tag, str):
        raise TypeError(f"{name} must be a str, got {type(tag).__name__}: {tag!r:.60}")
    if not tag:
        raise ValueError(f"{name} must be a non-empty string")
    if len(tag) > MAX_TAG_LENGTH:
        raise ValueError(f"{name} is {len(tag)} characters long; the limit is {MAX_TAG_LENGTH}")
    try:
        tag.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no event file can hold it
        raise ValueError(f"{name} {tag!r:.80} is not valid UTF-8 text: {exc.reason}") from None
    cleaned = _INVALID.sub("_", tag).lstrip("/")
    if not cleaned:
        raise ValueError(f"{name} {tag!r} has no usable characters")
    if cleaned != tag:
        warnings.warn(
            f"{name} {tag!r} contains characters TensorBoard cannot use; writing {cleaned!r}",
            UserWarning,
            stacklevel=3,
        )
    return cleaned


def check_run_name(run: Any, name: str = "run_name") -> str:
    """Return ``run`` (a run directory relative to the log dir, ``/``-separated) or raise.

    Raises ``TypeError`` for a non-``str`` and ``ValueError`` for a name that could leave
    the log dir or that no file system can hold: absolute (``/x``, ``\\x``, ``C:x``), with a
    ``..`` component, or with a NUL or other control character. ``""`` is the log dir itself.
    """
    if not isinstance(run, str):
        raise TypeError(f"{name} must be a str, got {type(run).__name__}: {run!r:.60}")
    parts = run.replace("\\", "/").split("/")
    if (
        run.startswith(("/", "\\"))
        or (len(run) > 1 and run[1] == ":")
        or ".." in parts
        or _INVALID.search(run)
    ):
        raise ValueError(
            f"{name} {run!r} must be a relative path inside the log dir "
            "(no leading '/', no '..', no control characters)"
        )
    return run
