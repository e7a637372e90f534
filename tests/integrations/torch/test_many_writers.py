"""Many writers on one log dir (``rank_zero_only=False``, what users do without
``per_rank``): 4 processes open a writer on the same empty directory at once and lose
nothing (TensorBoard's loader sees every point of every process)."""

from __future__ import annotations

import pytest
import tb
from ranks import run_ranks

pytestmark = pytest.mark.slow  # 4 processes

MANY = """
import tblog
open(os.path.join(out, f"ready_{rank}"), "w").close()
for other in range(world):  # a barrier: every writer opens the empty directory at once
    wait_for(os.path.join(out, f"ready_{other}"))
w = tblog.SummaryWriter(sys.argv[2], rank_zero_only=False, flush_secs=1)
for step in range(50):
    w.add_scalar("shared", 1000.0 * rank + step, step)
    w.add_scalar(f"own/{rank}", float(step), step)
w.close()
report({"ok": True})
"""


@pytest.mark.parametrize("trial", range(3))
def test_four_processes_on_one_dir_lose_nothing(tmp_path, trial):
    logdir = tmp_path / "logs"
    codes, outputs, _ = run_ranks(MANY, 4, tmp_path / "out", str(logdir))
    assert codes == [0] * 4, outputs
    got = tb.mux_scalars(str(logdir))
    shared = sorted(v for _, v in got[(".", "shared")])
    assert shared == sorted(1000.0 * r + s for r in range(4) for s in range(50))
    for r in range(4):
        assert got[(".", f"own/{r}")] == [(s, float(s)) for s in range(50)]
