"""Cross-rank reductions: the caller's cost per logging call on 2 CPU processes (gloo).

Compares, in one run on the same process group:
1. ``tblog``: ``writer.add_scalar(tag, t, step, reduce="mean")`` (collective issued with
   ``async_op=True``, waited for on the writer thread);
2. ``all_reduce + add_scalar``: ``dist.all_reduce`` on the caller's thread, then
   ``add_scalar`` of the result (what users write by hand);
3. ``Lightning sync_dist``: Lightning's ``_sync_ddp`` (the function behind
   ``self.log(..., sync_dist=True)``: a barrier, then a blocking ``all_reduce``), then
   ``add_scalar``.

Two workloads: "balanced" (the ranks call back to back) and "imbalanced" (before each call
each rank works a random 0..``--work-ms`` ms, as steps of real training differ): a blocking
reduction then waits for the slowest rank at every call. Reported: the caller's time inside
the logging call (both ranks pooled), p50 and mean in microseconds, and the blocking
variants' mean as a multiple of tblog's.

Usage: ``python benchmarks/bench_distributed.py [--quick] [--work-ms 1.0]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import ENV, installed, machine, ratio, table

CHILD = textwrap.dedent(
    """
    import json, os, random, sys, time
    import torch, torch.distributed as dist
    import tblog
    rank = int(os.environ["RANK"]); calls = int(sys.argv[2]); work = float(sys.argv[3]) / 1e3
    dist.init_process_group("gloo")
    world = dist.get_world_size()
    try:
        from lightning.fabric.utilities.distributed import _sync_ddp
    except ImportError:
        _sync_ddp = None
    w = tblog.SummaryWriter(os.path.join(sys.argv[1], "logs"))

    def ours(t, step):
        w.add_scalar("loss", t, step, reduce="mean")

    def by_hand(t, step):
        x = t.clone()
        dist.all_reduce(x)
        w.add_scalar("loss_by_hand", x / world, step)

    def lightning(t, step):
        w.add_scalar("loss_lightning", _sync_ddp(t.clone(), reduce_op="mean"), step)

    variants = {"tblog": ours, "all_reduce + add_scalar": by_hand}
    if _sync_ddp is not None:
        variants["Lightning sync_dist"] = lightning
    rng = random.Random(rank)
    out = {}
    for name, fn in variants.items():
        for workload, spin in (("balanced", 0.0), ("imbalanced", work)):
            dist.barrier()
            costs = []
            for step in range(calls):
                if spin:
                    end = time.perf_counter() + rng.uniform(0, spin)
                    while time.perf_counter() < end:
                        pass
                t = torch.tensor(float(rank + step))
                start = time.perf_counter_ns()
                fn(t, step)
                costs.append(time.perf_counter_ns() - start)
            w.flush()
            out[f"{name}|{workload}"] = costs
    w.close()
    with open(os.path.join(sys.argv[1], f"rank_{rank}.json"), "w") as f:
        json.dump(out, f)
    dist.destroy_process_group()
    """
)


def run(calls: int, work_ms: float) -> dict[str, list[int]]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as d:
        env = dict(ENV, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2")
        env["OMP_NUM_THREADS"] = "1"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, d, str(calls), str(work_ms)],
                env=dict(env, RANK=str(r), LOCAL_RANK=str(r)),
                stderr=subprocess.PIPE,
                text=True,
            )
            for r in range(2)
        ]
        errors = [p.communicate(timeout=1800)[1] for p in procs]
        if any(p.returncode for p in procs):
            raise RuntimeError(f"benchmark ranks failed:\n{errors[0][-2000:]}\n{errors[1][-2000:]}")
        pooled: dict[str, list[int]] = {}
        for r in range(2):
            with open(os.path.join(d, f"rank_{r}.json")) as f:
                for key, costs in json.load(f).items():
                    pooled.setdefault(key, []).extend(costs)
    return pooled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    parser.add_argument("--work-ms", type=float, default=1.0, help="imbalanced: max work/step")
    args = parser.parse_args()
    if not installed("torch"):
        print("torch is not installed: nothing to measure")
        return
    calls = 300 if args.quick else 2000
    pooled = run(calls, args.work_ms)
    print(f"{machine()}; 2 ranks (gloo, CPU), {calls} calls per rank and variant\n")
    for workload in ("balanced", "imbalanced"):
        stats = {}
        for key, costs in pooled.items():
            name, wl = key.split("|")
            if wl == workload:
                ordered = sorted(costs)
                stats[name] = (ordered[len(ordered) // 2] / 1e3, sum(costs) / len(costs) / 1e3)
        ours = stats["tblog"][1]
        rows = [[name, p50, mean, ratio(mean, ours)] for name, (p50, mean) in stats.items()]
        title = f"Caller's cost of a reduced scalar, {workload}"
        if workload == "imbalanced":
            title += f" (0..{args.work_ms:g} ms of work per step)"
        print(table(title, ["variant", "p50 us", "mean us", "mean vs tblog"], rows))


if __name__ == "__main__":
    main()
