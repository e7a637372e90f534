"""Core writer benchmarks: tblog against every installed anchor, on the same work.

Measures (issue 7): 1. ``add_scalar`` throughput including ``close()``, CPU per scalar and
the caller's p50 cost per call; 2. ``add_histogram`` of a 10M-element float32 tensor, time
and extra peak memory, and a training loop's mix of scalars and small histograms; 3. ``import`` + writer creation; 6. bytes written to an fsspec
store over 100 flushes; 7. RSS while 10M scalars are logged. Every writer runs in its own
subprocess; the tables print ratios against the anchors measured in the same run.

Usage: ``python benchmarks/bench_core.py [--quick]`` (``--quick``: smaller workloads).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import installed, machine, ratio, run_snippet, table

# ---------------------------------------------------------------- writers under test
# Each snippet defines make(logdir) -> (add_scalar(tag, value, step), add_histogram(tag,
# values, step), close()) for one library.
WRITERS = {
    "tblog": """
import tblog
def make(d):
    w = tblog.SummaryWriter(d)
    return w.add_scalar, w.add_histogram, w.close
""",
    "tblog (style='tf.summary')": """
import tblog
def make(d):
    w = tblog.SummaryWriter(d, style="tf.summary")
    return w.add_scalar, w.add_histogram, w.close
""",
    "torch.utils.tensorboard": """
from torch.utils.tensorboard import SummaryWriter
def make(d):
    w = SummaryWriter(d)
    return w.add_scalar, w.add_histogram, w.close
""",
    "tensorboardX": """
from tensorboardX import SummaryWriter
def make(d):
    w = SummaryWriter(d)
    return w.add_scalar, w.add_histogram, w.close
""",
    "tf.summary": """
import tensorflow as tf
def make(d):
    w = tf.summary.create_file_writer(d)
    def add_scalar(tag, value, step):
        with w.as_default():
            tf.summary.scalar(tag, value, step=step)
    def add_histogram(tag, values, step):
        with w.as_default():
            tf.summary.histogram(tag, values, step=step)
    return add_scalar, add_histogram, w.close
""",
}
MODULES = {
    "tblog": "tblog",
    "tblog (style='tf.summary')": "tblog",
    "torch.utils.tensorboard": "torch",
    "tensorboardX": "tensorboardX",
    "tf.summary": "tensorflow",
}

SCALARS = """
import json, sys, tempfile, time
{writer}
n = int(sys.argv[1])
tags = ["train/loss", "train/accuracy", "lr", "grad_norm"]
wall = cpu = float("inf")
for rep in range(3):  # best of 3 fresh writers: the machine may be busy
    add, _, close = make(tempfile.mkdtemp())
    for i in range(200):  # warm up (first-call imports, tag caches)
        add(tags[i & 3], 0.5, i)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        add(tags[i & 3], i * 0.001, i)
    close()
    wall = min(wall, time.perf_counter() - t0)
    cpu = min(cpu, time.process_time() - c0)
# The caller's cost per call: time calls one by one (minus the timer's own cost).
add, _, close = make(tempfile.mkdtemp())
clock = time.perf_counter_ns
m = min(n, 20000)
lat, empty = [], []
for i in range(m):
    a = clock(); add(tags[i & 3], 0.5, i); b = clock(); lat.append(b - a)
    a = clock(); b = clock(); empty.append(b - a)
