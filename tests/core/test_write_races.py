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


def _closer(w):
    t = threading.Thread(target=w.close, daemon=True)
    t.start()
    return t


def test_close_while_another_thread_logs_returns(tmp_path):
    for trial in range(20):
        w = tblog.SummaryWriter(tmp_path / f"t{trial}")
        stop = threading.Event()
        barrier = threading.Barrier(2)

        def log(w=w, stop=stop, barrier=barrier):
            barrier.wait()
            i = 0
            while not stop.is_set():
                w.add_scalar("x", float(i), i)
                i += 1

        logger = threading.Thread(target=log, daemon=True)
        logger.start()
        barrier.wait()
        closer = _closer(w)
        closer.join(60)  # a hang detector, not a timing check: close() used to never return
        hung = closer.is_alive()
        stop.set()
        logger.join(60)
        assert not hung, f"trial {trial}: close() did not return while another thread logged"
        w.close()


def test_steps_logged_across_concurrent_closes_are_written_once(tmp_path):
    """A thread logs steps 0..N-1 while another closes the writer again and again (each
    add_* after a close reopens, as torch's writer does): every step is written exactly
    once, none lost and none duplicated, once the logger is done and the writer closed."""
    n = 30_000
    for trial in range(5):
        logdir = tmp_path / f"t{trial}"
        w = tblog.SummaryWriter(logdir)
        barrier = threading.Barrier(2)
        done = threading.Event()

        def log(w=w, barrier=barrier, done=done):
            barrier.wait()
            for i in range(n):
                w.add_scalar("x", float(i), i)
            done.set()

        logger = threading.Thread(target=log, daemon=True)
        logger.start()
        barrier.wait()
        while not done.is_set():
            closer = _closer(w)
            closer.join(60)
            assert not closer.is_alive(), "close() hung"
        logger.join(60)
        w.close()
        steps = [s for s, _ in tb.scalar_series(str(logdir), "x")]
        assert steps == list(range(n)), (len(steps), len(set(steps)))
        df = tblog.scalars(logdir)
        assert sorted(df.step.tolist()) == list(range(n))
