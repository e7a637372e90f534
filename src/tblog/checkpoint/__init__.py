"""Checkpoints and resume: ``CheckpointManager``, the checkpoint recorder, the resume scan."""

from tblog.checkpoint.manager import CheckpointManager, DamagedCheckpointError
from tblog.checkpoint.recorder import Axis, CheckpointRecorder

__all__ = ["Axis", "CheckpointManager", "CheckpointRecorder", "DamagedCheckpointError"]
