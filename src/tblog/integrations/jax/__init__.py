"""JAX integration: arrays to numpy (jax is never imported here: only its values reach us)."""

from __future__ import annotations

from tblog.core import registry

registry.register("jax", ("jax", "jaxlib"), "tblog.integrations.jax._adapter")
