"""Rank zero, declared once: on a process that must not write (``rank_zero_only`` and a
global rank other than 0), ``tblog.SummaryWriter(...)`` is an instance of a subclass whose
public methods do nothing (``isinstance`` holds, ``writer`` is ``None``), so no method of
the writer checks the rank or a missing EventWriter. Exceptions: with ``per_rank=True`` every
rank writes (its rank run, :mod:`tblog.writer.distributed`), and cross-rank reductions
(``add_scalar``/``log_metrics`` with ``reduce=``) are issued on every rank, writing or not."""

from __future__ import annotations

import os
from typing import Any

from tblog.core import registry


class RankGate:
    """``__new__`` of ``SummaryWriter`` (a base class, so that ``inspect.signature`` of
    ``SummaryWriter`` stays its ``__init__``'s): on a rank that must not write, the new
    writer's class is :func:`not_writing` of the class asked for."""

    _writes = True  # False on the classes not_writing makes

    def __new__(
        cls, *args: Any, rank_zero_only: bool = True, per_rank: bool = False, **kwargs: Any
    ) -> Any:
        if rank_zero_only and not per_rank and cls._writes and global_rank() != 0:
            cls = not_writing(cls)
        return super().__new__(cls)


class NotWriting:
    """What differs on a writer that writes nothing; every other public method of the
    writer's class becomes a no-op (:func:`not_writing`)."""

    _writes = False

    def get_logdir(self) -> str:
        log_dir: str = getattr(self, "log_dir")  # noqa: B009 - set by WriterBase
        return log_dir

    @property
    def writer(self) -> None:
        """``None``: this process writes nothing."""
        return None

    @property
    def all_writers(self) -> dict[str, Any]:
        """Only this writer's own FileWriter surface (which writes nothing)."""
        return {self.get_logdir(): getattr(self, "file_writer")}  # noqa: B009

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: Any = None,
        close: bool = True,
        walltime: float | None = None,
    ) -> None:
        """Writes nothing; closes the figures (``close``), as on rank 0."""
        if close:
            from tblog.core.summaries import figure as figure_summary

            figure_summary.close_figures(figure)

    def _reopen(self) -> None:
        return None

    # Reductions: every rank issues the collective, in the order of its calls.
    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: Any = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
        reduce: str | None = None,
    ) -> None:
        """Writes nothing; with ``reduce``, takes part in the cross-rank reduction."""
        if reduce is not None:
            super().add_scalar(  # type: ignore[misc]
                tag, scalar_value, global_step, walltime, new_style, reduce=reduce
            )

    def log_metrics(
        self, metrics: Any, step: Any = None, *, run: str = "", reduce: str | None = None
    ) -> None:
        """Writes nothing; with ``reduce``, takes part in the cross-rank reductions."""
        if reduce is not None:
            super().log_metrics(metrics, step, run=run, reduce=reduce)  # type: ignore[misc]

    def close(self) -> None:
        """Waits for this rank's pending reductions (``reduce_timeout`` in all); raises
        the first that failed."""
        getattr(self, "_ranks").reducer.close()  # noqa: B009 - set by SummaryWriter

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _nothing(self: Any, *args: Any, **kwargs: Any) -> None:
    """Writes nothing: this process's rank does not write (``rank_zero_only``)."""


_NOT_WRITING: dict[type, type] = {}


def not_writing(cls: type) -> type:
    """The subclass of ``cls`` (a ``SummaryWriter``) whose public methods, those of
    ``SummaryWriter`` and its bases, do nothing (a subclass's own methods stay, calling them)."""
    sub = _NOT_WRITING.get(cls)
    if sub is None:
        gated = [c for c in cls.__mro__ if RankGate in c.__bases__][-1]  # SummaryWriter
        names: dict[str, Any] = {}
        for base in gated.__mro__:
            for name, member in vars(base).items():
                if not name.startswith("_") and callable(member) and not hasattr(NotWriting, name):
                    names[name] = _nothing
        noop = type("NotWriting", (NotWriting,), names)
        sub = type(cls.__name__, (noop, cls), {"__module__": cls.__module__})
        sub.__qualname__ = cls.__qualname__
        _NOT_WRITING[cls] = sub
    return sub


def global_rank() -> int:
    """Global rank from a loaded framework (torch.distributed, if initialised) or the environment."""
    rank = registry.global_rank()
    if rank is not None:
        return rank
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "JSM_NAMESPACE_RANK"):
        value = os.environ.get(var)
        if value is not None and value.isdigit():
            return int(value)
    return 0
