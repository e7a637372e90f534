"""Races of the write path (issue #25 items 1-3): writers opened at once on one empty log
dir, ``close()`` while another thread logs, and what is written after that race. Each test
starts its threads or processes together behind a barrier and repeats the race many times;
everything is read back with TensorBoard's own loader (and ``tblog.scalars``)."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
import tb

import tblog

STEPS = 20


def _log_own_tag(logdir: str, i: int, barrier) -> None:
    barrier.wait()
    w = tblog.SummaryWriter(logdir)
    for step in range(STEPS):
        w.add_scalar(f"w{i}", float(step), step)
    w.close()


def _assert_every_writer_kept(logdir: str, writers: int) -> None:
    series = tb.mux_scalars(logdir)
    got = {tag: [s for s, _ in points] for (run, tag), points in series.items() if run == "."}
    want = {f"w{i}": list(range(STEPS)) for i in range(writers)}
    assert got == want
    legacy = tb.legacy_accumulator(logdir)
    assert {t: [e.step for e in legacy.Scalars(t)] for t in want} == want
    df = tblog.scalars(logdir)
    assert {t: sorted(df[df.tag == t].step.tolist()) for t in want} == want


def test_writers_opened_at_once_in_threads_on_one_empty_dir_lose_nothing(tmp_path):
    writers = 8
    for trial in range(12):
        logdir = str(tmp_path / f"t{trial}")
        barrier = threading.Barrier(writers)
        threads = [
            threading.Thread(target=_log_own_tag, args=(logdir, i, barrier)) for i in range(writers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _assert_every_writer_kept(logdir, writers)


@pytest.mark.slow
def test_writers_opened_at_once_in_processes_on_one_empty_dir_lose_nothing(tmp_path):
    writers = 4
    ctx = multiprocessing.get_context("spawn")
    for trial in range(4):
        logdir = str(tmp_path / f"p{trial}")
        barrier = ctx.Barrier(writers)
        procs = [
            ctx.Process(target=_log_own_tag, args=(logdir, i, barrier)) for i in range(writers)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
        _assert_every_writer_kept(logdir, writers)
