"""``CheckpointCallback``: Keras saves and restores model + optimizer state; tblog records it.

    cb = CheckpointCallback("ckpts", writer=[train_writer, val_writer], save_freq=50)
    model.fit(x, y, epochs=12, callbacks=[cb, ...])   # run it again after a crash: it resumes

Checkpoints are ``<directory>/ckpt-<iterations>.weights.h5`` written by
``model.save_weights`` (layer weights and optimizer variables, on every backend), named by
the optimizer's iteration count, written atomically and pruned by
:class:`tblog.checkpoint.manager.CheckpointManager`. At the start of ``fit`` the latest one is
loaded back with ``model.load_weights`` and the fit starts at the epoch it belongs to; each
writer is told that the run resumes at that iteration, so TensorBoard drops what the
crashed process logged from there on. Log with the optimizer's iterations as the step
(e.g. ``model.optimizer.iterations`` in a batch callback) for curves that continue.
"""

from __future__ import annotations

import os
from typing import Any

import keras

from tblog.checkpoint.manager import CheckpointManager

# Set on the model when a checkpoint was restored: ``(iterations, epoch)`` it resumes at.
# ``TBCallback`` reads it to mark its own runs, so its curves continue there too.
RESUME_ATTR = "_tblog_resume_step"


class CheckpointCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Save model + optimizer state every ``save_freq`` batches (an int, counted by the
    optimizer's iterations) or at each epoch end (``"epoch"``); resume from the latest
    checkpoint when ``fit`` starts (``restore=True``).

    ``writer``: a ``tblog.SummaryWriter`` or a sequence of them (saves recorded in the
    first, restores marking all), or ``None``. ``max_to_keep``/``keep_every_n_steps``: as
    in :class:`~tblog.checkpoint.manager.CheckpointManager`. With an int ``save_freq``, a
    resume starts over the epoch of the checkpoint (Keras cannot start an epoch midway):
    choose a multiple of the steps per epoch so that no step is trained twice. A save due
    at an epoch's last batch is made at the epoch end, after validation. Put this callback
    after the callbacks that log, so that what they log before a save is flushed with it.
    Raises ``ValueError``/``TypeError`` for bad arguments, and at the start of ``fit`` for a
    model without an optimizer.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        writer: Any = None,
        *,
        save_freq: int | str = "epoch",
        max_to_keep: int | None = 5,
        keep_every_n_steps: int | None = None,
        restore: bool = True,
    ) -> None:
        super().__init__()
        if save_freq != "epoch" and (
            not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq < 1
        ):
            raise ValueError(f"save_freq must be 'epoch' or an int >= 1, got {save_freq!r}")
        self.save_freq = save_freq
        self.restore = bool(restore)
        self.manager = CheckpointManager(
            directory,
            max_to_keep=max_to_keep,
            keep_every_n_steps=keep_every_n_steps,
            writer=writer,
            save_fn=self._save_state,
            load_fn=self._load_state,
            suffix=".weights.h5",
        )
        self.restored_step: int | None = None
        self.initial_epoch: int = 0
        self._set_initial_epoch = False
        self._pending = False
        self._bucket = 0

    # ------------------------------------------------------------------ state through Keras
    def _save_state(self, state: Any, path: str) -> None:
        self.model.save_weights(path)

    def _load_state(self, path: str) -> None:
        model = self.model
        optimizer = model.optimizer
        if not optimizer.built:
            # so that the optimizer's variables (moments, iterations) are loaded too
            optimizer.build(model.trainable_variables)
        model.load_weights(path)

    def _iterations(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def _save(self, logs: dict[str, Any] | None) -> None:
        step = self._iterations()
        if self.manager.should_save(step):
            self.manager.save(step, None, metrics=dict(logs) if logs else None)

    # ------------------------------------------------------------------ Keras hooks
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if getattr(self.model, "optimizer", None) is None:
            raise ValueError("CheckpointCallback needs a compiled model (with an optimizer)")
        self.restored_step = None
        self.initial_epoch = 0
        self._pending = False
        self._bucket = 0
        setattr(self.model, RESUME_ATTR, None)
        if self.restore and self.manager.latest_checkpoint is not None:
            restored = self.manager.restore()
            assert restored is not None
            self.restored_step = restored[0]
            steps = (self.params or {}).get("steps")
            epoch = self.restored_step // int(steps) if steps else 0
            setattr(self.model, RESUME_ATTR, (self.restored_step, epoch))
            steps = (self.params or {}).get("steps")
            if steps:
                self.initial_epoch = self.restored_step // int(steps)
                # read by fit() right after on_train_begin (as BackupAndRestore does)
                self.model._initial_epoch = self.initial_epoch
                self._set_initial_epoch = True
        elif self.save_freq != "epoch":
            self._save(None)  # the initial state, at iteration 0
        if self.save_freq != "epoch":
            self._bucket = self._iterations() // int(self.save_freq)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.save_freq == "epoch":
            return
        # a multiple of save_freq reached or passed (steps_per_execution > 1 skips some)
        bucket = self._iterations() // int(self.save_freq)
        if bucket > self._bucket:
            self._bucket = bucket
            steps = (self.params or {}).get("steps")
            if steps and batch + 1 >= int(steps):
                # the epoch's last batch: save at the epoch end, once the validation
                # results of this state are logged (same state, same iteration count)
                self._pending = True
            else:
                self._save(logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.save_freq == "epoch" or self._pending:
            self._pending = False
            self._save(logs)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        setattr(self.model, RESUME_ATTR, None)  # later fits without a restore are not resumes
        if self._set_initial_epoch:
            self.model._initial_epoch = None
            self._set_initial_epoch = False


__all__ = ["RESUME_ATTR", "CheckpointCallback"]
