"""``TensorBoardCallback``: transformers' TensorBoard callback, writing through tblog.

It writes what ``transformers.integrations.TensorBoardCallback`` writes (transformers 5):

- at ``on_train_begin``: the training arguments (``args.to_json_string()``) as the text
  ``args`` and the model's config (``model.config.to_json_string()``) as ``model_config``;
- at ``on_log``: each logged value at ``state.global_step`` under the tag
  ``rewrite_logs`` gives it (``eval_x`` -> ``eval/x``, ``test_x`` -> ``test/x``, anything
  else -> ``train/x``): numbers as scalars, strings as text, other values dropped with a
  warning; then a flush;
- into ``$TENSORBOARD_LOGGING_DIR`` or else ``<output_dir>/runs/<time>_<host>`` (a
  hyperparameter-search trial: ``<output_dir>/runs/<time>_<host>/<trial name>``), and only
  where ``state.is_world_process_zero``; ``on_train_end`` closes the writer.

On top of that, with a tblog writer (its own, or a ``tblog.SummaryWriter`` passed as
``tb_writer``), the Trainer's checkpoints go through :class:`tblog.checkpoint.CheckpointRecorder`:
``on_save`` flushes and records the save (``checkpoint/step``, ``checkpoint/saved``) at its
step, and a Trainer resumed with ``resume_from_checkpoint`` (its ``state.global_step`` is
the checkpoint's when ``on_train_begin`` runs) records the restore and marks the run, so
TensorBoard drops what the interrupted process logged after that checkpoint: one point
per step. The resumed run must log into the same directory (set
``TENSORBOARD_LOGGING_DIR`` or pass ``tb_writer``: the default directory has the time in
its name).

Per-rank runs (``per_rank=True``): every process writes (not only the world's process
zero), through ``tblog.SummaryWriter(log_dir, per_rank=True)``: each into its own run
``<log_dir>/rank_<r>``, process zero also into the main run. All processes need the same
``log_dir``: ``$TENSORBOARD_LOGGING_DIR`` when set, else the default name computed by
process zero and sent to the others at ``on_train_begin`` (a broadcast on the default
``torch.distributed`` group, which the Trainer has set up; every process runs
``on_train_begin`` at the same point), so no two processes depend on sharing a clock.
Checkpoint records stay on process zero. A ``tb_writer`` given is used as it is.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime
from typing import Any

from transformers import TrainerCallback

from tblog.checkpoint import CheckpointRecorder
from tblog.writer.summary_writer import SummaryWriter

log = logging.getLogger(__name__)

__all__ = ["TensorBoardCallback", "rewrite_logs"]

CHECKPOINT_PREFIX = "checkpoint"  # transformers' PREFIX_CHECKPOINT_DIR: checkpoint-<step>


def rewrite_logs(logs: dict[str, Any]) -> dict[str, Any]:
    """The tags transformers gives a Trainer's logs: ``eval_``/``test_`` prefixes become
    ``eval/``/``test/``, every other key goes under ``train/``."""
    out = {}
    for key, value in logs.items():
        if key.startswith("eval_"):
            out["eval/" + key[len("eval_") :]] = value
        elif key.startswith("test_"):
            out["test/" + key[len("test_") :]] = value
        else:
            out["train/" + key] = value
    return out


def _default_logdir() -> str:
    """``runs/<Mon DD_HH-MM-SS>_<host>``, as transformers (and torch) name a new run."""
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", stamp + "_" + socket.gethostname())


class TensorBoardCallback(TrainerCallback):
    """A ``TrainerCallback`` that logs to TensorBoard through tblog (see the module docstring).

    ``tb_writer``: the writer to use (a ``tblog.SummaryWriter`` gets the checkpoint
    records; any object with torch's ``add_scalar``/``add_text``/``flush``/``close`` is used
    as transformers would); by default one is made at the first ``on_train_begin`` or
    ``on_log`` of the world's process zero. Use it as
    ``Trainer(..., report_to="none", callbacks=[TensorBoardCallback()])``.

    ``per_rank``: every process writes its own run ``rank_<r>`` (see the module docstring).
    """

    def __init__(self, tb_writer: Any = None, *, per_rank: bool = False) -> None:
        self.tb_writer = tb_writer
        self.per_rank = per_rank
        env = os.getenv("TENSORBOARD_LOGGING_DIR")
        self.logging_dir: str | None = os.path.expanduser(env) if env is not None else None

    # ------------------------------------------------------------------ writer
    def _init_summary_writer(self, args: Any) -> None:
        if self.per_rank:
            self.tb_writer = SummaryWriter(log_dir=self.logging_dir, per_rank=True)
        else:
            self.tb_writer = SummaryWriter(log_dir=self.logging_dir)

    def _writes(self, state: Any) -> bool:
        """Whether this process writes: process zero, or every process with ``per_rank``."""
        return self.per_rank or bool(state.is_world_process_zero)

    def _recorder(self) -> CheckpointRecorder | None:
        """The recorder of a tblog writer (``None`` for another writer, which gets no records)."""
        writer = self.tb_writer
        return CheckpointRecorder(writer) if isinstance(writer, SummaryWriter) else None

    # ------------------------------------------------------------------ events
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self._writes(state):
            return
        default = _default_logdir()
        if self.per_rank and (self.logging_dir is None or state.is_hyper_param_search):
            default = _from_process_zero(default)  # every process runs on_train_begin
        if state.is_hyper_param_search and state.trial_name is not None:
            self.logging_dir = os.path.join(args.output_dir, default, state.trial_name)
        if self.logging_dir is None:
            self.logging_dir = os.path.join(args.output_dir, default)
        if self.tb_writer is None:
            self._init_summary_writer(args)
        if self.tb_writer is None:
            return
        if not state.is_world_process_zero:
            return  # a per_rank process: the args, config and records are process zero's
        self.tb_writer.add_text("args", args.to_json_string())
        model = kwargs.get("model")
        if model is not None and getattr(model, "config", None) is not None:
            self.tb_writer.add_text("model_config", model.config.to_json_string())
        if state.global_step > 0:  # resumed from a checkpoint: its state is loaded by now
            recorder = self._recorder()
            if recorder is not None:
                path = _checkpoint_dir(args, state)
                recorder.restored(state.global_step, path if os.path.isdir(path) else None)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not self._writes(state):
            return
        if self.tb_writer is None:
            self._init_summary_writer(args)
        if self.tb_writer is None:
            return
        for key, value in rewrite_logs(logs or {}).items():
            if isinstance(value, (int, float)):
                self.tb_writer.add_scalar(key, value, state.global_step)
            elif isinstance(value, str):
                self.tb_writer.add_text(key, value, state.global_step)
            else:
                log.warning(
                    "Trainer is attempting to log a value of %r of type %s for key %r as a "
                    "scalar; tblog's TensorBoardCallback dropped it.",
                    value,
                    type(value),
                    key,
                )
        self.tb_writer.flush()

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero or self.tb_writer is None:
            return
        recorder = self._recorder()
        if recorder is not None:
            # on_log flushed all that was logged before the save; this flushes the rest
            # of the process (other tblog writers) too
            recorder.before_save()
            recorder.saved(state.global_step, _checkpoint_dir(args, state))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.tb_writer:
            self.tb_writer.close()
            self.tb_writer = None


def _from_process_zero(name: str) -> str:
    """``name`` as process zero of the default ``torch.distributed`` group has it (``name``
    itself without a group)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return name
    box: list[Any] = [name]
    dist.broadcast_object_list(box, src=0)
    return str(box[0])


def _checkpoint_dir(args: Any, state: Any) -> str:
    """Where the Trainer saves (saved) the checkpoint of ``state.global_step``."""
    return os.path.join(args.output_dir, f"{CHECKPOINT_PREFIX}-{state.global_step}")
