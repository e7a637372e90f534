"""What ``TBLogger(per_rank=True)`` changes: its logging runs on every rank, and every rank
writes into rank 0's version directory.

How the ranks agree on the version: rank 0 chooses it (``claim_version``, or the version of
the checkpoint it resumes) and publishes it in the process group's key-value store (the
store the ranks met on at ``init_process_group``); another rank waits for it there, up to
:data:`VERSION_TIMEOUT`, when it first needs its version. Neither is a collective, so it does
not matter which rank asks first or where in ``fit`` it does. Each ``per_rank`` logger has a
key of its own: the order in which the process made its ``per_rank`` loggers, the same on
every rank of a script (and carried by the pickled loggers of ``ddp_spawn``). Before a
process group exists a rank can only guess (what ``TensorBoardLogger`` does on every rank
but 0); a run opened under a guess moves to rank 0's version at the Trainer's ``log_graph``.
"""

from __future__ import annotations

import functools
import itertools
import json
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from tblog.integrations.lightning import _compat, _trainer
from tblog.writer import distributed

_F = TypeVar("_F", bound=Callable[..., Any])

VERSION_TIMEOUT = 300.0
"""Seconds a rank waits for rank 0's version before it warns and uses its own guess."""

_keys = itertools.count()


def rank_zero_or_per_rank(fn: _F) -> _F:
    """Run the logger method ``fn`` on global rank 0, and on every rank of a logger made
    with ``per_rank=True``."""

    @functools.wraps(fn)
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self._per_rank or _compat.rank() == 0:
            return fn(self, *args, **kwargs)
        return None

    return wrapped  # type: ignore[return-value]


def version_key() -> str:
    """A new logger's key for its version in the store (see the module docstring)."""
    return f"lightning/TBLogger/{next(_keys)}/version"


def publish_version(key: str, version: int | str) -> bool:
    """Rank 0: make ``version`` the one the other ranks get for ``key``; ``False`` while
    there is no process group to publish it in (publish again later)."""
    return distributed.publish(key, json.dumps(version))


def rank_zero_version(key: str, guess: Callable[[], int | str]) -> int | str | None:
    """Another rank: the version rank 0 published for ``key`` (waiting for it up to
    :data:`VERSION_TIMEOUT`); ``None`` without a process group. When rank 0 publishes none
    in time, warns and returns ``guess()``."""
    if distributed.default_group() is None:
        return None
    raw = distributed.lookup(key, VERSION_TIMEOUT)
    if raw is not None:
        version = json.loads(raw)
        if isinstance(version, (int, str)):
            return version
    version = guess()
    warnings.warn(
        f"TBLogger(per_rank=True): rank {_compat.rank()} got no version from rank 0 within "
        f"{VERSION_TIMEOUT:.0f} s (does rank 0 use this logger?); it logs into version "
        f"{version!r}, which may not be rank 0's. Give TBLogger a version= to avoid this.",
        RuntimeWarning,
        stacklevel=2,
    )
    return version


def follow_rank_zero(logger: Any, model: Any) -> None:
    """At the Trainer's ``log_graph``, a ``per_rank`` ``logger`` on a rank but 0: move a run
    opened before the ranks could agree (no process group yet) into rank 0's version, what
    it logged included, then continue the checkpoint being resumed from, as rank 0 does
    (every rank reads the same checkpoint)."""
    current = logger._version
    if not logger._version_given and logger._experiment is not None and current is not None:
        agreed = rank_zero_version(logger._version_key, lambda: current)
        if agreed is not None and agreed != current:
            logger._move_to(_trainer.trainer_of(model), agreed)
    logger._on_fit_model(model)
