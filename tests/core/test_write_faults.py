"""Faults of the write path (issue 14 items 8 and 10, issue 13 item 12): storage that fails
and recovers, a full disk, errors kept and raised once, fork, the writer thread's stop(),
reopen after close. Everything written is read back with TensorBoard's loaders."""

from __future__ import annotations

import errno
import multiprocessing
import os
import sys
import threading
import time
import tracemalloc

import pytest
import tb

import tblog
from tblog.core import storage as storage_mod
from tblog.core.write.queue import EventWriter, WriterClosedError


class _FlakyFile:
    """An event file whose writes fail while ``state["fail"]`` is positive (counting down,
    or forever with ``state["forever"]``), raising ``state["error"]``."""

    def __init__(self, inner, state):
        self.inner, self.state, self.path = inner, state, inner.path

    def write(self, data):
        s = self.state
        if s["forever"] or s["fail"] > 0:
            s["fail"] -= 1
            s["failures"] += 1
            raise s["error"]()
        self.inner.write(data)

    def flush(self):
        self.inner.flush()

    def close(self):
        self.inner.close()


@pytest.fixture
def flaky(monkeypatch):
    state = {"fail": 0, "forever": False, "failures": 0, "error": lambda: OSError("flaky")}
    original = storage_mod.LocalStorage.open_append

    def open_append(self, path):
        return _FlakyFile(original(self, path), state)

    monkeypatch.setattr(storage_mod.LocalStorage, "open_append", open_append)
    return state


def _steps(logdir, tag="x"):
    return [s for s, _ in tb.scalar_series(str(logdir), tag)]


def test_storage_failing_n_times_then_recovering_loses_nothing(tmp_path, flaky):
    w = tblog.SummaryWriter(tmp_path)
    flaky["fail"] = 3
    for i in range(1000):
        w.add_scalar("x", float(i), i)
    raised = 0
    for _ in range(10):  # each flush may see one failure (raised once), then it recovers
        try:
            w.flush()
            break
        except OSError as exc:
            assert "flaky" in str(exc)
            raised += 1
    assert flaky["failures"] == 3
    assert raised <= 3
    for i in range(1000, 1100):
        w.add_scalar("x", float(i), i)
    w.close()  # recovered and everything written: the old errors are not raised again
    assert _steps(tmp_path) == list(range(1100))


def test_recovered_error_not_raised_yet_is_not_raised_at_close(tmp_path, flaky):
    w = EventWriter(str(tmp_path), max_queue=1 << 20)
    flaky["fail"] = 2
    for i in range(100):
        w.scalar("", "x", float(i), i, 1.7e9 + i)
    (name,) = os.listdir(tmp_path)
    size = os.path.getsize(tmp_path / name)
    deadline = time.monotonic() + 60  # the writer thread retries on its own (every 0.5 s)
    while os.path.getsize(tmp_path / name) == size and time.monotonic() < deadline:
        time.sleep(0.05)
    assert w._errors == []  # recovered before anyone saw the errors: dropped
    w.close()  # nothing lost, nothing raised
    assert flaky["failures"] == 2
    assert _steps(tmp_path) == list(range(100))


@pytest.mark.parametrize("trial", range(8))
def test_storage_recovered_before_close_is_not_raised_by_it(tmp_path, flaky, trial):
    """The writer thread has recorded a storage error nobody has seen yet; the storage
    recovers and ``close()`` comes before the thread's next try: ``close()`` writes
    everything and raises nothing (it raised the stale error before trying again)."""
    w = EventWriter(str(tmp_path), max_queue=1 << 20)
    flaky["forever"] = True
    for i in range(100):
        w.scalar("", "x", float(i), i, 1.7e9 + i)
    w.wake()
    deadline = time.monotonic() + 60  # a guard against a hang, not a timing assert
    while not w.has_errors and time.monotonic() < deadline:
        time.sleep(0.001)
    assert w.has_errors  # recorded, not raised
    flaky["forever"] = False
    w.close()
    assert _steps(tmp_path) == list(range(100))


def test_every_error_is_kept_and_the_first_raised_with_the_others(tmp_path):
    class Boom:
        def __init__(self, n):
            self.n = n

        def tblog_resolve(self):
            raise RuntimeError(f"boom {self.n}")

    w = EventWriter(str(tmp_path), max_queue=1 << 20)
    for i in range(300):
        w.scalar("", "x", Boom(i) if i in (10, 150, 299) else float(i), i, 1.7e9 + i)
    with pytest.raises(RuntimeError, match="boom 10") as info:
        w.flush()
    notes = getattr(info.value, "__notes__", [])
    assert [n for n in notes if "boom 150" in n] and [n for n in notes if "boom 299" in n]
    w.flush()  # raised once: not again
    w.close()
    assert _steps(tmp_path) == [i for i in range(300) if i not in (10, 150, 299)]


