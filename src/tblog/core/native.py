"""The public face of ``tblog.core._native``, the optional C extension built at install:
``module`` is it, or ``None`` when tblog was built without a C compiler (every user has a
pure-Python fallback). Integrations reach it here, not through the private module."""

from __future__ import annotations

from typing import Any

module: Any
try:
    from tblog.core import _native as module
except ImportError:  # built without a C compiler
    module = None
