"""Module hooks: ``tblog.integrations.torch.watch`` vs logging the same by hand with
``torch.utils.tensorboard``.

A 6-layer MLP (512 wide, 1.6M parameters) trains on the CPU; every step logs a histogram of
each parameter, each gradient and each layer's output (``watch(model, writer, log="all",
log_freq=1)``), which by hand is a loop of ``add_histogram`` calls over
``named_parameters`` after ``backward`` plus forward hooks for the outputs. The table gives
the logging overhead per step (step time minus the same step without logging), median of
steps, each variant in a fresh interpreter.

Usage: ``python benchmarks/bench_watch.py [--quick]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import installed, machine, ratio, run_snippet, table

SNIPPET = """
import json, statistics, sys, tempfile, time
import torch
kind, steps = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
torch.set_num_threads(1)
model = torch.nn.Sequential(*[torch.nn.Linear(512, 512) for _ in range(6)])
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
x = torch.randn(64, 512)
logdir = tempfile.mkdtemp()
outputs = {}
if kind == "tblog":
    import tblog
    from tblog.integrations.torch import watch
    writer = tblog.SummaryWriter(logdir)
    watch(model, writer, log="all", log_freq=1)
elif kind == "torch.utils.tensorboard":
    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter(logdir)
    for name, module in model.named_children():
        module.register_forward_hook(
            lambda m, i, o, name=name: outputs.__setitem__(name, o.detach()))

def step(i):
    loss = model(x).square().mean()
    opt.zero_grad()
    loss.backward()
    if kind == "torch.utils.tensorboard":
        for name, p in model.named_parameters():
            writer.add_histogram(f"parameters/{name}", p, i)
            writer.add_histogram(f"gradients/{name}", p.grad, i)
        for name, out in outputs.items():
            writer.add_histogram(f"activations/{name}", out, i)
    opt.step()

for i in range(3):
    step(i)
times = []
for i in range(3, 3 + steps):
    t = time.perf_counter()
    step(i)
    times.append(time.perf_counter() - t)
if kind != "plain":
    writer.close()
print(json.dumps({"step_ms": statistics.median(times) * 1e3}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    args = parser.parse_args(argv)
    steps = 10 if args.quick else 40
    kinds = ["plain", "tblog"]
    if installed("torch.utils.tensorboard") and installed("tensorboard"):
        kinds.append("torch.utils.tensorboard")
    step_ms = {kind: run_snippet(SNIPPET, kind, str(steps))["step_ms"] for kind in kinds}
    plain = step_ms["plain"]
    overhead = {kind: step_ms[kind] - plain for kind in kinds if kind != "plain"}
    rows = [["no logging", step_ms["plain"], "-", "-"]]
    for kind in overhead:
        label = "tblog watch(log='all')" if kind == "tblog" else f"{kind}, by hand"
        rows.append(
            [label, step_ms[kind], overhead[kind], ratio(overhead[kind], overhead["tblog"])]
        )
    print(f"## Module hooks ({machine()})\n")
    print(
        table(
            f"CPU training step of a 6 x Linear(512, 512) MLP, 30 histograms per step "
            f"(median of {steps} steps)",
            ["logging", "step ms", "logging overhead ms", "tblog speed-up"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
