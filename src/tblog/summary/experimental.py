"""``tf.summary.experimental``: the default step and custom summary scopes."""

from __future__ import annotations

from tblog.core.api.summary import get_step, set_step, summary_scope

__all__ = ["get_step", "set_step", "summary_scope"]
