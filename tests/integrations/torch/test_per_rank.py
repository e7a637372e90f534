"""``SummaryWriter(per_rank=True)`` on a gloo group of CPU processes: every rank's run
``rank_<r>`` holds exactly what that rank logged (its own values, also of reductions), the
main run what rank 0 logged and the reduced values; read back with TensorBoard's loaders."""

from __future__ import annotations

import pytest
import tb
from ranks import run_ranks

pytestmark = pytest.mark.slow  # process groups

PER_RANK = """
import torch, torch.distributed as dist, tblog
dist.init_process_group("gloo")
w = tblog.SummaryWriter(sys.argv[2], per_rank=True)
for step in range(4):
    w.add_scalar("loss", torch.tensor(100.0 * rank + step), step)
    w.add_scalar("acc", float(rank * step), step, reduce="max")
    w.log_metrics({"lr": 0.5 * (rank + 1), "pair": {"a": rank, "b": -rank}}, step)
w.add_text("note", f"rank {rank}", 0)
w.close()
report({"logdir": w.get_logdir(), "writer": w.writer is not None})
dist.destroy_process_group()
"""


def test_each_rank_run_holds_what_its_rank_logged(tmp_path):
    logdir = tmp_path / "logs"
    world = 3
    codes, outputs, reports = run_ranks(PER_RANK, world, tmp_path / "out", str(logdir))
    assert codes == [0] * world, outputs
    assert all(reports[r] == {"logdir": str(logdir), "writer": True} for r in range(world))
    got = tb.mux_scalars(str(logdir))
    steps = range(4)
    expected = {}
    for prefix, r in [(".", 0)] + [(f"rank_{r}", r) for r in range(world)]:
        sub = "" if prefix == "." else prefix + "/"
        expected[(prefix, "loss")] = [(s, 100.0 * r + s) for s in steps]
        expected[(prefix, "lr")] = [(s, 0.5 * (r + 1)) for s in steps]
        expected[(f"{sub}pair_a", "pair")] = [(s, float(r)) for s in steps]
        expected[(f"{sub}pair_b", "pair")] = [(s, float(-r)) for s in steps]
        # rank runs: the rank's own value; the main run: the reduction
        own = [(s, float(r * s)) for s in steps]
        reduced = [(s, float((world - 1) * s)) for s in steps]
        expected[(prefix, "acc")] = reduced if prefix == "." else own
    assert got == expected
    texts = tb.multiplexer(str(logdir))
    for r in range(world):
        [event] = texts.Tensors(f"rank_{r}", "note/text_summary")
        assert tb.array(event).item() == f"rank {r}".encode()
