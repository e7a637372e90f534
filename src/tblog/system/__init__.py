"""System stats (:class:`SystemMonitor`) and run info for tblog's writers."""

from __future__ import annotations

from tblog.system.monitor import SystemMonitor

__all__ = ["SystemMonitor"]
