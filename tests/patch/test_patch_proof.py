"""The proof of patch mode, applied as a user applies it (``python -m tblog run script``):
small seeded workloads (stable-baselines3's PPO on CartPole with ``tensorboard_log=``, plain
``torch.utils.tensorboard`` code, tensorboardX code) show TensorBoard the same runs, tags,
steps and values with and without tblog (wall times and event file names aside)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import tb
from google.protobuf import json_format
from lightning_logs import session_groups
from paths import SRC, pythonpath

pytestmark = pytest.mark.slow

SB3 = """
import sys
from stable_baselines3 import PPO
model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, n_epochs=2, seed=0,
            device="cpu", policy_kwargs={"net_arch": [16]}, tensorboard_log=sys.argv[1])
model.learn(total_timesteps=256)
writer = next(f.writer for f in model.logger.output_formats if hasattr(f, "writer"))
print("WRITER", type(writer).__module__)
model.logger.close()
"""

TORCH = """
import sys
import numpy as np
from torch.utils.tensorboard import SummaryWriter
rng = np.random.default_rng(0)
w = SummaryWriter(sys.argv[1])
print("WRITER", type(w).__module__)
for step in range(5):
    w.add_scalar("train/loss", 1.0 / (step + 1), step)
    w.add_scalar("train/new", step * 0.5, step, new_style=True)
    w.add_scalars("pair", {"a": step, "b": -step}, step)
    w.add_histogram("weights", rng.normal(size=200), step)
    w.add_image("img", rng.random((3, 8, 8)), step)
w.add_text("note", "hello", 0)
w.add_hparams({"lr": 0.1, "shuffle": True, "opt": "sgd"}, {"hp/acc": 0.5},
              run_name="hp", global_step=4)
w.close()
"""

TBX = """
import sys
import numpy as np
from tensorboardX import SummaryWriter
rng = np.random.default_rng(0)
w = SummaryWriter(sys.argv[1])
print("WRITER", type(w).__module__)
for step in range(5):
    w.add_scalar("train/loss", 1.0 / (step + 1), step)
    w.add_scalars("pair", {"a": step, "b": -step}, step)
    w.add_histogram("weights", rng.normal(size=200), step)
    w.add_image("img", rng.random((3, 8, 8)), step)
w.add_text("note", "hello", 0)
w.add_hparams({"lr": 0.1, "shuffle": True, "opt": "sgd"}, {"hp/acc": 0.5}, name="hp",
              global_step=4)
w.close()
"""

PLUGINS = ("scalars", "histograms", "images", "text", "hparams")
IGNORED_TAGS = ("time/fps",)  # frames per second: a wall-time measure


def _run(tmp_path, source, name, patched):
    script = tmp_path / f"{name}_workload.py"  # not torch.py: it would shadow torch
    script.write_text(textwrap.dedent(source))
    logdir = tmp_path / ("patched" if patched else "plain") / name
    cmd = [sys.executable, *(["-m", "tblog", "run"] if patched else []), str(script), str(logdir)]
    env = {**os.environ, "PYTHONPATH": pythonpath(SRC)}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    module = out.stdout.split("WRITER ")[1].split()[0]
    assert module.startswith("tblog.") == patched, module  # the patch did (not) apply
    return logdir


def _view(logdir):
    """What TensorBoard shows: ``{(plugin, run, tag): [(step, value)]}`` (scalar values;
    histograms as float32 lists; image and text steps) and the HParams dashboard."""
    mux = tb.multiplexer(str(logdir))
    out = {}
    for plugin in PLUGINS:
        for run, tags in mux.PluginRunToTagToContent(plugin).items():
            for tag in tags:
                if tag in IGNORED_TAGS:
                    continue
                points = []
                for e in mux.Tensors(run, tag):
                    value = tb.array(e)
                    if plugin == "scalars":
                        points.append((e.step, pytest.approx(float(value.item()), rel=1e-6)))
                    elif plugin == "histograms":
                        points.append((e.step, value.astype("float32").tolist()))
                    else:
                        points.append((e.step, value.shape[-1:] if plugin == "images" else None))
                out[(plugin, run, tag)] = points
    groups = [
        {k: (v.WhichOneof("kind"), json_format.MessageToDict(v)) for k, v in g.hparams.items()}
        for g in session_groups(str(logdir)).session_groups
    ]
    return out, groups


@pytest.mark.parametrize(
    "name, source",
    [("sb3", SB3), ("torch", TORCH), ("tbx", TBX)],
    ids=["stable-baselines3-ppo", "torch", "tensorboardX"],
)
def test_same_dashboard_with_and_without_the_patch(tmp_path, name, source):
    if name == "sb3":
        pytest.importorskip("stable_baselines3")
    if name == "tbx":
        pytest.importorskip("tensorboardX")
    pytest.importorskip("torch")
    plain = _view(_run(tmp_path, source, name, patched=False))
    ours = _view(_run(tmp_path, source, name, patched=True))
    assert plain[0], "the workload logged nothing"
    assert ours[0].keys() == plain[0].keys()
    for key, points in plain[0].items():
        assert ours[0][key] == points, key
    assert ours[1] == plain[1]
