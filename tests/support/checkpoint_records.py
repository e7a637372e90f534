"""The checkpoint records (``checkpoint/saved``, ``checkpoint/restored`` text tags) as
TensorBoard's server-side loader shows them."""

from __future__ import annotations

import re

import tb


def texts(run_dir, tag):
    """``[(step, text)]`` of a text tag as TensorBoard's server-side loader sees it."""
    acc = tb.accumulator(run_dir)
    out = []
    for e in acc.Tensors(tag + "/text_summary"):
        arr = tb.array(e).reshape(-1)
        out.append((e.step, arr[0].decode() if isinstance(arr[0], bytes) else str(arr[0])))
    return out


def recorded_paths(run_dir):
    """Checkpoint paths named by the save and restore records, by step."""
    found = {}
    for tag in ("checkpoint/saved", "checkpoint/restored"):
        for step, text in texts(run_dir, tag):
            found.setdefault(step, []).append(re.search(r"`([^`]+)`", text).group(1))
    return found