close()
lat.sort(); empty.sort()
p50 = (lat[m // 2] - empty[m // 2]) / 1000
print(json.dumps(dict(rate=n / wall, cpu_us=cpu / n * 1e6, p50_us=p50)))
"""

MIXED = """
import json, sys, tempfile, time
import numpy as np
{writer}
steps = int(sys.argv[1])
h = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
wall = float("inf")
for rep in range(3):  # best of 3 fresh writers
    add, add_histogram, close = make(tempfile.mkdtemp())
    t0 = time.perf_counter()
    for i in range(steps):
        add("loss", 1.0 / (i + 1), i)
        add("accuracy", 0.5, i)
        add_histogram("weights", h, i)
    close()
    wall = min(wall, time.perf_counter() - t0)
print(json.dumps(dict(step_us=wall / steps * 1e6)))
"""

HISTOGRAM = """
import json, sys, tempfile, time, tracemalloc
import numpy as np
{writer}
kind = sys.argv[1]
x = np.random.default_rng(0).standard_normal(10_000_000).astype(np.float32)
if kind == "torch":
    import torch
    x = torch.from_numpy(x)
elif kind == "tf":
    import tensorflow as tf
    x = tf.constant(x)
_, add, close = make(tempfile.mkdtemp())
add("w", x, 0)  # warm up
times = []
for step in range(1, 6):
    t = time.perf_counter(); add("w", x, step); times.append(time.perf_counter() - t)
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
add("w", x, 9)
peak = tracemalloc.get_traced_memory()[1] - base
tracemalloc.stop()
close()
times.sort()
print(json.dumps(dict(ms=times[len(times) // 2] * 1e3, peak_mb=peak / 2**20,
                      input_mb=10_000_000 * 4 / 2**20)))
"""

IMPORT = """
import json, resource, subprocess, sys, tempfile, time
code = sys.argv[1]
def child(src):
    best = None
    for _ in range(3):
        d = tempfile.mkdtemp()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", src, d], check=True, capture_output=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = (wall, cpu) if best is None or wall < best[0] else best
    return best
wall, cpu = child(code)
base_wall, base_cpu = child("pass")
print(json.dumps(dict(wall=wall, cpu=cpu, base_wall=base_wall, base_cpu=base_cpu)))
"""
IMPORT_CODE = {
    "tblog": "import sys, tblog; tblog.SummaryWriter(sys.argv[1])",
    "torch.utils.tensorboard": "import sys\nfrom torch.utils.tensorboard import SummaryWriter\n"
    "SummaryWriter(sys.argv[1])",
    "tensorboardX": "import sys\nfrom tensorboardX import SummaryWriter\nSummaryWriter(sys.argv[1])",
    "tf.summary": "import sys, tensorflow as tf; tf.summary.create_file_writer(sys.argv[1])",
}

# A memory:// file system with object-store semantics that counts uploaded bytes: each
# file written is uploaded whole when closed, and "append" re-uploads the whole object
# (what s3fs and gcsfs do), so the count is what S3 or GCS would have received.
REMOTE = """
import json, sys
import fsspec
from fsspec.implementations.memory import MemoryFile, MemoryFileSystem
kind, flushes, per_flush = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
uploaded = [0]
class Upload(MemoryFile):
    def close(self):
        if not getattr(self, "done", False):
            self.done = True
            uploaded[0] += self.getbuffer().nbytes
    def __exit__(self, *exc):
        self.close()
class CountingFS(MemoryFileSystem):
    protocol = "countmem"
    store = {{}}
    pseudo_dirs = [""]
    def _open(self, path, mode="rb", **kw):
        path = self._strip_protocol(path)
        if mode in ("wb", "ab"):
            old = self.store.get(path)
            f = Upload(self, path, bytes(old.getbuffer()) if "a" in mode and old else None)
            f.seek(0, 2)
            self.store[path] = f
            return f
        return super()._open(path, mode, **kw)
fsspec.register_implementation("countmem", CountingFS, clobber=True)
if kind == "torch.utils.tensorboard":
    sys.modules["tensorflow"] = None  # tensorboard's own fsspec-backed gfile, not TF's
{writer}
add, _, close = make("countmem://bench/run")
w = add.__self__
step = 0
for _ in range(flushes):
    for _ in range(per_flush):
        add("loss", step * 0.5, step)
        step += 1
    w.flush()
close()
final = sum(f.getbuffer().nbytes for p, f in CountingFS.store.items() if "tfevents" in p)
print(json.dumps(dict(uploaded=uploaded[0], final=final)))
"""

RSS = """
import json, os, sys, tempfile, time
import tblog
n = int(sys.argv[1])
page = os.sysconf("SC_PAGE_SIZE")
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page / 2**20
w = tblog.SummaryWriter(tempfile.mkdtemp())
q = w.writer._queue
limit = w.writer._max_pending
add = w.add_scalar
marks, max_q = [], 0
chunk = n // 10
t = time.perf_counter()
for k in range(10):
    base = k * chunk
    for i in range(base, base + chunk):
        add("loss", 0.5, i)
        if not i & 1023:
            max_q = max(max_q, len(q))
    marks.append(rss_mb())
w.close()
print(json.dumps(dict(marks=marks, max_q=max_q, limit=limit, s=time.perf_counter() - t)))
"""


def _writers() -> list[str]:
    return [name for name in WRITERS if installed(MODULES[name])]


def bench_scalars(n_ours: int, n_anchor: int) -> str:
    rows, results = [], {}
    for name in _writers():
        n = n_ours if name.startswith("tblog") else n_anchor
        if name == "tf.summary":
            n = max(1000, n // 4)
        results[name] = r = run_snippet(SCALARS.format(writer=WRITERS[name]), str(n))
        rows.append([name, n, round(r["rate"]), r["cpu_us"], r["p50_us"]])
    ours = results["tblog"]
    for row in rows:
        r = results[row[0]]
        row += [ratio(ours["rate"], r["rate"]), ratio(r["cpu_us"], ours["cpu_us"])]
    return table(
        "add_scalar: throughput including close(), 4 tags interleaved (best of 3)",
        [
            "writer",
            "scalars",
            "scalars/s",
            "CPU us/scalar",
            "caller p50 us",
            "tblog speed-up",
            "tblog CPU saving",
        ],
        rows,
    )


def bench_histogram() -> str:
    rows, results = [], {}
    cases: list[tuple[str, str, str]] = [("tblog", "tblog (numpy input)", "numpy")]
    if installed("torch"):
        cases += [
            ("tblog", "tblog (torch input)", "torch"),
            ("torch.utils.tensorboard", "torch.utils.tensorboard", "torch"),
        ]
    if installed("tensorboardX"):
        cases.append(("tensorboardX", "tensorboardX", "numpy"))
    if installed("tensorflow"):
        cases.append(("tf.summary", "tf.summary (30 buckets)", "tf"))
    for writer, label, kind in cases:
        results[label] = r = run_snippet(HISTOGRAM.format(writer=WRITERS[writer]), kind)
        rows.append([label, r["ms"], r["peak_mb"], r["peak_mb"] / r["input_mb"]])
    ours = results["tblog (numpy input)"]["ms"]
    for row in rows:
        row.append("-" if row[0].startswith("tblog") else ratio(row[1], ours))
    return table(
        "add_histogram: 10M float32 values (median of 5; peak = extra traced memory)",
        ["writer", "ms/call", "extra peak MB", "peak / input", "tblog speed-up"],
        rows,
    )


def bench_mixed(steps: int) -> str:
    rows, results = [], {}
    for name in _writers():
        if name == "tf.summary":
            continue  # its histograms are a different kind (30 buckets): not the same work
        results[name] = r = run_snippet(MIXED.format(writer=WRITERS[name]), str(steps))
        rows.append([name, steps, r["step_us"]])
    ours = results["tblog"]["step_us"]
    for row in rows:
        row.append(ratio(row[2], ours))
    return table(
        "a training loop's logging: 2 add_scalar + 1 add_histogram (1,000 values) per step, "
        "including close() (best of 3)",
        ["writer", "steps", "us/step", "tblog speed-up"],
        rows,
    )


def bench_import() -> str:
    rows, results = [], {}
    for name in _writers():
        if name not in IMPORT_CODE:
            continue  # another style of a writer already measured
        results[name] = r = run_snippet(IMPORT, IMPORT_CODE[name])
        rows.append([name, r["wall"], r["cpu"], r["wall"] - r["base_wall"]])
    ours = results["tblog"]["wall"]
    for row in rows:
        row.append(ratio(row[1], ours))
    base = next(iter(results.values()))
    return table(
        f"import + create a writer, fresh interpreter (best of 3; bare interpreter "
        f"{base['base_wall']:.3f} s)",
        ["writer", "wall s", "CPU s", "wall s minus bare python", "tblog speed-up"],
        rows,
    )


def bench_remote(flushes: int, per_flush: int) -> str:
    rows = []
    names = ["tblog"] + (["torch.utils.tensorboard"] if installed("torch") else [])
    for name in names:
        r = run_snippet(REMOTE.format(writer=WRITERS[name]), name, str(flushes), str(per_flush))
        rows.append([name, r["uploaded"], r["final"], f"{r['uploaded'] / max(1, r['final']):,.2f}"])
    return table(
        f"fsspec memory:// store, {flushes} flushes of {per_flush} scalars: bytes written",
        ["writer", "bytes written", "final bytes", "written / final"],
        rows,
    )


def bench_rss(n: int) -> str:
    r = run_snippet(RSS, str(n))
    marks = r["marks"]
    rows = [[f"{(k + 1) * n // 10:,}", mb] for k, mb in enumerate(marks)]
    title = (
        f"RSS while logging {n:,} scalars ({r['s']:.1f} s): max queue {r['max_q']:,} "
        f"items (bound {r['limit']:,}); growth after the first tenth "
        f"{marks[-1] - marks[0]:+.1f} MB"
    )
    return table(title, ["scalars logged", "RSS MB"], rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    args = parser.parse_args(argv)
    quick = args.quick
    print(f"## Core writer ({machine()})\n")
    sections: list[Any] = [
        lambda: bench_scalars(200_000 if quick else 1_000_000, 20_000 if quick else 100_000),
        bench_histogram,
        lambda: bench_mixed(2_000 if quick else 10_000),
        bench_import,
        lambda: bench_remote(100, 100),  # torch re-uploads the file per record: keep it small
        lambda: bench_rss(1_000_000 if quick else 10_000_000),
    ]
    for section in sections:
        try:
            print(section(), flush=True)
        except Exception as exc:  # noqa: BLE001 - keep printing the other tables
            print(f"(benchmark failed: {exc})\n", flush=True)


if __name__ == "__main__":
    main()
