"""watch() after a checkpoint resume continues its steps: a training killed after its
checkpoint of step 4 and resumed from it shows TensorBoard exactly the points an
uninterrupted run shows (one per logging step, the same values), where watch used to start
counting at 0 again (a second point at steps 0, 2, ... and none after the resume)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import tb
from paths import SRC, pythonpath

pytest.importorskip("torch")

TRAIN = r"""
import os, sys
import torch
from torch import nn
import tblog
from tblog.integrations.torch import watch

logdir, ckpt, kill_at, explicit = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
g = torch.Generator().manual_seed(1)
data = [(torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)) for _ in range(10)]
writer = tblog.SummaryWriter(logdir)
manager = tblog.CheckpointManager(ckpt, writer=writer)
start = 0
restored = manager.restore()
if restored is not None:
    step, state = restored
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    start = step + 1
if explicit == "explicit":
    watch(model, writer, log="parameters", log_freq=2, start_step=start)
else:
    watch(model, writer, log="parameters", log_freq=2)
for step in range(start, 10):
    x, y = data[step]
    loss = ((model(x) - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    writer.add_scalar("loss", loss.item(), step)
    if step % 4 == 0:
        manager.save(step, {"model": model.state_dict(), "opt": opt.state_dict()})
    if step == kill_at:
        writer.flush()
        os._exit(9)  # killed: no close, no unwatch
writer.close()
"""


def _train(tmp_path, name, kill_at, how="default"):
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    args = [str(tmp_path / name), str(tmp_path / f"{name}-ckpt"), str(kill_at), how]
    env = {**os.environ, "PYTHONPATH": pythonpath(SRC)}
    out = subprocess.run(
        [sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == (9 if kill_at >= 0 else 0), out.stderr[-3000:]


def _view(logdir):
    """Scalars (the watch norms among them) and histogram steps, as TensorBoard shows them."""
    mux = tb.multiplexer(str(logdir))
    hist = {
        tag: [e.step for e in mux.Tensors(run, tag)]
        for run, tags in mux.PluginRunToTagToContent("histograms").items()
        for tag in tags
    }
    return tb.mux_scalars(str(logdir)), hist


@pytest.mark.slow
@pytest.mark.parametrize("how", ["default", "explicit"])
def test_watch_continues_after_kill_and_resume(tmp_path, how):
    _train(tmp_path, "reference", -1, how)
    _train(tmp_path, "resumed", 6, how)  # killed at step 6, after the checkpoint of step 4
    _train(tmp_path, "resumed", -1, how)  # resumes from step 4
    ours, ref = _view(tmp_path / "resumed"), _view(tmp_path / "reference")
    norms = {k: v for k, v in ref[0].items() if k[1].startswith("parameters_norm/")}
    assert norms and all([s for s, _ in v] == [0, 2, 4, 6, 8] for v in norms.values())
    for key, points in norms.items():
        assert [s for s, _ in ours[0][key]] == [s for s, _ in points], key
        assert [v for _, v in ours[0][key]] == pytest.approx([v for _, v in points], rel=1e-5)
    assert ref[1] and ours[1] == ref[1]


def test_watch_starts_after_the_restored_step(tmp_path):
    """In one process: after ``CheckpointRecorder.restored(9)`` the next training forward
    call is step 10 (``start_step`` overrides; a negative one is refused)."""
    import torch
    from torch import nn

    import tblog
    from tblog.checkpoint.recorder import CheckpointRecorder
    from tblog.integrations.torch import unwatch, watch

    model = nn.Linear(2, 1)
    w = tblog.SummaryWriter(str(tmp_path))
    with pytest.raises(ValueError, match="start_step"):
        watch(model, w, start_step=-1)
    CheckpointRecorder(w).restored(9, "ckpt-9")
    assert w.restored_step == 9
    watch(model, w, log="parameters", log_freq=5)
    for _ in range(6):  # steps 10..15: logging steps 10 and 15
        model(torch.zeros(1, 2))
    unwatch(model)
    watch(model, w, log="parameters", log_freq=5, start_step=20)
    model(torch.zeros(1, 2))
    unwatch(model)
    w.close()
    steps = [s for s, _ in tb.scalar_series(str(tmp_path), "parameters_norm/weight")]
    assert steps == [10, 15, 20]
