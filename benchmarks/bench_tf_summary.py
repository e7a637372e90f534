"""``tf.summary`` vs ``tblog.summary`` (eager, CPU): the same TensorFlow-style loop, only the
module swapped. Usage::

    python benchmarks/bench_tf_summary.py [--quick] [--scalars N]

Each row runs in a fresh interpreter: ``create_file_writer``, then ``N`` calls inside
``with writer.as_default(step=...)``, then ``close()`` (so what is timed is on disk).
Values are Python floats or eager ``tf.Tensor`` scalars; histograms are 1,000 values in
30 buckets; images are the 3 kept of an ``[8, 32, 32, 3]`` float batch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import installed, machine, ratio, run_snippet, table

CHILD = r"""
import json, os, sys, tempfile, time
import numpy as np
import tensorflow as tf
import tblog.summary

api_name, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
api = tf.summary if api_name == "tf" else tblog.summary
rng = np.random.default_rng(0)
if kind == "scalar_float":
    values = [float(v) for v in rng.random(n)]
    op = lambda i: api.scalar("loss", values[i], step=i)
elif kind == "scalar_tensor":
    values = [tf.constant(v, tf.float32) for v in rng.random(n)]
    op = lambda i: api.scalar("loss", values[i], step=i)
elif kind == "histogram":
    values = [tf.constant(rng.normal(size=1000), tf.float32) for _ in range(n)]
    op = lambda i: api.histogram("weights", values[i], step=i)
else:
    batch = tf.constant(rng.random((8, 32, 32, 3)), tf.float32)
    op = lambda i: api.image("images", batch, step=i)
with tempfile.TemporaryDirectory() as logdir:
    warm = api.create_file_writer(os.path.join(logdir, "warm"))
    with warm.as_default():
        for i in range(min(n, 50)):
            op(i)
    warm.close()
    start = time.perf_counter()
    writer = api.create_file_writer(os.path.join(logdir, "run"))
    with writer.as_default():
        for i in range(n):
            op(i)
    writer.close()
    seconds = time.perf_counter() - start
print(json.dumps({"us": seconds / n * 1e6}))
"""

KINDS = [
    ("scalar (Python float)", "scalar_float", 5_000),
    ("scalar (eager tf.Tensor)", "scalar_tensor", 5_000),
    ("histogram (1,000 values)", "histogram", 300),
    ("image (3 of [8, 32, 32, 3])", "image", 100),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls per row")
    parser.add_argument("--scalars", type=int, default=None, help="calls per scalar row")
    args = parser.parse_args(argv)
    if not installed("tensorflow"):
        print("## tf.summary vs tblog.summary\n\n(tensorflow is not installed: skipped)\n")
        return 0
    rows = []
    for label, kind, n in KINDS:
        if args.quick:
            n = max(20, n // 10)
        if args.scalars and kind.startswith("scalar"):
            n = args.scalars
        tf_us = run_snippet(CHILD, "tf", kind, str(n))["us"]
        ours_us = run_snippet(CHILD, "tblog", kind, str(n))["us"]
        rows.append([label, n, tf_us, ours_us, ratio(tf_us, ours_us)])
    print(
        table(
            f"tf.summary vs tblog.summary, eager CPU, us per call incl. close ({machine()})",
            ["op", "calls", "tf.summary", "tblog.summary", "speed-up"],
            rows,
        )
    )
    print(f"scalar speed-up (Python float): {rows[0][4]}; eager tensor: {rows[1][4]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
