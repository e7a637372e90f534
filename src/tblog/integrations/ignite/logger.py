"""``TensorboardLogger``: Ignite's TensorBoard logger with a tblog ``SummaryWriter`` as its
``writer`` (imports Ignite and torch)."""

from __future__ import annotations

from typing import Any

from ignite.handlers.tensorboard_logger import (
    GradsHistHandler,
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    WeightsHistHandler,
    WeightsScalarHandler,
    global_step_from_engine,
)
from ignite.handlers.tensorboard_logger import TensorboardLogger as _IgniteTensorboardLogger

from tblog.writer.summary_writer import SummaryWriter

__all__ = [
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "TensorboardLogger",
    "WeightsHistHandler",
    "WeightsScalarHandler",
    "global_step_from_engine",
]


class TensorboardLogger(_IgniteTensorboardLogger):
    """Ignite's ``TensorboardLogger`` writing through :class:`tblog.SummaryWriter`.

    Arguments are ``SummaryWriter``'s (``log_dir``, ``comment``, ``purge_step``,
    ``max_queue``, ``flush_secs``, ``filename_suffix``, and tblog's keyword-only ones);
    tensorboardX's ``logdir=`` is accepted for ``log_dir`` as Ignite's default writer takes
    it. Ignite's handlers, ``attach``, ``attach_output_handler`` and
    ``attach_opt_params_handler`` work unchanged (this is a subclass of Ignite's class);
    attribute look-ups that the logger lacks go to the writer, as with Ignite's.
    """

    writer: SummaryWriter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "logdir" in kwargs:
            if "log_dir" in kwargs or args:
                raise TypeError("give the log directory once: logdir= or log_dir=")
            kwargs["log_dir"] = kwargs.pop("logdir")
        self.writer = SummaryWriter(*args, **kwargs)
