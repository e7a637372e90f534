"""tblog's accelerate ``TensorBoardTracker`` against accelerate's built-in
``log_with="tensorboard"``: the same runs, tags, steps, values and texts under TensorBoard's
loaders, hparams in the run itself; ``save_state``, SIGKILL, ``load_state``: one point per
step; importing the adapters imports neither library."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import tb
from paths import SUPPORT

import tblog


def _hparams(run_dir: str) -> dict[str, object]:
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = tb.accumulator(run_dir)
    out: dict[str, object] = {}
    for content in acc.PluginTagToContent("hparams").values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.HasField("session_start_info"):
            for key, value in data.session_start_info.hparams.items():
                out[key] = getattr(value, value.WhichOneof("kind"))
    return out


def _texts(run_dir: str) -> dict[str, list[tuple[int, str]]]:
    acc = tb.accumulator(run_dir)
    return {
        tag: [(e.step, tb.array(e).item().decode()) for e in acc.Tensors(tag)]
        for tag in acc.PluginTagToContent("text")
    }


@pytest.mark.slow
def test_same_data_as_accelerate_tensorboard_tracker(tmp_path):
    from accelerate_workload import CONFIG, STEPS, run

    from tblog.integrations.accelerate import TensorBoardTracker

    theirs, ours = str(tmp_path / "theirs"), str(tmp_path / "ours")
    run("tensorboard", theirs)
    tracker = TensorBoardTracker("run", ours)
    accelerator = run(tracker, ours)
    assert accelerator.get_tracker("tensorboard") is tracker
    assert accelerator.get_tracker("tensorboard", unwrap=True) is tracker.writer is not None

    a, b = tb.mux_scalars(theirs), tb.mux_scalars(ours)
    assert sorted(a) == sorted(b)
    assert sorted(a) == [("run", "loss"), ("run/pair_a", "pair"), ("run/pair_b", "pair")]
    for key in a:
        assert [s for s, _ in b[key]] == [s for s, _ in a[key]] == list(range(1, STEPS + 1))
        assert [v for _, v in b[key]] == pytest.approx([v for _, v in a[key]], abs=1e-6), key
    run_a, run_b = os.path.join(theirs, "run"), os.path.join(ours, "run")
    assert _texts(run_b) == _texts(run_a) == {"note/text_summary": [(1, "first step")]}

    # accelerate's hparams land in a sub-run named by the time; ours in the run itself
    [hp_a] = tb.multiplexer(theirs).PluginRunToTagToContent("hparams")
    [hp_b] = tb.multiplexer(ours).PluginRunToTagToContent("hparams")
    assert hp_a.startswith("run/") and hp_b == "run"
    assert _hparams(os.path.join(theirs, hp_a)) == _hparams(run_b) == CONFIG
    assert os.path.isfile(os.path.join(run_b, "hparams.yml"))


@pytest.mark.slow
def test_save_state_sigkill_load_state_one_point_per_step(tmp_path):
    from accelerate_workload import STEPS, run

    from tblog.integrations.accelerate import TensorBoardTracker

    logdir, ckpts = str(tmp_path / "tb"), str(tmp_path / "ckpt")
    env = {**os.environ}
    env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT), env.get("PYTHONPATH", "")])
    child = subprocess.run(
        [sys.executable, str(SUPPORT / "accelerate_workload.py"), logdir, ckpts, "7"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    assert sorted(os.listdir(ckpts)) == ["step_3", "step_6"]
    run_dir = os.path.join(logdir, "run")
    before = tb.scalar_series(run_dir, "loss")
    assert [s for s, _ in before] == list(range(1, 8))  # step 7 is stale once resumed

    run(TensorBoardTracker("run", logdir), logdir, ckpt_root=ckpts, resume_step=6)
    steps = list(range(1, STEPS + 1))
    after = tb.scalar_series(run_dir, "loss")
    assert [s for s, _ in after] == steps
    assert after[:6] == before[:6]
    assert [e.step for e in tb.legacy_accumulator(run_dir).Scalars("loss")] == steps
    frame = tblog.scalars(logdir)
    for run_name, tag in (("run", "loss"), ("run/pair_a", "pair"), ("run/pair_b", "pair")):
        rows = frame[(frame["run"] == run_name) & (frame["tag"] == tag)]
        assert rows["step"].tolist() == steps, run_name
    assert tb.scalar_series(run_dir, "checkpoint/step") == [(3, 3.0), (6, 6.0), (9, 9.0)]
    restored = _texts(run_dir)["checkpoint/restored/text_summary"]
    assert [s for s, _ in restored] == [7] and "step_6" in restored[0][1]


def test_importing_the_adapters_imports_neither_library():
    code = (
        "import sys, tblog, tblog.integrations.transformers, tblog.integrations.accelerate\n"
        "print(sorted(m for m in ('transformers', 'accelerate', 'torch') if m in sys.modules))\n"
        "tblog.integrations.accelerate.TensorBoardTracker\n"
        "print('accelerate' in sys.modules, 'transformers' in sys.modules)\n"
        "tblog.integrations.transformers.TensorBoardCallback\n"
        "print('transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["[]", "True False", "True"]
