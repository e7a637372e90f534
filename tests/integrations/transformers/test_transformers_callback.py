"""tblog's transformers ``TensorBoardCallback`` against transformers' own: the same runs, tags,
steps, values and texts under TensorBoard's loaders; process zero only; a SIGKILLed Trainer
resumed with ``resume_from_checkpoint=True`` shows one point per step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest
import tb
from hf_workloads import MAX_STEPS, trainer
from paths import SUPPORT

import tblog
from tblog.integrations.transformers import TensorBoardCallback

TIMING = ("runtime", "per_second")  # wall-clock values: tags and steps compared, not values


def _texts(run_dir: str) -> dict[str, list[tuple[int, str]]]:
    acc = tb.accumulator(run_dir)
    out = {}
    for tag in acc.PluginTagToContent("text"):
        out[tag] = [(e.step, tb.array(e).item().decode()) for e in acc.Tensors(tag)]
    return out


def _only_run(logdir: str) -> str:
    runs = [r for r, _, files in os.walk(logdir) if any("tfevents" in f for f in files)]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.slow
def test_same_scalars_and_texts_as_transformers_callback(tmp_path, monkeypatch):
    out = str(tmp_path / "out")
    theirs, ours = str(tmp_path / "theirs"), str(tmp_path / "ours")
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", theirs)
    trainer(out, [], report_to="tensorboard").train()
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", ours)
    callback = TensorBoardCallback()
    trainer(out, [callback]).train()
    assert callback.logging_dir == ours and callback.tb_writer is None  # closed at the end

    a, b = tb.mux_scalars(theirs), tb.mux_scalars(ours)
    assert sorted(a) == sorted(b)
    assert (".", "train/loss") in a and (".", "eval/loss") in a and (".", "train/grad_norm") in a
    for key in a:
        assert [s for s, _ in a[key]] == [s for s, _ in b[key]], key
        if not any(t in key[1] for t in TIMING):
            assert [v for _, v in b[key]] == pytest.approx([v for _, v in a[key]], abs=1e-5), key
    assert [s for s, _ in a[(".", "train/loss")]] == list(range(1, MAX_STEPS + 1))
    assert [s for s, _ in a[(".", "eval/loss")]] == [4, 8, 10]

    texts_a, texts_b = _texts(theirs), _texts(ours)
    assert sorted(texts_a) == ["args/text_summary", "model_config/text_summary"]
    assert texts_b["model_config/text_summary"] == texts_a["model_config/text_summary"]
    # the same JSON of the same args, but for the one argument that differs
    [(step_a, args_a)], [(step_b, args_b)] = (
        texts_a["args/text_summary"],
        texts_b["args/text_summary"],
    )
    assert step_a == step_b == 0
    a_json, b_json = json.loads(args_a), json.loads(args_b)
    assert (a_json.pop("report_to"), b_json.pop("report_to")) == (["tensorboard"], [])
    assert a_json == b_json


def test_logs_only_on_world_process_zero(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    args = SimpleNamespace(output_dir=str(tmp_path), to_json_string=lambda: "{}")
    callback = TensorBoardCallback()
    other = SimpleNamespace(is_world_process_zero=False, is_hyper_param_search=False, global_step=3)
    callback.on_train_begin(args, other, None)
    callback.on_log(args, other, None, logs={"loss": 1.0})
    callback.on_save(args, other, None)
    assert callback.tb_writer is None and not (tmp_path / "tb").exists()

    zero = SimpleNamespace(is_world_process_zero=True, is_hyper_param_search=False, global_step=0)
    callback.on_train_begin(args, zero, None)
    zero.global_step = 2
    callback.on_log(args, zero, None, logs={"loss": 1.5, "eval_acc": 0.25, "note": "hi", "x": [1]})
    callback.on_train_end(args, zero, None)
    run = str(tmp_path / "tb")
    assert tb.scalar_series(run, "train/loss") == [(2, 1.5)]
    assert tb.scalar_series(run, "eval/acc") == [(2, 0.25)]
    assert _texts(run)["train/note/text_summary"] == [(2, "hi")]
    assert "train/x" not in tb.accumulator(run).Tags()["tensors"]  # dropped, as transformers does


def test_default_logging_dir_is_output_dir_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    args = SimpleNamespace(output_dir=str(tmp_path), to_json_string=lambda: "{}")
    state = SimpleNamespace(is_world_process_zero=True, is_hyper_param_search=False, global_step=0)
    callback = TensorBoardCallback()
    callback.on_train_begin(args, state, None)
    callback.on_train_end(args, state, None)
    run = _only_run(str(tmp_path))
    assert os.path.dirname(run) == os.path.join(str(tmp_path), "runs")
    assert run == callback.logging_dir


@pytest.mark.slow
def test_sigkilled_trainer_resumed_shows_one_point_per_step(tmp_path, monkeypatch):
    out, logdir = str(tmp_path / "out"), str(tmp_path / "tb")
    env = {**os.environ, "TENSORBOARD_LOGGING_DIR": logdir}
    env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT), env.get("PYTHONPATH", "")])
    child = subprocess.run(
        [sys.executable, str(SUPPORT / "hf_workloads.py"), out, "7"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    assert sorted(os.listdir(out)) == ["checkpoint-3", "checkpoint-6"]
    # the killed process logged step 7 (flushed by on_log): stale once resumed from step 6
    before = tb.scalar_series(logdir, "train/loss")
    assert [s for s, _ in before] == list(range(1, 8))

    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", logdir)
    trainer(out, [TensorBoardCallback()], save_strategy="steps", save_steps=3).train(
        resume_from_checkpoint=True
    )
    steps = list(range(1, MAX_STEPS + 1))
    after = tb.scalar_series(logdir, "train/loss")
    assert [s for s, _ in after] == steps
    assert after[:6] == before[:6]  # the points before the checkpoint are the first process's
    legacy = tb.legacy_accumulator(logdir).Scalars("train/loss")
    assert [e.step for e in legacy] == steps
    frame = tblog.scalars(logdir)
    loss = frame[frame["tag"] == "train/loss"]
    assert sorted(loss["step"].tolist()) == steps
    assert [s for s, _ in tb.scalar_series(logdir, "eval/loss")] == [4, 8, 10]
    assert tb.scalar_series(logdir, "checkpoint/step") == [(3, 3.0), (6, 6.0), (9, 9.0), (10, 10.0)]
    restored = _texts(logdir)["checkpoint/restored/text_summary"]
    assert [s for s, _ in restored] == [7] and "checkpoint-6" in restored[0][1]


@pytest.mark.slow
def test_resumed_from_an_older_checkpoint_each_save_is_one_point(tmp_path, monkeypatch):
    # a finished run (saves at 3, 6, 9, 10), resumed from checkpoint-3: the loop saves
    # again at 6, 9 and 10, whose records the first run left
    out, logdir = str(tmp_path / "out"), str(tmp_path / "tb")
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", logdir)
    trainer(out, [TensorBoardCallback()], save_strategy="steps", save_steps=3).train()
    assert sorted(os.listdir(out)) == [f"checkpoint-{s}" for s in (10, 3, 6, 9)]
    trainer(out, [TensorBoardCallback()], save_strategy="steps", save_steps=3).train(
        resume_from_checkpoint=os.path.join(out, "checkpoint-3")
    )
    saves = [(3, 3.0), (6, 6.0), (9, 9.0), (10, 10.0)]
    assert tb.scalar_series(logdir, "checkpoint/step") == saves
    assert [e.step for e in tb.legacy_accumulator(logdir).Scalars("checkpoint/step")] == [
        s for s, _ in saves
    ]
    assert [s for s, _ in tb.scalar_series(logdir, "train/loss")] == list(range(1, MAX_STEPS + 1))
