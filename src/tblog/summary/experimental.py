"""``tf.summary.experimental``: the default step and custom summary scopes."""

from __future__ import annotations

from tblog.summary._api import get_step, set_step, summary_scope

__all__ = ["get_step", "set_step", "summary_scope"]