def test_full_disk_keeps_memory_bounded_and_reaches_the_caller(tmp_path, flaky):
    bound = 2000
    w = EventWriter(str(tmp_path), max_queue=64, max_pending=bound)
    flaky["forever"] = True
    flaky["error"] = lambda: OSError(errno.ENOSPC, "No space left on device")
    errors = 0
    lengths = []
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(30_000):
            try:
                w.scalar("", "x", float(i), i, 1.7e9 + i)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                assert f"tblog: writing the event files of {tmp_path}" in exc.__notes__
                errors += 1
            if i % 1000 == 0:
                lengths.append(len(w._queue))
            if errors >= 3 and i > 3 * bound:
                break
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert errors >= 1
    assert max(lengths) <= bound + 1
    # the queue's items plus at most one batch's encoded bytes: a few MB, not 100s
    assert grown < 20 * 2**20
    flaky["forever"] = False
    flaky["fail"] = 0
    w.close()  # the disk has room again: everything queued is written
    steps = _steps(tmp_path)
    assert steps == sorted(steps) and len(steps) > 0


def test_close_on_a_failing_storage_raises_and_does_not_hang(tmp_path, flaky):
    w = EventWriter(str(tmp_path))
    flaky["forever"] = True
    w.scalar("", "x", 1.0, 1, 1.0)
    with pytest.raises(OSError, match="flaky"):
        w.close()
    assert w.thread is None
    with pytest.raises(WriterClosedError):
        w.check()


def test_writer_thread_stops_like_torchs(tmp_path):
    """Lightning's test harness stops left-over daemon threads with ``stop()`` and then
    asserts they are gone; a closed writer holds no thread. One thread serves every writer
    of the process (``w.writer.thread``): stopping it closes each of them."""
    before = set(threading.enumerate())
    w = tblog.SummaryWriter(tmp_path)
    other = tblog.SummaryWriter(tmp_path / "other")
    w.add_scalar("x", 1.0, 1)
    other.add_scalar("x", 2.0, 2)
    thread = w.writer.thread
    assert thread is not None and thread is other.writer.thread
    assert [t for t in threading.enumerate() if t.name == "tblog-writer"] == [thread]
    assert thread.daemon and callable(thread.stop)
    thread.stop()
    assert not thread.is_alive()
    assert _steps(tmp_path) == [1]
    assert _steps(tmp_path / "other") == [2]
    assert w.writer.closed and w.writer.thread is None and other.writer.closed
    w.close()  # idempotent
    assert not set(threading.enumerate()) - before
    assert not [t for t in threading.enumerate() if t.name == "tblog-writer"]
    w.add_scalar("x", 3.0, 3)  # the next writer opened (here: reopened) starts a new thread
    assert w.writer.thread is not None and w.writer.thread.is_alive()
    assert w.writer.thread is not thread
    w.close()


def test_reopen_starts_a_new_file_in_each_run(tmp_path):
    w = EventWriter(str(tmp_path))
    w.scalar("", "x", 1.0, 1, 1.0)
    w.scalar("sub", "x", 1.0, 1, 1.0)
    w.close()
    w.reopen()
    assert not w.closed and w.thread is not None and w.thread.is_alive()
    w.scalar("", "x", 2.0, 2, 2.0)
    w.scalar("sub", "x", 2.0, 2, 2.0)
    w.close()
    for run in ("", "sub"):
        d = tmp_path / run
        assert len([f for f in os.listdir(d) if "tfevents" in f]) == 2
        assert _steps(d) == [1, 2]


def _child_logs(logdir: str, writer) -> None:
    for i in range(100, 110):
        writer.add_scalar("x", float(i), i)
    writer.flush()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_os_fork_child_writes_its_own_file_parent_untouched(tmp_path):
    w = tblog.SummaryWriter(tmp_path)
    for i in range(10):
        w.add_scalar("x", float(i), i)
    w.flush()
    parent_files = sorted(f for f in os.listdir(tmp_path) if "tfevents" in f)
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            _child_logs(str(tmp_path), w)
            w.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    for i in range(10, 20):
        w.add_scalar("x", float(i), i)
    w.close()
    files = sorted(f for f in os.listdir(tmp_path) if "tfevents" in f)
    assert len(files) == 2
    (child_file,) = set(files) - set(parent_files)
    assert f".{pid}." in child_file
    child_dir = tmp_path / "child"
    child_dir.mkdir()
    os.rename(tmp_path / child_file, child_dir / child_file)
    assert _steps(tmp_path) == list(range(20))  # the parent's file: its data alone
    assert _steps(child_dir) == list(range(100, 110))


def _mp_child(writer) -> None:
    for i in range(200, 205):
        writer.add_scalar("x", float(i), i)
    # no flush/close: the child's writers are closed when its process ends


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_multiprocessing_fork_child_logging_is_written(tmp_path):
    w = tblog.SummaryWriter(tmp_path)
    w.add_scalar("x", 0.0, 0)
    w.flush()
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_mp_child, args=(w,))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    w.add_scalar("x", 1.0, 1)
    w.close()
    steps = sorted(_steps(tmp_path))
    assert steps == [0, 1, 200, 201, 202, 203, 204]
    files = [f for f in os.listdir(tmp_path) if "tfevents" in f]
    assert len(files) == 2 and any(f".{p.pid}." in f for f in files)


