"""``TensorBoardTracker(per_rank=True)`` on 2 CPU processes (accelerate's own gloo group,
set up from ``RANK``/``WORLD_SIZE``/``MASTER_*``): ``accelerator.log`` on every process
reaches the tracker, each rank's run ``rank_<r>`` holds what that rank logged and the main
run what the main process logged; read back with TensorBoard's loaders."""

from __future__ import annotations

import pytest
import tb
from ranks import run_ranks

pytestmark = pytest.mark.slow  # process groups

PER_RANK = """
from accelerate import Accelerator
from tblog.integrations.accelerate import TensorBoardTracker

tracker = TensorBoardTracker("run", sys.argv[2], per_rank=True)
accelerator = Accelerator(cpu=True, log_with=tracker)
tracker.attach(accelerator)
accelerator.init_trackers("run", config={"lr": 0.1})
for step in range(1, 5):
    accelerator.log({"loss": 10.0 * accelerator.process_index + step, "note": f"r{rank}"}, step=step)
report({"rank": accelerator.process_index, "world": accelerator.num_processes,
        "started": tracker.writer is not None})
accelerator.end_training()
"""


def test_each_process_writes_its_rank_run(tmp_path):
    logdir = tmp_path / "logs"
    world = 2
    codes, outputs, reports = run_ranks(PER_RANK, world, tmp_path / "out", str(logdir))
    assert codes == [0] * world, outputs
    assert reports == {r: {"rank": r, "world": world, "started": True} for r in range(world)}
    got = tb.mux_scalars(str(logdir / "run"))
    own = {r: [(s, 10.0 * r + s) for s in range(1, 5)] for r in range(world)}
    loss = {run: points for (run, tag), points in got.items() if tag == "loss"}
    assert loss == {".": own[0], "rank_0": own[0], "rank_1": own[1]}
    # the configuration and hparams.yml stay the main process's: in the main run only
    assert (logdir / "run" / "hparams.yml").is_file()
    assert not (logdir / "run" / "rank_1" / "hparams.yml").exists()


def test_attach_needs_per_rank(tmp_path):
    from tblog.integrations.accelerate import TensorBoardTracker

    with pytest.raises(ValueError, match="per_rank"):
        TensorBoardTracker("run", str(tmp_path)).attach(object())
