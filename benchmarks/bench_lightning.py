"""Lightning logger cost: ``TensorBoardLogger`` vs ``tblog.TBLogger``.

Each call logs 4 metrics, two Python floats and two one-element tensors, as
``logger.log_metrics(metrics, step)``; a second row adds ``logger.save()``, which the
Trainer calls after every ``log_metrics``. Times are the median per call, each logger in
its own fresh interpreter; the mean includes the occasional slow call (a flush, a
file write) that the median hides. ``--device cuda`` puts the tensors on the GPU and adds a row
where a matrix product is still running when the metrics are logged (a training step's
kernels in flight): reading a tensor on the calling thread (``.item()``) waits for it.

Usage: ``python benchmarks/bench_lightning.py [--quick] [--device cpu|cuda] [--calls N]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import ENV, fmt, machine, ratio, run_snippet, table

SNIPPET = """
import json, statistics, sys, tempfile, time
import torch
kind, device, calls, save, busy, floats = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                          sys.argv[4] == "1", sys.argv[5] == "1", sys.argv[7] == "1")
if kind == "anchor":
    from lightning.pytorch.loggers import TensorBoardLogger as Logger
else:
    sys.path.insert(0, sys.argv[6])
    from tblog import TBLogger as Logger
logger = Logger(tempfile.mkdtemp())
dev = torch.device(device)
cuda = dev.type == "cuda"
loss = 0.5 if floats else torch.tensor(0.5, device=dev)
acc = 0.9 if floats else torch.tensor(0.9, device=dev)
work = torch.randn(8192, 8192, device=dev) if busy else None
for i in range(100):  # warm up: writer thread, file, tag caches
    logger.log_metrics({"lr": 0.1, "epoch": 0.0, "loss": loss, "acc": acc}, i)
    if save:
        logger.save()
if cuda:
    torch.cuda.synchronize()
times = []
for i in range(calls):
    metrics = {"lr": 0.1, "epoch": float(i), "loss": loss, "acc": acc}
    if busy:
        work @ work  # queued; still running when the metrics are logged
    t0 = time.perf_counter()
    logger.log_metrics(metrics, 100 + i)
    if save:
        logger.save()
    times.append(time.perf_counter() - t0)
    if cuda:
        torch.cuda.synchronize()  # outside the timing: the step ends
logger.finalize("success")
print(json.dumps({"median_us": statistics.median(times) * 1e6,
                  "mean_us": statistics.fmean(times) * 1e6}))
"""


def measure(
    kind: str, device: str, calls: int, save: bool, busy: bool, floats: bool
) -> tuple[float, float]:
    """(median, mean) microseconds per call of one logger, in a fresh interpreter."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    flags = [str(int(save)), str(int(busy)), src, str(int(floats))]
    out = run_snippet(SNIPPET, kind, device, str(calls), *flags)
    return float(out["median_us"]), float(out["mean_us"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--calls", type=int, default=None, help="timed calls per row")
    args = parser.parse_args(argv)
    calls = args.calls or (300 if args.quick else 3000)
    if args.device == "cuda":
        ENV.pop("CUDA_VISIBLE_DEVICES", None)
    dev = args.device
    cases = [
        ("log_metrics", "2 floats + 2 tensors", False, False, False),
        ("log_metrics + save", "2 floats + 2 tensors", True, False, False),
        ("log_metrics", "4 floats (as the Trainer passes)", False, False, True),
        ("log_metrics + save", "4 floats (as the Trainer passes)", True, False, True),
    ]
    if dev == "cuda":
        cases.append(("log_metrics, GPU busy", "2 floats + 2 tensors", False, True, False))
    rows = []
    for label, values, save, busy, floats in cases:
        calls_here = min(calls, 200) if busy else calls
        (a_med, a_mean), (o_med, o_mean) = (
            measure(kind, dev, calls_here, save, busy, floats) for kind in ("anchor", "tblog")
        )
        rows.append(
            [
                label,
                values,
                calls_here,
                f"{fmt(a_med)} / {fmt(a_mean)}",
                f"{fmt(o_med)} / {fmt(o_mean)}",
                ratio(a_med, o_med),
                ratio(a_mean, o_mean),
            ]
        )
    print(
        table(
            f"Lightning loggers, µs per call (median / mean), tensors on {dev} ({machine()})",
            [
                "call",
                "metrics",
                "calls",
                "TensorBoardLogger",
                "TBLogger",
                "faster (median)",
                "faster (mean)",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
