"""Cross-rank reductions (``add_scalar``/``log_metrics`` with ``reduce=``) on a gloo group of
CPU processes: values against the ones computed by hand, read back with TensorBoard's
loaders; a slow rank does not hold the others' calls; a dead rank is a clear error."""

from __future__ import annotations

import os

import pytest
import tb
from ranks import run_ranks

import tblog
from tblog.writer.distributed import ReduceError, rank_run

# The value rank r logs for tag t at step s (the scripts compute the same).
OPS = ("mean", "sum", "min", "max")


def value(rank: int, step: int, op: str) -> float:
    return (rank + 1) * (step + 1) * (OPS.index(op) + 1) + 0.25 * rank


def by_hand(op: str, values: list[float]) -> float:
    return {"mean": sum(values) / len(values), "sum": sum(values), "min": min(values)}.get(
        op, max(values)
    )


def test_without_a_process_group_reduce_is_the_identity(tmp_path):
    with tblog.SummaryWriter(tmp_path) as w:
        w.add_scalar("a", 2.5, 0, reduce="mean")
        w.log_metrics({"b": 3, "c": {"x": 1.5}}, 1, reduce="max")
        with pytest.raises(ValueError, match="reduce must be one of"):
            w.add_scalar("a", 1.0, 1, reduce="median")
    got = tb.mux_scalars(str(tmp_path))
    assert got == {(".", "a"): [(0, 2.5)], (".", "b"): [(1, 3.0)], ("c_x", "c"): [(1, 1.5)]}


def test_rank_run_names_sort():
    assert [rank_run(r, 12) for r in (0, 9, 11)] == ["rank_00", "rank_09", "rank_11"]
    assert [rank_run(r, 10) for r in (0, 9)] == ["rank_0", "rank_9"]
    assert rank_run(0, 1) == "rank_0"
    assert rank_run(100, 101) == "rank_100"


REDUCE = """
import torch, torch.distributed as dist, tblog
OPS = ("mean", "sum", "min", "max")
def value(rank, step, op):
    return (rank + 1) * (step + 1) * (OPS.index(op) + 1) + 0.25 * rank
dist.init_process_group("gloo")
w = tblog.SummaryWriter(sys.argv[2])  # rank_zero_only: only rank 0 writes
for step in range(3):
    for op in OPS:
        w.add_scalar(f"scalar/{op}", torch.tensor(value(rank, step, op)), step, reduce=op)
    w.log_metrics({f"metric/{op}": value(rank, step, op) for op in OPS}, step, reduce="sum")
    w.add_scalar("plain", float(rank), step)
w.close()
report({"writer": w.writer is not None})
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_reductions_against_values_by_hand(tmp_path):
    logdir = tmp_path / "logs"
    codes, outputs, reports = run_ranks(REDUCE, 3, tmp_path / "out", str(logdir))
    assert codes == [0, 0, 0], outputs
    assert [reports[r]["writer"] for r in range(3)] == [True, False, False]
    got = tb.mux_scalars(str(logdir))
    expected = {(".", "plain"): [(s, 0.0) for s in range(3)]}
    for op in OPS:
        expected[(".", f"scalar/{op}")] = [
            (s, by_hand(op, [value(r, s, op) for r in range(3)])) for s in range(3)
        ]
        expected[(".", f"metric/{op}")] = [
            (s, sum(value(r, s, op) for r in range(3))) for s in range(3)
        ]
    assert got.keys() == expected.keys()
    for key, series in expected.items():
        assert [s for s, _ in got[key]] == [s for s, _ in series], key
        assert [v for _, v in got[key]] == pytest.approx([v for _, v in series], rel=1e-6), key
    assert os.listdir(logdir) == [n for n in os.listdir(logdir) if "tfevents" in n]


SLOW = """
import torch, torch.distributed as dist, tblog
dist.init_process_group("gloo")
w = tblog.SummaryWriter(sys.argv[2], per_rank=True)
for step in range(2):
    if rank == world - 1:
        # the slow rank issues its collective only once every other rank's call returned
        for other in range(world - 1):
            wait_for(os.path.join(out, f"returned_{other}_{step}"))
    w.add_scalar("loss", torch.tensor(float(rank + 10 * step)), step, reduce="mean")
    open(os.path.join(out, f"returned_{rank}_{step}"), "w").close()
w.close()
report({"ok": True})
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_a_slow_rank_does_not_hold_the_others_calls(tmp_path):
    logdir = tmp_path / "logs"
    codes, outputs, reports = run_ranks(SLOW, 3, tmp_path / "out", str(logdir))
    assert codes == [0, 0, 0], (outputs, reports)
    got = tb.mux_scalars(str(logdir))
    assert got[(".", "loss")] == [(0, 1.0), (1, 11.0)]
    for r in range(3):
        assert got[(f"rank_{r}", "loss")] == [(0, float(r)), (1, float(r + 10))]


DEAD = """
import torch, torch.distributed as dist, tblog
from tblog.writer.distributed import ReduceError
dist.init_process_group("gloo")
w = tblog.SummaryWriter(sys.argv[2], reduce_timeout=5)
w.add_scalar("ok", float(rank), 0, reduce="sum")
dist.barrier()
if rank == 1:
    os._exit(0)  # dies before its next collective
errors = []
try:
    w.add_scalar("lost", 1.0, 7, reduce="mean")
    for step in range(8, 10):
        time.sleep(0.5)
        w.add_scalar("later", 1.0, step)
except ReduceError as exc:
    errors.append(str(exc))
try:
    w.close()
except ReduceError as exc:
    errors.append(str(exc))
report({"errors": errors})
os._exit(0)  # the group cannot be torn down with a dead rank
"""


@pytest.mark.slow
def test_a_dead_rank_is_a_clear_error_within_the_timeout(tmp_path):
    logdir = tmp_path / "logs"
    codes, outputs, reports = run_ranks(DEAD, 3, tmp_path / "out", str(logdir), timeout=120)
    assert codes == [0, 0, 0], outputs
    for rank in (0, 2):
        errors = reports[rank]["errors"]
        assert errors, (rank, outputs[rank])
        assert "reduce='mean' of 'lost' at step 7" in errors[0]
    # what completed before the death is written
    assert tb.mux_scalars(str(logdir))[(".", "ok")] == [(0, 3.0)]


def test_reduce_error_is_a_runtime_error():
    assert issubclass(ReduceError, RuntimeError)
