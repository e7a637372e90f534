"""Reading scalars back: ``tblog.scalars`` vs TensorBoard's ``EventAccumulator`` and tbparse.

A log dir of ``--runs`` runs x ``--points`` scalars (4 tags interleaved, plus one
histogram every 1,000 steps), written once by ``tblog.SummaryWriter``; then, in this one
process, each reader loads every scalar of every run into memory:

- ``tblog.scalars(logdir)`` (a long pandas DataFrame; best of 3),
- TensorBoard's legacy ``event_accumulator.EventAccumulator`` (``Reload()`` then
  ``Scalars(tag)``, or ``Tensors(tag)`` for tensor-encoded scalars, for every tag of every
  run; keeping every point),
- TensorBoard's server-side ``plugin_event_accumulator.EventAccumulator``
  (``Reload()`` then ``Tensors(tag)``; keeping every point),
- ``tbparse.SummaryReader(logdir).scalars`` (when tbparse is installed).

Every reader must return the same number of points. Usage::

    python benchmarks/bench_reader.py [--runs 4] [--points 100000] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _util import installed, machine, ratio, table

import tblog

TAGS = ("loss", "accuracy", "lr", "grad_norm")


def write(logdir: str, runs: int, points: int) -> None:
    rng = np.random.default_rng(0)
    per_tag = points // len(TAGS)
    for r in range(runs):
        with tblog.SummaryWriter(os.path.join(logdir, f"run{r}"), max_queue=100_000) as w:
            for step in range(per_tag):
                for k, tag in enumerate(TAGS):
                    w.add_scalar(tag, 1.0 / (step + 1) + k, step)
                if step % 1000 == 0:
                    w.add_histogram("weights", rng.normal(size=1000), step)


def timed(fn: Any, repeats: int = 1) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        best = min(best, time.perf_counter() - start)
    return best, count


def run_dirs(logdir: str) -> list[str]:
    return sorted(os.path.join(logdir, d) for d in os.listdir(logdir))


def read_tblog(logdir: str) -> int:
    return len(tblog.scalars(logdir))


def read_legacy(logdir: str) -> int:
    from tensorboard.backend.event_processing import event_accumulator as ea

    total = 0
    for d in run_dirs(logdir):
        acc = ea.EventAccumulator(d, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
        acc.Reload()
        tags = acc.Tags()
        for tag in tags["scalars"]:
            total += len(acc.Scalars(tag))
        for tag in tags["tensors"]:  # tensor-encoded scalars (tf.summary's, new_style=True)
            if acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars":
                total += len(acc.Tensors(tag))
    return total


def read_plugin(logdir: str) -> int:
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea

    total = 0
    for d in run_dirs(logdir):
        acc = pea.EventAccumulator(d, size_guidance={pea.TENSORS: 0})
        acc.Reload()
        for tag in acc.PluginTagToContent("scalars"):
            total += len(acc.Tensors(tag))
    return total


def read_tbparse(logdir: str) -> int:
    from tbparse import SummaryReader

    reader = SummaryReader(logdir)
    count = len(reader.scalars)
    if not count:  # tensor-encoded scalars: tbparse lists them under .tensors
        count = int(sum(np.ndim(v) == 0 for v in reader.tensors["value"]))
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--points", type=int, default=100_000, help="scalars per run")
    parser.add_argument("--quick", action="store_true", help="4 runs x 20k scalars")
    args = parser.parse_args(argv)
    if args.quick:
        args.points = 20_000
    with tempfile.TemporaryDirectory() as logdir:
        write(logdir, args.runs, args.points)
        size = sum(f.stat().st_size for f in Path(logdir).rglob("*tfevents*"))
        ours, n = timed(lambda: read_tblog(logdir), repeats=3)
        readers = [
            ("tblog.scalars", ours, n),
            ("EventAccumulator (legacy) .Scalars", *timed(lambda: read_legacy(logdir))),
            ("EventAccumulator (server) .Tensors", *timed(lambda: read_plugin(logdir))),
        ]
        if installed("tbparse"):
            readers.append(("tbparse SummaryReader.scalars", *timed(lambda: read_tbparse(logdir))))
    rows = []
    for name, seconds, count in readers:
        if count != n:
            print(f"{name} read {count} points, tblog.scalars {n}", file=sys.stderr)
            return 1
        rows.append([name, count, seconds, count / seconds, ratio(seconds, ours)])
    title = (
        f"Reading {args.runs} runs x {args.points:,} scalars ({size / 1e6:.1f} MB) into memory, "
        f"same process ({machine()})"
    )
    print(table(title, ["reader", "points", "s", "points/s", "tblog speed-up"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
