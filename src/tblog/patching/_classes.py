"""What each patched class becomes (the replacements ``tblog.patch()`` binds).

torch's and tensorboardX's ``SummaryWriter``/``FileWriter`` become subclasses of both
tblog's class and the original, tblog's first: tblog's ``__init__`` and methods run (the
original's ``__init__`` never does) and ``isinstance(w, <original>)`` stays true wherever
client code holds the original class. Keras' ``TensorBoard`` becomes ``tblog.TBCallback``
and Lightning's ``TensorBoardLogger`` ``tblog.TBLogger`` (which Lightning already counts as
a ``TensorBoardLogger``: ``isinstance`` holds there too).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from tblog.core.convert import prepare_scalar, to_step, to_wall_time
from tblog.core.tags import check_run_name
from tblog.summary.file_writer import FileWriter as TF1FileWriter
from tblog.writer.ranks import RankGate, not_writing
from tblog.writer.summary_writer import SummaryWriter, hparams_metric_steps

PATCHED_FROM = "_tblog_patched_from"  # the original class, on every replacement class


def _dual(ours: type, original: type, namespace: dict[str, Any]) -> type:
    namespace = {
        "__module__": __name__,
        "__qualname__": original.__qualname__,
        "__doc__": f"tblog's replacement of {original.__module__}.{original.__qualname__} "
        f"(tblog.patch()).\n\n{ours.__doc__ or ''}",
        PATCHED_FROM: original,
        **namespace,
    }
    return type(original.__name__, (ours, original), namespace)


def torch_writer(original: type) -> type:
    """``torch.utils.tensorboard.SummaryWriter`` -> ``tblog.SummaryWriter`` (same arguments)."""
    return _dual(SummaryWriter, original, {})


def _file_writer_init(
    self: Any, log_dir: Any, max_queue: int = 10, flush_secs: float = 120, filename_suffix: str = ""
) -> None:
    TF1FileWriter.__init__(
        self, log_dir, max_queue=max_queue, flush_secs=flush_secs, filename_suffix=filename_suffix
    )


def file_writer(original: type) -> type:
    """torch's/tensorboardX's ``FileWriter(log_dir, max_queue, flush_secs, filename_suffix)``
    -> tblog's FileWriter surface (``add_event``, ``add_summary``, ``add_graph``, ...)."""

    def __init__(
        self: Any,
        logdir: Any = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
        **kwargs: Any,
    ) -> None:
        path = kwargs.pop("log_dir", logdir)  # torch names it log_dir, tensorboardX logdir
        if kwargs:
            raise TypeError(f"FileWriter() got unexpected keyword arguments {sorted(kwargs)}")
        _file_writer_init(self, path, max_queue, flush_secs, filename_suffix)

    return _dual(TF1FileWriter, original, {"__init__": __init__})


class _TensorboardXMethods(SummaryWriter):
    """What tensorboardX's writer does differently from torch's: its arguments
    (``logdir``, ``write_to_disk``), ``add_scalars`` runs ``<main_tag>/<key>``,
    ``add_hparams(..., name=)`` and bool hyperparameters written as bools."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        write = kwargs.get("write_to_disk", args[6] if len(args) > 6 else True)
        if not write and cls._writes:
            cls = not_writing(cls)
        return RankGate.__new__(cls, *args, **kwargs)

    def __init__(
        self,
        logdir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int | None = None,
        flush_secs: float = 120,
        filename_suffix: str = "",
        write_to_disk: bool = True,
        log_dir: str | os.PathLike[str] | None = None,
        comet_config: Any = None,
        **kwargs: Any,
    ) -> None:
        options: dict[str, Any] = {} if max_queue is None else {"max_queue": max_queue}
        super().__init__(
            logdir if logdir is not None else log_dir,
            comment or "",
            purge_step,
            flush_secs=flush_secs,
            filename_suffix=filename_suffix or "",
            **options,
            **kwargs,
        )

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: dict[str, Any],
        global_step: Any = None,
        walltime: float | None = None,
    ) -> None:
        """As tensorboardX: each key in the run ``<log_dir>/<main_tag>/<key>``, tag ``main_tag``."""
        if not isinstance(tag_scalar_dict, dict):
            raise TypeError(f"tag_scalar_dict must be a dict, got {type(tag_scalar_dict).__name__}")
        main = self._tag(main_tag)
        step = to_step(global_step)
        wall = time.time() if walltime is None else to_wall_time(walltime)
        values = [
            (check_run_name(f"{main}/{key}", "run"), prepare_scalar(value))
            for key, value in tag_scalar_dict.items()
        ]
        for run, value in values:
            self._writer.scalar(run, main, value, step, wall, self._scalar_encoding)

    def add_hparams(  # type: ignore[override]
        self,
        hparam_dict: dict[str, Any],
        metric_dict: dict[str, Any],
        name: str | None = None,
        global_step: Any = None,
    ) -> None:
        """tensorboardX's signature; ``name``: the sub-run (default: this writer's run).
        As tensorboardX: the hparams summaries at step 0, bools as bools, the metrics (new
        tags) at ``global_step``."""
        from tblog.core.summaries import hparams

        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("hparam_dict and metric_dict must be dicts")
        run = "" if name is None else check_run_name(name)
        wall = time.time()
        metrics = {self._tag(key): value for key, value in metric_dict.items()}
        summaries = hparams.hparams_pb(hparam_dict, metrics, start_time_secs=wall)
        values = [(key, prepare_scalar(value)) for key, value in metrics.items()]
        steps = hparams_metric_steps(self, run, list(metrics), global_step)
        for summary in summaries:
            self._summary(summary, 0, wall, run=run)
        for key, value in values:
            if key in steps:
                self._writer.scalar(run, key, value, steps[key], wall, self._scalar_encoding)


def tensorboardx_writer(original: type) -> type:
    """``tensorboardX.SummaryWriter`` -> ``tblog.SummaryWriter`` with tensorboardX's arguments."""
    return _dual(_TensorboardXMethods, original, {})


def keras_callback(original: type) -> type | None:
    """``keras.callbacks.TensorBoard`` -> ``tblog.TBCallback``."""
    from tblog.integrations.keras import TBCallback

    return TBCallback


def lightning_logger(original: type) -> type | None:
    """Lightning's ``TensorBoardLogger`` -> ``tblog.TBLogger``, where ``TBLogger`` is a
    logger of that package (``lightning.pytorch`` or ``pytorch_lightning``: it builds on the
    first installed), else ``None`` (left as it is)."""
    from tblog.integrations.lightning import TBLogger

    package = original.__module__.split(".loggers", 1)[0]
    loggers = sys.modules.get(package + ".loggers")
    base = getattr(loggers, "Logger", None)
    if not isinstance(base, type) or not issubclass(TBLogger, base):
        return None
    replacement: type = TBLogger
    return replacement
