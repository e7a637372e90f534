"""Fixed-edge histogram counting, the public names integrations share (the torch hooks and
histograms count on the host with these). The implementation, with its native and numpy
ways, is :mod:`tblog.core.summaries._counting`."""

from __future__ import annotations

from tblog.core.summaries._counting import Counted, count_values, edge_counts, thread_pool

__all__ = ["Counted", "count_values", "edge_counts", "thread_pool"]
