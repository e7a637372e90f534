"""Which process writes: the chief of ``tf.distribute`` multi-worker training, process 0
of multi-process JAX, rank 0 of ``torch.distributed`` (the SummaryWriter's own rule)."""

from __future__ import annotations

import json
import os
import sys


def tf_config_is_chief(tf_config: str | None) -> bool:
    """The multi-worker chief rule on a ``TF_CONFIG`` value: the ``chief`` task, or worker 0
    when the cluster has no chief; anything else (workers, evaluator, ps) is not.

    Raises ``ValueError`` if ``tf_config`` is not a JSON object.
    """
    if not tf_config:
        return True
    try:
        config = json.loads(tf_config)
    except json.JSONDecodeError as exc:
        raise ValueError(f"TF_CONFIG must be JSON, got {tf_config!r:.80}") from exc
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object, got {tf_config!r:.80}")
    cluster = config.get("cluster") or {}
    task = config.get("task") or {}
    if not cluster or not task:
        return True
    kind = task.get("type", "worker")
    index = int(task.get("index", 0))
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in cluster


def is_chief(backend: str = "") -> bool:
    """True where this process should write logs (``backend``: Keras' backend name)."""
    if not tf_config_is_chief(os.environ.get("TF_CONFIG")):
        return False
    jax = sys.modules.get("jax") if backend == "jax" else None
    if jax is not None:
        try:
            return int(jax.process_index()) == 0
        except Exception:  # noqa: BLE001 - no JAX backend initialised
            return True
    return True
