"""The Keras backends the Keras tests run on (imported by the test process, not by the
workloads: importing jax there would slow every workload down)."""

from __future__ import annotations


def _jax_backend_works() -> bool:
    try:
        import jax  # noqa: F401
    except Exception:  # noqa: BLE001 - jax may not install everywhere
        return False
    return True


BACKENDS = ["tensorflow", "torch"] + (["jax"] if _jax_backend_works() else [])
