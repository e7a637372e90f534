"""A hook around ``tf.train.CheckpointManager`` that records its saves and restores in
tblog writers; TensorFlow still does all the checkpointing.

The flow of TensorFlow's checkpoint guide, with the hook in it::

    ckpt = tf.train.Checkpoint(step=step_var, optimizer=optimizer, model=model)
    hook = CheckpointHook(tf.train.CheckpointManager(ckpt, "ckpts", max_to_keep=3),
                          [train_writer, val_writer], save_interval_steps=50)
    start = hook.restore() or 0          # restores the latest; None on a fresh start
    for step in range(start, total):
        hook.save(step)                  # manager.save(checkpoint_number=step) every 50
        train_step(...)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tblog.checkpoint.recorder import CheckpointRecorder
from tblog.core.convert import to_step

_NUMBER = re.compile(r"-(\d+)\Z")


class CheckpointHook:
    """Records every save and restore of a ``tf.train.CheckpointManager`` in ``writer``.

    ``manager``: a ``tf.train.CheckpointManager``. ``writer``: a ``tblog.SummaryWriter`` or
    a sequence of them (saves are recorded in the first; a restore marks them all, e.g.
    train and validation writers), or ``None``. ``save_interval_steps``: :meth:`save`
    writes only at multiples of it. Raises ``TypeError``/``ValueError`` for bad arguments.
    """

    def __init__(
        self,
        manager: Any,
        writer: Any = None,
        *,
        save_interval_steps: int | None = None,
    ) -> None:
        if not callable(getattr(manager, "save", None)) or not hasattr(manager, "checkpoint"):
            raise TypeError(
                f"manager must be a tf.train.CheckpointManager, got {type(manager).__name__}"
            )
        if save_interval_steps is not None and (
            not isinstance(save_interval_steps, int) or save_interval_steps < 1
        ):
            raise ValueError(
                f"save_interval_steps must be an int >= 1, got {save_interval_steps!r}"
            )
        self.manager = manager
        self.recorder = CheckpointRecorder(writer)
        self.writers = self.recorder.writers
        self.save_interval_steps = save_interval_steps
        self.restored_step: int | None = None
        self.status: Any = None

    @staticmethod
    def step_of(path: str) -> int:
        """The checkpoint number at the end of a TensorFlow checkpoint prefix (``ckpt-50``)."""
        m = _NUMBER.search(str(path))
        if m is None:
            raise ValueError(f"path must end in -<checkpoint number>, got {path!r}")
        return int(m.group(1))

    def restore(self, path: str | None = None) -> int | None:
        """Restore ``path`` (default: the manager's latest checkpoint) into the manager's
        ``tf.train.Checkpoint``; return its number (the step), or ``None`` when there is no
        checkpoint. Each writer's runs are marked at the first step they log from there (the
        loop may resume at that step or after it). The restore status
        is kept in :attr:`status` (e.g. ``hook.status.assert_consumed()``)."""
        if path is None:
            path = self.manager.latest_checkpoint
            if path is None:
                return None
        step = self.step_of(path)
        self.status = self.manager.checkpoint.restore(path)
        self.restored_step = step
        on_disk = [self.step_of(p) for p in self.manager.checkpoints]
        self.recorder.restored(step, path, on_disk=on_disk)
        return step

    def should_save(self, step: int) -> bool:
        """Whether :meth:`save` at ``step`` saves (interval, and not the restored step)."""
        if to_step(step, "step", non_negative=True) == self.restored_step:
            return False
        return self.save_interval_steps is None or step % self.save_interval_steps == 0

    def save(
        self,
        step: int,
        *,
        metrics: Mapping[str, Any] | None = None,
        force: bool = False,
        check_interval: bool = True,
    ) -> str | None:
        """``manager.save(checkpoint_number=step)`` when :meth:`should_save` (or ``force``),
        then record it (with ``metrics``) and flush the writer. Returns the checkpoint
        prefix, or ``None`` when nothing was saved (also when the manager's own
        ``checkpoint_interval`` skipped it)."""
        step = to_step(step, "step", non_negative=True)
        if not force and not self.should_save(step):
            return None
        self.recorder.before_save()  # what was logged before the checkpoint is on disk with it
        path = self.manager.save(checkpoint_number=step, check_interval=check_interval)
        if path is None:
            return None
        self.restored_step = None
        self.recorder.saved(step, str(path), metrics)
        return str(path)
