"""tensorflow integration (imports tensorflow lazily).

``CheckpointHook`` (``tblog.integrations.tensorflow.checkpoint``) records the saves and
restores of a ``tf.train.CheckpointManager`` in tblog writers.
"""

from __future__ import annotations

from tblog.core import registry

registry.register(
    "tensorflow", ("tensorflow", "tf_keras"), "tblog.integrations.tensorflow._adapter"
)

__all__ = ["CheckpointHook"]


def __getattr__(name: str) -> object:
    if name == "CheckpointHook":
        from tblog.integrations.tensorflow.checkpoint import CheckpointHook

        return CheckpointHook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
