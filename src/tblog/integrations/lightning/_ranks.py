"""What ``TBLogger(per_rank=True)`` changes: its logging runs on every rank, and the ranks
write into rank 0's version directory."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from tblog.integrations.lightning import _compat, _trainer

_F = TypeVar("_F", bound=Callable[..., Any])


def rank_zero_or_per_rank(fn: _F) -> _F:
    """Run the logger method ``fn`` on global rank 0, and on every rank of a logger made
    with ``per_rank=True``."""

    @functools.wraps(fn)
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self._per_rank or _compat.rank() == 0:
            return fn(self, *args, **kwargs)
        return None

    return wrapped  # type: ignore[return-value]


def agree_on_version(logger: Any, model: Any) -> None:
    """Give ``logger`` rank 0's version, through the Trainer's strategy (a collective:
    every rank calls this at the same point of ``fit``, the Trainer's ``log_graph`` call),
    so that the rank runs land in rank 0's run directory."""
    trainer = _trainer.trainer_of(model)
    strategy = getattr(trainer, "strategy", None)
    if strategy is None or int(getattr(trainer, "world_size", 1)) <= 1:
        return
    rank_zero = int(getattr(trainer, "global_rank", 0)) == 0
    # only rank 0 resolves a version (another rank's guess could claim a directory)
    version = strategy.broadcast(logger.version if rank_zero else None, src=0)
    if version != logger._version and logger._experiment is None:
        logger._version = version
