"""Checkpoints and resume: ``CheckpointManager``, the checkpoint recorder, the resume scan."""
