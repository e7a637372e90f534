"""Remote log dirs: ``memory://`` in-process, and ``s3://`` against a moto S3 server on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import fsspec
import pytest
from tb import accumulator, array

import tblog
from tblog.core.format import records

pytestmark = pytest.mark.slow  # S3 through a moto server, subprocess workloads


def test_memory_logdir_roundtrip_and_incremental_flushes(tmp_path):
    url = "memory://tblog-test/run1"
    fs = fsspec.filesystem("memory")
    w = tblog.SummaryWriter(url)
    for k in range(10):
        for i in range(k * 10, k * 10 + 10):
            w.add_scalar("x", float(i), i)
        w.flush()
    w.add_scalars("grp", {"a": 1.0, "b": 2.0}, 5)
    w.close()
    assert sorted({r for r, _ in tblog.read(url)}) == [".", "grp_a", "grp_b"]
    assert [e.step for _, e in tblog.read(url) if e.HasField("summary")][:100] == list(range(100))
    # each flush stored only its new bytes: objects hold whole records and add up to the stream
    objects = sorted(p for p in fs.find("/tblog-test/run1") if "tfevents" in p and "/grp_" not in p)
    assert len(objects) == 1  # small flushes coalesce into one object
    sizes = [fs.size(p) for p in objects]
    stream = b"".join(fs.cat_file(p) for p in objects)
    assert sum(sizes) == len(stream)
    for p in objects:
        records_in_object = list(records.iter_records(fs.cat_file(p)))
        assert records_in_object and records_in_object[-1][0] == fs.size(p)
    # TensorBoard reads the same files once they are local
    local = tmp_path / "run1"
    local.mkdir()
    for p in objects:
        (local / p.rsplit("/", 1)[1]).write_bytes(fs.cat_file(p))
    assert [e.step for e in accumulator(local).Tensors("x")] == list(range(100))
    fs.rm("/tblog-test", recursive=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    port = _free_port()
    exe = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        options = {"endpoint_url": url, "key": "testing", "secret": "testing"}
        fs = fsspec.filesystem("s3", **options)
        fs.mkdir("tblog-bucket")
        yield url, options, fs
    finally:
        proc.terminate()
        proc.wait(10)


def _download(fs, prefix: str, dest) -> list[str]:
    fs.invalidate_cache()
    objects = sorted(p for p in fs.find(prefix) if "tfevents" in p)
    dest.mkdir(parents=True, exist_ok=True)
    for p in objects:
        (dest / p.rsplit("/", 1)[1]).write_bytes(fs.cat_file(p))
    return objects


def test_s3_logdir_is_readable_and_uploads_are_incremental(s3_server, tmp_path):
    _, options, fs = s3_server
    w = tblog.SummaryWriter("s3://tblog-bucket/inc", storage_options=options)
    for k in range(5):
        for i in range(k * 20, k * 20 + 20):
            w.add_scalar("x", float(i), i)
        w.flush()
    w.close()
    objects = _download(fs, "tblog-bucket/inc", tmp_path / "inc")
    assert len(objects) == 1  # small flushes coalesce into one object
    total = sum(fs.size(p) for p in objects)
    assert total == sum(len(fs.cat_file(p)) for p in objects)
    assert [e.step for e in accumulator(tmp_path / "inc").Tensors("x")] == list(range(100))
    assert [
        e.step
        for _, e in tblog.read("s3://tblog-bucket/inc", storage_options=options)
        if e.HasField("summary")
    ] == list(range(100))


def test_s3_killed_mid_run_keeps_what_was_flushed(s3_server, tmp_path):
    url, _, fs = s3_server
    code = textwrap.dedent(
        """
        import os, signal, sys, time, tblog
        opts = {"endpoint_url": sys.argv[1], "key": "testing", "secret": "testing"}
        w = tblog.SummaryWriter("s3://tblog-bucket/killed", storage_options=opts, flush_secs=3600)
        for i in range(100):
            w.add_scalar("x", float(i), i)
        w.flush()
        for i in range(100, 150):
            w.add_scalar("x", float(i), i)
        print("flushed", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "flushed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    _download(fs, "tblog-bucket/killed", tmp_path / "killed")
    steps = [e.step for e in accumulator(tmp_path / "killed").Tensors("x")]
    assert steps[:100] == list(range(100))
    assert steps == list(range(len(steps)))


def test_s3_normal_exit_without_close_uploads_everything(s3_server, tmp_path):
    url, _, fs = s3_server
    code = textwrap.dedent(
        """
        import sys, tblog
        opts = {"endpoint_url": sys.argv[1], "key": "testing", "secret": "testing"}
        w = tblog.SummaryWriter("s3://tblog-bucket/exit", storage_options=opts, flush_secs=3600)
        for i in range(50):
            w.add_scalar("x", float(i), i)
        """
    )
    subprocess.run([sys.executable, "-c", code, url], check=True, timeout=120)
    _download(fs, "tblog-bucket/exit", tmp_path / "exit")
    values = [float(array(e).item()) for e in accumulator(tmp_path / "exit").Tensors("x")]
    assert values == [float(i) for i in range(50)]


def _resume_workload(logdir: str) -> None:
    """A run, then a process resuming it from step 50 (same process here: the scan finds
    sub-runs by the writers' host and pid, which both share)."""
    import numpy as np

    from tblog.checkpoint import recorder

    w = tblog.SummaryWriter(logdir)
    for i in range(100):
        w.add_scalar("a", float(i), i)
        if i < 80:
            w.add_scalar("b", float(-i), i)  # never logged again after the resume
        if i % 10 == 0:
            w.add_histogram("h", np.arange(5.0) + i, i)
    w.add_scalars("grp", {"x": 1.0, "y": 2.0}, 90)
    w.close()
    w = tblog.SummaryWriter(logdir)
    recorder.mark_resume(w, 50)
    for i in range(50, 60):
        w.add_scalar("a", i * 10.0, i)
    w.close()


def _events_without_times(logdir: str) -> list[tuple[str, bytes]]:
    out = []
    for run, event in tblog.read(logdir):
        event.wall_time = 0
        out.append((run, event.SerializeToString()))
    return out


def test_resume_marks_a_remote_run_as_a_local_one(tmp_path):
    """mark_resume on an fsspec log dir writes what it writes locally: the START and the
    data server's placeholders for every stale tag, in the run and its add_scalars
    sub-runs; TensorBoard then shows the resumed curves."""
    fs = fsspec.filesystem("memory")
    url = "memory://tblog-resume/run"
    try:
        _resume_workload(str(tmp_path / "local"))
        _resume_workload(url)
        remote = _events_without_times(url)
        assert remote == _events_without_times(str(tmp_path / "local"))
        placeholders = {
            (run, value.tag, _event(data).step)
            for run, data in remote
            for value in _event(data).summary.value
            if _event(data).step in (50, 51)
            and value.tag in ("b", "h", "grp")
            and (
                len(value.tensor.tensor_shape.dim) == 1 or value.simple_value != value.simple_value
            )
        }
        # the main run logs step 50 again: marked there; the sub-runs log nothing more:
        # marked after the checkpoint, at 51, when the writer closes
        assert placeholders == {
            (".", "b", 50),
            (".", "h", 50),
            ("grp_x", "grp", 51),
            ("grp_y", "grp", 51),
        }
        for p in fs.find("/tblog-resume/run"):
            rel = p.split("/tblog-resume/run/", 1)[1]
            dest = tmp_path / "copy" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(fs.cat_file(p))
        acc = accumulator(tmp_path / "copy")
        assert [(e.step, float(array(e))) for e in acc.Tensors("a")] == [
            (i, float(i)) for i in range(50)
        ] + [(i, i * 10.0) for i in range(50, 60)]
        assert [e.step for e in acc.Tensors("b")] == list(range(50))
        assert [e.step for e in acc.Tensors("h")] == [0, 10, 20, 30, 40]
    finally:
        fs.rm("/tblog-resume", recursive=True)


def _event(data: bytes):
    from tblog.core.proto import event_pb2

    return event_pb2.Event.FromString(data)


def test_lightning_logger_on_a_remote_dir_saves_hparams_as_lightning_does(tmp_path):
    """``TBLogger.save()`` on an fsspec log dir writes ``hparams.yaml`` (it raised an
    AttributeError), with the content Lightning's own logger writes for the same hparams."""
    pytest.importorskip("lightning")
    from lightning.pytorch.loggers import TensorBoardLogger

    fs = fsspec.filesystem("memory")
    hparams = {"lr": 0.1, "n": 3, "name": "x"}
    ours = tblog.TBLogger("memory://tblog-lightning/logs", name="exp")
    ours.log_hyperparams(hparams)
    ours.log_metrics({"loss": 1.5}, step=0)
    ours.save()
    ours.finalize("success")
    theirs = TensorBoardLogger(str(tmp_path), name="exp")
    theirs.log_hyperparams(hparams)
    theirs.log_metrics({"loss": 1.5}, step=0)
    theirs.save()
    theirs.finalize("success")
    version = "/tblog-lightning/logs/exp/version_0"
    want = (tmp_path / "exp" / "version_0" / "hparams.yaml").read_bytes()
    assert fs.cat_file(f"{version}/hparams.yaml") == want
    frame = tblog.scalars(f"memory:/{version}", tags="loss")
    assert frame.value.tolist() == [1.5]
    fs.rm("/tblog-lightning", recursive=True)
