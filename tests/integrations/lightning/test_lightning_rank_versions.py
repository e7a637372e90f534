"""``TBLogger(per_rank=True)`` without ``version=``: every rank writes into the version rank
0 chose, whichever rank opens its run first, on a gloo group of CPU processes (no Trainer:
the orders below are the ones a Trainer's ranks can take). Read back with TensorBoard's
loaders."""

from __future__ import annotations

import os

import pytest
import tb
from ranks import run_ranks

pytestmark = pytest.mark.slow  # process groups

OPEN_IN_ORDER = """
import torch.distributed as dist, tblog
save_dir, first = sys.argv[2], sys.argv[3]
dist.init_process_group("gloo")
# two loggers on one root: rank 0 claims one version for each
loggers = [tblog.TBLogger(save_dir, per_rank=True) for _ in range(2)]
me_first = (rank == 0) == (first == "zero")
if not me_first:
    if first == "zero":
        dist.barrier()  # rank 0 has claimed both versions
    else:
        wait_for(os.path.join(out, "others_opening"))
for logger in loggers:
    if me_first and first == "others" and rank == world - 1:
        open(os.path.join(out, "others_opening"), "w").close()
    logger.log_metrics({"rank/id": 100 * rank + loggers.index(logger)}, step=rank)
if me_first and first == "zero":
    dist.barrier()
report({"log_dirs": [l.log_dir for l in loggers], "versions": [l.version for l in loggers]})
for logger in loggers:
    logger.finalize("success")
dist.destroy_process_group()
"""


@pytest.mark.parametrize("first", ["zero", "others"])
def test_every_rank_writes_into_rank_zeros_version(tmp_path, first):
    save_dir = tmp_path / "logs"
    (save_dir / "lightning_logs" / "version_0").mkdir(parents=True)  # an earlier run
    world = 3
    codes, outputs, reports = run_ranks(
        OPEN_IN_ORDER, world, tmp_path / "out", str(save_dir), first
    )
    assert codes == [0] * world, outputs
    assert [reports[r]["versions"] for r in range(world)] == [[1, 2]] * world, outputs
    root = save_dir / "lightning_logs"
    assert sorted(os.listdir(root)) == ["version_0", "version_1", "version_2"]
    for i, version in enumerate(["version_1", "version_2"]):
        runs = tb.mux_scalars(str(root / version))
        expected = {(".", "rank/id"): [(0, float(i))]}
        for r in range(world):
            expected[(f"rank_{r}", "rank/id")] = [(r, float(100 * r + i))]
        assert runs == expected


OPEN_BEFORE_GROUP = """
import torch, torch.distributed as dist, tblog
save_dir = sys.argv[2]
logger = tblog.TBLogger(save_dir, per_rank=True)
if rank == 0:
    claimed = logger.version  # claims version_0 before any process group exists
    open(os.path.join(out, "claimed"), "w").close()
else:
    wait_for(os.path.join(out, "claimed"))
    # opened before the group: a guess (version_1, past rank 0's claim), logged into
    logger.log_metrics({"early": 1.0}, step=0)
    guessed = logger.version
dist.init_process_group("gloo")
logger.log_metrics({"late": 2.0}, step=1)
logger.log_graph(torch.nn.Linear(2, 2))  # the Trainer calls it on every rank
logger.log_metrics({"after": 3.0}, step=2)
report({"version": logger.version, "guessed": None if rank == 0 else guessed})
logger.finalize("success")
dist.destroy_process_group()
"""


def test_a_run_opened_before_the_group_moves_to_rank_zeros_version(tmp_path):
    save_dir = tmp_path / "logs"
    world = 2
    codes, outputs, reports = run_ranks(OPEN_BEFORE_GROUP, world, tmp_path / "out", str(save_dir))
    assert codes == [0] * world, outputs
    assert reports[1]["guessed"] == 1  # the situation this test is about
    assert reports[0]["version"] == reports[1]["version"] == 0
    root = save_dir / "lightning_logs"
    assert os.listdir(root) == ["version_0"]  # the guessed directory is gone
    runs = tb.mux_scalars(str(root / "version_0"))
    # rank 1's points logged under its guess came along
    assert {tag: runs[("rank_1", tag)] for tag in ("early", "late", "after")} == {
        "early": [(0, 1.0)],
        "late": [(1, 2.0)],
        "after": [(2, 3.0)],
    }
    assert runs[(".", "late")] == [(1, 2.0)]
    assert ("rank_1", "early") in runs and (".", "early") not in runs
