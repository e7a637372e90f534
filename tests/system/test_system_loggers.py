"""How the loggers turn system stats and run info on: Lightning's ``TBLogger`` passes its
writer keywords (``system_stats``, ``run_info``) to its ``tblog.SummaryWriter``."""

from __future__ import annotations

import threading

import pytest
import tb

import tblog

pytest.importorskip("lightning")


def test_tblogger_passes_system_stats_and_run_info(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pynvml", None)
    from tblog.integrations.lightning import TBLogger

    before = {t for t in threading.enumerate() if t.name == "tblog-system"}
    logger = TBLogger(str(tmp_path), name="exp", system_stats=True, run_info=True)
    logger.log_metrics({"loss": 0.5}, step=3)
    ours = [t for t in threading.enumerate() if t.name == "tblog-system" and t not in before]
    assert len(ours) == 1
    logger.finalize("success")
    ours[0].join(30)
    assert not ours[0].is_alive()
    run = tmp_path / "exp" / "version_0"
    acc = tb.accumulator(str(run))
    assert {"loss", "run/info"} <= set(acc.Tags()["tensors"])
    assert "system/rss_mb" in tb.accumulator(str(run / "system")).Tags()["tensors"]


@pytest.mark.parametrize("rank", ["0", "1"])
def test_per_rank_writer_samples_into_its_rank_run(tmp_path, monkeypatch, rank):
    """A per-rank writer's monitor writes ``<log dir>/rank_<r>/system``: each rank's load
    beside its own curves, never in another rank's run."""
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("WORLD_SIZE", "2")
    w = tblog.SummaryWriter(tmp_path, per_rank=True, system_stats=True)
    w.add_scalar("loss", 1.0, 0)
    w.close()
    runs = tb.mux_scalars(str(tmp_path))
    system_runs = {run for run, tag in runs if tag.startswith("system/")}
    assert system_runs == {f"rank_{rank}/system"}
