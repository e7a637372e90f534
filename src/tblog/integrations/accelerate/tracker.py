"""``TensorBoardTracker``: accelerate's TensorBoard tracker, writing through tblog.

As ``accelerate.tracking.TensorBoardTracker`` (accelerate 1.x) does, it logs into
``<logging_dir>/<run_name>`` (``start``, on the main process only unless
``main_process_only`` is false), ``log(values, step)`` writes numbers as scalars, strings as
text and dicts as ``add_scalars`` (tensors are turned into numbers first), then flushes;
``log_images`` writes ``add_images``; ``tracker`` is the writer; ``finish`` closes it.

Differences, on purpose:

- ``store_init_configuration(values)`` writes the hyperparameters into the run itself
  (accelerate's, through torch's ``add_hparams``, writes them into a new sub-run named by
  the time) and ``hparams.yml`` into the run's directory (accelerate: into that sub-run).
- Checkpoints are recorded: ``accelerator.save_state`` flushes and records the save
  (``checkpoint/step``, ``checkpoint/saved``) at the last step logged, and writes that step
  into the checkpoint directory (``tblog_tracker.json``); ``accelerator.load_state`` of such
  a checkpoint records the restore and marks the run, so TensorBoard drops what an
  interrupted process logged after the checkpoint: one point per step. The tracker hooks
  itself into the ``Accelerator`` that starts it (``init_trackers``), or into the one given
  to :meth:`TensorBoardTracker.record_checkpoints`.

Per-rank runs (``per_rank=True``): every process writes what it logs into its own run
``<logging_dir>/<run_name>/rank_<r>`` through ``tblog.SummaryWriter(..., per_rank=True)``;
the main process also writes the main run. accelerate 1.x runs ``Accelerator.init_trackers``
and ``Accelerator.log`` on the main process only (whatever a tracker's
``main_process_only``), so on every process call :meth:`TensorBoardTracker.attach` once
with the ``Accelerator`` (before ``init_trackers``): on the other processes it starts the
tracker and makes that accelerator's ``log`` reach it (and ``end_training`` finish it).
The configuration and the checkpoint records stay on the main process.
"""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

from accelerate.tracking import GeneralTracker, on_main_process  # type: ignore[import-untyped]
from accelerate.utils import listify  # type: ignore[import-untyped]

from tblog.checkpoint import CheckpointRecorder
from tblog.writer.summary_writer import SummaryWriter

__all__ = ["STEP_FILE", "TensorBoardTracker"]

STEP_FILE = "tblog_tracker.json"  # in a checkpoint directory: the step it was saved at