def _events_one_by_one(logdir):
    """Classify each value of each event as Keras' own test helper does (by its ``value``
    kind, then a tensor by its own metadata's plugin name)."""
    from tensorboard.backend.event_processing import event_file_loader

    found = {"scalars": set(), "histograms": set(), "tensors": set()}
    for dirpath, _, names in os.walk(logdir):
        for name in names:
            if not name.startswith("events.out."):
                continue
            path = os.path.join(dirpath, name)
            for event in event_file_loader.LegacyEventFileLoader(path).Load():
                for value in event.summary.value:
                    kind = value.WhichOneof("value")
                    if kind == "simple_value":
                        found["scalars"].add(value.tag)
                    elif kind == "histo":
                        found["histograms"].add(value.tag)
                    elif kind == "tensor":
                        plugin = value.metadata.plugin_data.plugin_name
                        found.get(plugin, found["tensors"]).add(value.tag)
    return found


def test_tf_summary_style_puts_metadata_on_every_event(tmp_path):
    import numpy as np

    with tblog.SummaryWriter(tmp_path / "every", style="tf.summary") as w:
        for step in range(300):  # the batch encoder too
            w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_histogram("h", np.arange(10.0), 1)
    assert _events_one_by_one(tmp_path / "every") == {
        "scalars": {"loss"},
        "histograms": {"h"},
        "tensors": set(),
    }
    with tblog.SummaryWriter(tmp_path / "first", style="torch") as w:
        for step in range(300):
            w.add_scalar("loss", 1.0, step, new_style=True)
    # metadata only on a tag's first event: the rest read as plain tensors, one by one
    assert _events_one_by_one(tmp_path / "first")["tensors"] == {"loss"}


@pytest.mark.slow
def test_keras_callback_events_classify_like_keras(tmp_path):
    keras = pytest.importorskip("keras")
    import numpy as np

    from tblog import TBCallback

    x, y = np.ones((20, 4), dtype="float32"), np.ones((20, 1), dtype="float32")
    found = {}
    for name, cb in (
        ("keras", keras.callbacks.TensorBoard(str(tmp_path / "keras"), update_freq=1)),
        ("tblog", TBCallback(str(tmp_path / "tblog"), update_freq=1)),
    ):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        model.fit(x, y, batch_size=5, epochs=2, validation_data=(x, y), verbose=0, callbacks=[cb])
        found[name] = _events_one_by_one(tmp_path / name)
    assert found["tblog"]["scalars"] == found["keras"]["scalars"]
    assert "epoch_loss" in found["tblog"]["scalars"]
    assert not found["tblog"]["tensors"] - found["keras"]["tensors"]


def test_full_disk_calls_fail_at_once_and_what_was_accepted_is_written(tmp_path, flaky):
    """Issue #25 item 8: while the storage fails and the queue is full, a logging call that
    cannot be accepted raises the storage's error without blocking (it used to wait up to
    0.1 s each: a training loop slowed a thousandfold); what was accepted is written once the
    disk recovers, and no stale error is raised after that."""
    bound = 2000
    w = EventWriter(str(tmp_path), max_queue=64, max_pending=bound)
    flaky["forever"] = True
    flaky["error"] = lambda: OSError(errno.ENOSPC, "No space left on device")
    accepted: list[int] = []
    step = 0
    while True:  # fill the queue until the storage's error reaches the caller
        try:
            w.scalar("", "x", float(step), step, 1.7e9 + step)
            accepted.append(step)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            break
        step += 1
        assert step < 100 * bound
    me = threading.get_ident()
    waits: list[object] = []
    original = threading.Condition.wait

    def counting_wait(self, timeout=None):
        if threading.get_ident() == me:
            waits.append(timeout)
        return original(self, timeout)

    raised = 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(threading.Condition, "wait", counting_wait)
        for later in range(step + 1, step + 2001):
            try:
                w.scalar("", "x", float(later), later, 1.7e9 + later)
                accepted.append(later)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                raised += 1
    assert waits == [], f"{len(waits)} blocking waits on the caller's thread"
    assert raised > 0
    assert len(w._queue) <= bound + 1
    flaky["forever"] = False
    flaky["fail"] = 0
    w.flush()  # recovered: no stale error
    w.close()
    assert _steps(tmp_path) == accepted


def test_logging_from_a_finalizer_at_interpreter_exit_is_quiet(tmp_path):
    """Issue #25 item 10: an object whose ``__del__`` logs to a closed writer at interpreter
    exit used to print ``NameError: name 'open' is not defined`` from the reopen path."""
    import subprocess

    code = (
        "import sys, tblog\n"
        "w = tblog.SummaryWriter(sys.argv[1])\n"
        "w.add_scalar('x', 1.0, 0)\n"
        "w.close()\n"
        "class Late:\n"
        "    def __del__(self):\n"
        "        w.add_scalar('late', 2.0, 1)\n"
        "late = Late()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "Error" not in out.stderr and "Exception ignored" not in out.stderr, out.stderr
    assert _steps(tmp_path) == [0]
    late = (
        tb.scalar_series(str(tmp_path), "late")
        if "late" in tb.accumulator(str(tmp_path)).Tags()["tensors"]
        else []
    )
    assert late in ([], [(1, 2.0)])
