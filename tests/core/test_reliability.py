"""Nothing lost, nothing corrupted: crashes, signals, exit, durability and concurrency.

Every check reads the files back with TensorBoard's own loader.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from tb import accumulator, array
from tensorboard.backend.event_processing import event_file_loader

import tblog
from tblog.core.format import records


def _run_child(code: str, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def _tb_steps(run_dir, tag="x") -> list[int]:
    acc = accumulator(run_dir)
    if tag not in acc.Tags()["tensors"]:
        return []
    return [e.step for e in acc.Tensors(tag)]


def _tb_values(run_dir, tag="x") -> dict[int, float]:
    return {e.step: float(array(e).item()) for e in accumulator(run_dir).Tensors(tag)}


def _event_files(path) -> list[str]:
    return sorted(os.path.join(path, f) for f in os.listdir(path) if "tfevents" in f)


def _strictly_readable(path) -> int:
    """Every record of every file parses with a good CRC except possibly a truncated tail."""
    n = 0
    for f in _event_files(path):
        with open(f, "rb") as fh:
            n += sum(1 for _ in records.read_records(fh))
    return n


KILL_AFTER_FLUSH = """
import os, signal, sys, tblog
w = tblog.SummaryWriter(sys.argv[1])
for i in range(500):
    w.add_scalar("x", float(i), i)
w.flush()
for i in range(500, 510):
    w.add_scalar("x", float(i), i)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("attempt", range(8))
def test_sigkill_after_flush_keeps_everything_flushed(tmp_path, attempt):
    proc = _run_child(KILL_AFTER_FLUSH, str(tmp_path))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    values = _tb_values(tmp_path)
    assert set(range(500)) <= set(values)
    assert all(values[s] == float(s) for s in values)
    assert set(values) <= set(range(510))
    _strictly_readable(tmp_path)


KILL_WHILE_WRITING = """
import sys, tblog
w = tblog.SummaryWriter(sys.argv[1], max_queue=64)
print("ready", flush=True)
i = 0
while True:
    w.add_scalar("x", float(i), i)
    w.add_text("t", "step %d " % i + "y" * (i % 300), i)
    i += 1
"""


@pytest.mark.parametrize("attempt", range(6))
def test_sigkill_mid_write_leaves_a_readable_prefix(tmp_path, attempt):
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_WHILE_WRITING, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.3 + 0.07 * attempt)
    proc.kill()
    proc.wait(10)
    steps = _tb_steps(tmp_path)
    assert steps == list(range(len(steps)))  # a prefix, in order, nothing corrupt
    assert len(steps) > 0
    _strictly_readable(tmp_path)


def test_truncated_tail_is_skipped_by_tensorboard_and_by_us(tmp_path):
    with tblog.SummaryWriter(tmp_path) as w:
        for i in range(20):
            w.add_scalar("x", float(i), i)
    (path,) = _event_files(tmp_path)
    data = pathlib.Path(path).read_bytes()
    for cut in (1, 5, 13, 20):
        with open(path, "wb") as f:
            f.write(data[:-cut])
        assert _tb_steps(tmp_path) == list(range(19))
        assert [e.step for _, e in tblog.read(str(tmp_path)) if e.HasField("summary")] == list(
            range(19)
        )


@pytest.mark.parametrize(
    "ending",
    [
        "os.kill(os.getpid(), signal.SIGTERM)",
        "pass  # normal exit, no close()",
        "sys.exit(3)",
        "raise RuntimeError('boom')",
    ],
)
def test_everything_queued_is_written_on_sigterm_and_exit(tmp_path, ending):
    code = f"""
import os, signal, sys, tblog
w = tblog.SummaryWriter(sys.argv[1], flush_secs=3600)
w2 = tblog.SummaryWriter(os.path.join(sys.argv[1], "second"), flush_secs=3600)
for i in range(3000):
    w.add_scalar("x", float(i), i)
    w2.add_scalar("x", -float(i), i)
{ending}
"""
    proc = _run_child(code, str(tmp_path))
    if "SIGTERM" in ending:
        assert proc.returncode == -signal.SIGTERM
    assert _tb_steps(tmp_path) == list(range(3000))
    assert _tb_values(tmp_path / "second")[2999] == -2999.0