class TensorBoardTracker(GeneralTracker):  # type: ignore[misc]
    """A tracker for ``Accelerator(log_with=TensorBoardTracker(run_name, logging_dir))``
    (see the module docstring); ``kwargs`` go to ``tblog.SummaryWriter``.

    ``per_rank``: every process writes its own run ``rank_<r>`` (the tracker runs on every
    process: ``main_process_only`` is false; call :meth:`attach` on every process)."""

    name = "tensorboard"
    requires_logging_directory = True

    def __init__(
        self,
        run_name: str,
        logging_dir: str | os.PathLike[str],
        *,
        per_rank: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.run_name = run_name
        self.logging_dir_param = logging_dir
        self.per_rank = per_rank
        if per_rank:
            self.main_process_only = False
            kwargs["per_rank"] = True
        self.init_kwargs = kwargs
        self.writer: SummaryWriter | None = None
        self.last_step: int | None = None  # the largest step logged so far
        self._hooked: set[int] = set()  # id() of the accelerators whose states we record

    @on_main_process  # type: ignore[untyped-decorator]
    def start(self) -> None:
        self.logging_dir = os.path.join(self.logging_dir_param, self.run_name)
        self.writer = SummaryWriter(self.logging_dir, **self.init_kwargs)
        accelerator = _starting_accelerator(self)
        if accelerator is not None and _is_main(accelerator):
            self.record_checkpoints(accelerator)

    def attach(self, accelerator: Any) -> None:
        """Make ``accelerator`` drive this ``per_rank`` tracker on every process (call it on
        every process, before ``init_trackers``). On the main process ``init_trackers`` starts
        the tracker as usual; on the others this starts it, adds it to
        ``accelerator.trackers`` (so ``end_training`` finishes it) and makes that
        accelerator's ``log`` (main process only in accelerate) call the trackers that are
        not main-process-only."""
        if not self.per_rank:
            raise ValueError("TensorBoardTracker.attach is for per_rank=True trackers")
        if _is_main(accelerator) or any(t is self for t in accelerator.trackers):
            return
        self.start()
        accelerator.trackers.append(self)
        if not getattr(accelerator.log, "_tblog_every_rank", False):
            accelerator.log = _log_on_every_rank(accelerator)

    @property
    def tracker(self) -> SummaryWriter | None:
        return self.writer

    def _writer(self) -> SummaryWriter:
        if self.writer is None:
            raise RuntimeError("TensorBoardTracker is not started (Accelerator.init_trackers)")
        return self.writer

    @on_main_process  # type: ignore[untyped-decorator]
    def store_init_configuration(self, values: dict[str, Any]) -> None:
        import yaml  # type: ignore[import-untyped]

        writer = self._writer()
        writer.add_hparams(values, metric_dict={})
        writer.flush()
        with open(os.path.join(self.logging_dir, "hparams.yml"), "w") as out:
            yaml.dump(values, out)

    @on_main_process  # type: ignore[untyped-decorator]
    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        writer = self._writer()
        for key, value in listify(values).items():
            if isinstance(value, (int, float)):
                writer.add_scalar(key, value, global_step=step, **kwargs)
            elif isinstance(value, str):
                writer.add_text(key, value, global_step=step, **kwargs)
            elif isinstance(value, dict):
                writer.add_scalars(key, value, global_step=step, **kwargs)
        if step is not None:
            self.last_step = max(int(step), self.last_step or 0)
        writer.flush()

    @on_main_process  # type: ignore[untyped-decorator]
    def log_images(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        writer = self._writer()
        for key, value in values.items():
            writer.add_images(key, value, global_step=step, **kwargs)

    @on_main_process  # type: ignore[untyped-decorator]
    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close()

    # ------------------------------------------------------------------ checkpoints
    def record_checkpoints(self, accelerator: Any) -> None:
        """Record ``accelerator.save_state`` and resume on ``accelerator.load_state``
        (through its state pre-hooks; once per accelerator)."""
        if id(accelerator) in self._hooked:
            return
        self._hooked.add(id(accelerator))
        accelerator.register_save_state_pre_hook(self._before_save_state)
        accelerator.register_load_state_pre_hook(self._before_load_state)

    def _before_save_state(self, models: Any, weights: Any, output_dir: str) -> None:
        if self.writer is None:
            return
        recorder = CheckpointRecorder(self.writer)
        recorder.before_save()
        if self.last_step is None:
            return  # nothing logged at a step: no step to record the save at
        with open(os.path.join(output_dir, STEP_FILE), "w") as out:
            json.dump({"step": self.last_step}, out)
        recorder.saved(self.last_step, str(output_dir))

    def _before_load_state(self, models: Any, input_dir: str) -> None:
        path = os.path.join(input_dir, STEP_FILE)
        if self.writer is None or not os.path.isfile(path):
            return
        with open(path) as f:
            step = int(json.load(f)["step"])
        CheckpointRecorder(self.writer).restored(step, str(input_dir))
        self.last_step = step


def _starting_accelerator(tracker: TensorBoardTracker) -> Any:
    """The ``Accelerator`` whose ``init_trackers`` is starting ``tracker`` (found up the
    call stack: accelerate hands a tracker nothing else), or ``None``."""
    from accelerate import Accelerator  # type: ignore[import-untyped]

    frame = inspect.currentframe()
    try:
        for _ in range(8):
            if frame is None:
                return None
            owner = frame.f_locals.get("self")
            if isinstance(owner, Accelerator) and any(t is tracker for t in owner.trackers):
                return owner
            frame = frame.f_back
        return None
    finally:
        del frame


def _is_main(accelerator: Any) -> bool:
    return bool(accelerator.is_main_process)


def _log_on_every_rank(accelerator: Any) -> Any:
    """``accelerator.log`` for a process other than the main one: calls the trackers that
    are not main-process-only (accelerate's own ``log`` does nothing there)."""

    def log(
        values: dict[str, Any], step: int | None = None, log_kwargs: dict[str, Any] | None = None
    ) -> None:
        kwargs = log_kwargs or {}
        for tracker in accelerator.trackers:
            if not getattr(tracker, "main_process_only", True):
                tracker.log(values, step=step, **kwargs.get(tracker.name, {}))

    log._tblog_every_rank = True  # type: ignore[attr-defined]
    return log
