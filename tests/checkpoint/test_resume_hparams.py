"""add_hparams never bends a curve, and its run_name stays inside the log dir.

Read back with TensorBoard's Python loader and its hparams plugin (a real server).
"""

from __future__ import annotations

import os

import pytest
import tb
from tbserver import TensorBoardServer

import tblog


def _log_curve(w, tag="loss", steps=10):
    for s in range(steps):
        w.add_scalar(tag, 1.0 / (s + 1), s)


def test_metric_the_run_logs_adds_no_point_new_one_at_last_step(tmp_path):
    with tblog.SummaryWriter(tmp_path) as w:
        _log_curve(w)
        w.add_hparams({"lr": 0.1}, {"loss": 0.05, "acc": 0.9})
    assert tb.scalar_series(tmp_path, "loss") == [
        (s, pytest.approx(1.0 / (s + 1))) for s in range(10)
    ]
    assert tb.scalar_series(tmp_path, "acc") == [(9, pytest.approx(0.9))]  # not at step 0


def test_metric_at_global_step_when_given_and_zero_in_empty_run(tmp_path):
    with tblog.SummaryWriter(tmp_path / "a") as w:
        w.add_hparams({"lr": 0.1}, {"acc": 0.5})
    assert tb.scalar_series(tmp_path / "a", "acc") == [(0, 0.5)]
    with tblog.SummaryWriter(tmp_path / "b") as w:
        _log_curve(w)
        w.add_hparams({"lr": 0.1}, {"acc": 0.5, "loss": 3.0}, global_step=4)
    assert tb.scalar_series(tmp_path / "b", "acc") == [(4, 0.5)]
    assert [s for s, _ in tb.scalar_series(tmp_path / "b", "loss")] == list(range(10))


def test_run_name_sub_run_uses_its_own_steps(tmp_path):
    with tblog.SummaryWriter(tmp_path) as w:
        _log_curve(w)  # the main run's steps do not count for the sub-run
        w.add_hparams({"lr": 0.1}, {"loss": 0.05}, run_name="hp")
    assert tb.scalar_series(tmp_path / "hp", "loss") == [(0, pytest.approx(0.05))]


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "ABS"])
def test_run_name_outside_the_log_dir_is_refused(tmp_path, bad):
    logdir = tmp_path / "log"
    if bad == "ABS":
        bad = str(tmp_path / "elsewhere")
    with tblog.SummaryWriter(logdir) as w:
        w.add_scalar("x", 1.0, 0)
        with pytest.raises(ValueError, match="run_name"):
            w.add_hparams({"lr": 0.1}, {"loss": 0.05}, run_name=bad)
    assert sorted(os.listdir(tmp_path)) == ["log"]
    assert all("tfevents" in name for name in os.listdir(logdir))
    assert tb.accumulator(logdir).Tags()["tensors"] == ["x"]
    assert tb.scalar_series(logdir, "x") == [(0, 1.0)]


@pytest.mark.slow
def test_hparams_tab_shows_the_curves_last_value(tmp_path):
    with tblog.SummaryWriter(tmp_path / "run") as w:
        _log_curve(w)
        w.add_hparams({"lr": 0.1}, {"loss": 0.05, "acc": 0.9})
    body = {
        "experimentName": "",
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
        "colParams": [
            {"hparam": "lr"},
            {"metric": {"group": "", "tag": "loss"}},
            {"metric": {"group": "", "tag": "acc"}},
        ],
        "startIndex": 0,
        "sliceSize": 100,
    }
    with TensorBoardServer(tmp_path) as server:
        groups = server.wait_for(
            lambda: server.post_json("/data/plugin/hparams/session_groups", body)["sessionGroups"],
            timeout=90,
        )
    values = {m["name"]["tag"]: (m["trainingStep"], m["value"]) for m in groups[0]["metricValues"]}
    assert values["loss"] == (9, pytest.approx(0.1))
    assert values["acc"] == (9, pytest.approx(0.9))