def test_user_sigterm_handler_is_left_alone(tmp_path):
    code = """
import signal, sys, tblog
signal.signal(signal.SIGTERM, lambda *a: print("user handler", flush=True))
w = tblog.SummaryWriter(sys.argv[1])
print(signal.getsignal(signal.SIGTERM).__name__)
"""
    proc = _run_child(code, str(tmp_path))
    assert proc.stdout.strip() == "<lambda>"


def test_periodic_durability_while_process_runs(tmp_path):
    code = """
import sys, time, tblog
w = tblog.SummaryWriter(sys.argv[1], flush_secs=1)
for i in range(100):
    w.add_scalar("x", float(i), i)
print("logged", flush=True)
time.sleep(60)
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "logged"
        deadline = time.monotonic() + 3.0  # one flush interval plus slack
        steps: list[int] = []
        while time.monotonic() < deadline and len(steps) < 100:
            time.sleep(0.25)
            steps = _tb_steps(tmp_path)
        assert steps == list(range(100))
        assert proc.poll() is None  # read while the writer process is still running
    finally:
        proc.kill()
        proc.wait(10)


def test_eight_threads_lose_nothing_and_keep_order(tmp_path):
    n_threads, n = 8, 50_000
    writer = tblog.SummaryWriter(tmp_path)
    barrier = threading.Barrier(n_threads)

    def work(k: int) -> None:
        barrier.wait()
        add = writer.add_scalar
        tag = f"thread{k}"
        for i in range(n):
            add(tag, float(i), i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    seen: dict[str, list[int]] = {}
    for path in _event_files(tmp_path):
        for event in event_file_loader.LegacyEventFileLoader(path).Load():
            for value in event.summary.value:
                seen.setdefault(value.tag, []).append(event.step)
    assert sorted(seen) == [f"thread{k}" for k in range(n_threads)]
    for tag, steps in seen.items():
        assert steps == list(range(n)), tag


def test_processes_and_writers_opened_in_the_same_second_get_distinct_files(tmp_path):
    code = """
import os, sys, time, tblog
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
writers = [tblog.SummaryWriter(sys.argv[1]) for _ in range(3)]
for k, w in enumerate(writers):
    w.add_scalar("p%d_w%d" % (os.getpid(), k), 1.0, 0)
for w in writers:
    w.close()
"""
    start = str(time.time() + 1.5)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), start]) for _ in range(4)]
    for p in procs:
        assert p.wait(60) == 0
    files = _event_files(tmp_path)
    assert len(files) == 12
    tags = set()
    for path in files:
        events = list(event_file_loader.LegacyEventFileLoader(path).Load())
        assert events[0].file_version == "brain.Event:2"
        tags |= {v.tag for e in events for v in e.summary.value}
    assert len(tags) == 12
    assert len(accumulator(tmp_path).Tensors(sorted(tags)[0])) == 1


def test_exit_never_hangs_on_stalled_storage(tmp_path):
    code = """
import sys, time, tblog
from tblog.core import storage
w = tblog.SummaryWriter(sys.argv[1])
w.add_scalar("x", 1.0, 0)
w.flush()
def stalled(self, data):
    time.sleep(3600)
storage.LocalEventFile.write = stalled
w.add_scalar("x", 2.0, 1)
print("exiting", flush=True)
"""
    # A hang (the write sleeps an hour) shows as TimeoutExpired; the exit timeout's warning
    # shows that the process gave up waiting rather than the write finishing.
    proc = _run_child(
        code, str(tmp_path), env={**os.environ, "TBLOG_EXIT_TIMEOUT": "1"}, timeout=60
    )
    assert proc.stdout.strip() == "exiting"
    assert "did not finish writing" in proc.stderr
    assert _tb_steps(tmp_path) == [0]
