"""``TensorBoardCallback(per_rank=True)`` under a 2-process CPU Trainer (gloo, set up by the
Trainer from ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_*``): both processes write into
one directory (process zero's default name, sent to the other), each into its own run
``rank_<r>`` with the ``train/loss`` points of every step, process zero also the main run;
read back with TensorBoard's loaders."""

from __future__ import annotations

import os

import pytest
import tb
from paths import SUPPORT
from ranks import run_ranks

pytestmark = pytest.mark.slow  # a multi-process Trainer

STEPS = 4

TRAIN = f"""
sys.path.insert(0, sys.argv[3])
import torch.distributed as dist
import hf_workloads
from tblog.integrations.transformers import TensorBoardCallback

hf_workloads.MAX_STEPS = {STEPS}
callback = TensorBoardCallback(per_rank=True)
trainer = hf_workloads.trainer(sys.argv[2], [callback], ddp_backend="gloo")
trainer.train()
report({{"logdir": callback.logging_dir, "world": dist.get_world_size(), "rank": dist.get_rank()}})
"""


def test_each_process_writes_its_rank_run(tmp_path, monkeypatch):
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    out = tmp_path / "trainer"
    support = str(SUPPORT)
    world = 2
    codes, outputs, reports = run_ranks(TRAIN, world, tmp_path / "out", str(out), support)
    assert codes == [0] * world, outputs
    assert [reports[r]["rank"] for r in range(world)] == list(range(world))
    assert {reports[r]["world"] for r in range(world)} == {world}
    logdirs = {reports[r]["logdir"] for r in range(world)}
    assert len(logdirs) == 1, logdirs  # one directory for all processes
    logdir = logdirs.pop()
    assert os.path.dirname(logdir) == str(out / "runs")
    assert sorted(os.listdir(out / "runs")) == [os.path.basename(logdir)]
    got = tb.mux_scalars(logdir)
    loss = {run: points for (run, tag), points in got.items() if tag == "train/loss"}
    assert set(loss) == {".", "rank_0", "rank_1"}
    for run, points in loss.items():
        assert [s for s, _ in points] == list(range(1, STEPS + 1)), run
    assert loss["."] == loss["rank_0"]
    # the args and model config are process zero's, in the main run only
    assert "args/text_summary" in tb.plugin_tags(logdir, "text")
    with pytest.raises(KeyError, match="text"):  # rank 1's run has no text at all
        tb.plugin_tags(os.path.join(logdir, "rank_1"), "text")
