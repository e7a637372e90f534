"""SummaryWriter basics: lifecycle, log dir layout, add_scalars runs, resume (purge_step and
restart), fsspec log dirs, the pure-Python CRC fallback, file names and ``tblog.read`` /
``tblog.scalars`` -- each checked against TensorBoard's own loaders (and torch's writer
where it defines the layout)."""

from __future__ import annotations

import os
import re
import socket
import time
import uuid

import numpy as np
import pytest
import tb
from tensorboard.backend.event_processing import io_wrapper
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as tb_masked_crc

import tblog
from tblog.core.format import crc32c
from tblog.core.format.records import iter_records

STAMP = r"[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}"


def _event_files(path):
    return sorted(f for f in os.listdir(path) if "tfevents" in f)


def test_context_manager_closes_and_get_logdir(tmp_path):
    logdir = str(tmp_path / "run")
    with tblog.SummaryWriter(logdir) as w:
        assert w.get_logdir() == logdir
        w.add_scalar("x", 1.5, 3)
    w.close()  # idempotent
    w.flush()  # a no-op once closed
    assert len(_event_files(logdir)) == 1
    w.add_scalar("x", 2.0, 4)  # torch's writer reopens on the next add_*: a new event file
    w.close()
    assert len(_event_files(logdir)) == 2
    assert tb.scalar_series(logdir, "x") == [(3, 1.5), (4, 2.0)]


def test_default_logdir_layout_matches_torch(tmp_path, monkeypatch):
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    monkeypatch.chdir(tmp_path)
    with tblog.SummaryWriter(comment="_exp1") as w:
        w.add_scalar("x", 1.0, 0)
        ours = w.get_logdir()
    with TorchWriter(comment="_exp1") as t:
        theirs = t.get_logdir()
    pattern = re.escape("runs" + os.sep) + STAMP + re.escape(f"_{socket.gethostname()}_exp1")
    assert re.fullmatch(pattern, ours), ours
    assert re.fullmatch(pattern, theirs), theirs
    assert not os.path.isabs(ours)
    assert _event_files(tmp_path / ours)
    assert tb.scalar_series(str(tmp_path / ours), "x") == [(0, 1.0)]


def test_add_scalars_runs_match_torch(tmp_path):
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    for name, cls in (("torch", TorchWriter), ("tblog", tblog.SummaryWriter)):
        with cls(str(tmp_path / name)) as w:
            for step in range(4):
                w.add_scalars("loss/parts", {"train": step * 1.5, "val": -step}, step)
    ours = tb.mux_scalars(tmp_path / "tblog")
    theirs = tb.mux_scalars(tmp_path / "torch")
    assert set(ours) == {("loss_parts_train", "loss/parts"), ("loss_parts_val", "loss/parts")}
    assert ours == theirs
    assert ours[("loss_parts_val", "loss/parts")] == [(s, -float(s)) for s in range(4)]


def _next_second() -> None:
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.02)


def _resume(logdir, writer_cls, how):
    """Write steps 0..80, then resume at 50 and write 50..100 (values 1000 + step)."""
    with writer_cls(logdir) as w:
        for step in range(81):
            w.add_scalar("loss", float(step), step)
    # Event files are read in name order, ``...tfevents.<secs>.<host>.<pid>.<counter>``:
    # within one second a counter of 10 sorts before 9 (torch's names too), so the resumed
    # file is opened in a later second to keep the order these tests are about.
    _next_second()
    if how == "purge_step":
        w = writer_cls(logdir, purge_step=50)
    else:
        w = writer_cls(logdir)
        w.restart(50)
    with w:
        for step in range(50, 101):
            w.add_scalar("loss", 1000.0 + step, step)


def _starts(logdir):
    return [
        (f, e.step)
        for f in _event_files(logdir)
        for e in tb.legacy.event_file_loader.LegacyEventFileLoader(os.path.join(logdir, f)).Load()
        if e.HasField("session_log") and e.session_log.status == e.session_log.START
    ]


@pytest.mark.parametrize("how", ["purge_step", "restart"])
def test_resume_drops_points_after_the_restart_step(tmp_path, how):
    logdir = str(tmp_path)
    _resume(logdir, tblog.SummaryWriter, how)
    files = _event_files(logdir)
    assert len(files) == 2
    expected = [(s, float(s) if s < 50 else 1000.0 + s) for s in range(101)]
    # TensorBoard's server-side loader: exactly one value per step, the new ones from 50.
    plugin = [(e.step, float(tb.array(e))) for e in tb.accumulator(logdir).Tensors("loss")]
    assert plugin == expected
    # The legacy loader purges on every START (ours: the no-purge step in the first file,
    # 50 in the second) in its legacy reservoirs, where the simple_value scalars we write
    # (as torch does) land: exactly one value per step there too.
    from tblog.core.format.events import NO_PURGE_STEP

    assert _starts(logdir) == [(files[0], NO_PURGE_STEP), (files[1], 50)]
    legacy = [(e.step, e.value) for e in tb.legacy_accumulator(logdir).Scalars("loss")]
    assert legacy == expected
    if how == "purge_step":
        from torch.utils.tensorboard import SummaryWriter as TorchWriter

        ref = str(tmp_path / "torch")
        _resume(ref, TorchWriter, how)
        ref_legacy = tb.legacy_accumulator(ref).Scalars("loss")
        assert legacy == [(e.step, e.value) for e in ref_legacy]


def test_memory_logdir_readable_by_tblog_and_tensorboard(tmp_path):
    import fsspec

    url = f"memory://tblog-basics-{uuid.uuid4().hex}/logs"
    with tblog.SummaryWriter(url) as w:
        for step in range(5):
            w.add_scalar("a", step * 0.5, step)
            w.add_scalars("m", {"x": step}, step)
        w.flush()
        w.add_histogram("h", np.arange(10.0), 7)
    ours = sorted(
        (run, v.tag, e.step, tblog.reader.reader.scalar_value(v))
        for run, e in tblog.read(url)
        if e.WhichOneof("what") == "summary"
        for v in e.summary.value
        if tblog.reader.reader.scalar_value(v) is not None
    )
    assert tblog.runs(url) == [".", "m_x"]
    # TensorBoard cannot open memory://, so copy the tree out and read it there.
    fs = fsspec.filesystem("memory")
    fs.get(url[len("memory://") :], str(tmp_path / "copy"), recursive=True)
    mux = tb.mux_scalars(tmp_path / "copy")
    theirs = sorted((run, tag, s, v) for (run, tag), series in mux.items() for s, v in series)
    assert ours == theirs and len(ours) == 10
    assert tb.plugin_tags(str(tmp_path / "copy"), "histograms") == ["h"]
    fs.rm(url[len("memory://") :].split("/")[0], recursive=True)


def _write_sample(logdir):
    with tblog.SummaryWriter(logdir) as w:
        for step in range(20):
            w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_histogram("h", np.linspace(-1, 1, 50), 0)
        w.add_text("t", "hello", 0)


def test_pure_python_crc_writes_the_same_records(tmp_path, monkeypatch):
    calls = []

    def python_crc(data: bytes) -> int:
        calls.append(len(data))
        return crc32c.crc32c_python(data)

    monkeypatch.setattr(crc32c, "crc32c", python_crc)
    logdir = str(tmp_path)
    _write_sample(logdir)
    monkeypatch.undo()
    assert calls  # the writer really used the fallback
    [name] = _event_files(logdir)
    data = (tmp_path / name).read_bytes()
    count = 0
    pos = 0
    for end, payload in iter_records(data):
        header = data[pos : pos + 8]
        # every checksum is what TensorBoard's own CRC code computes
        assert int.from_bytes(data[pos + 8 : pos + 12], "little") == tb_masked_crc(header)
        assert int.from_bytes(data[end - 4 : end], "little") == tb_masked_crc(payload)
        # and what the C implementation (if installed) frames
        assert data[pos:end] == tblog.core.format.records.frame(payload)
        pos = end
        count += 1
    assert pos == len(data) and count >= 23
    assert [s for s, _ in tb.scalar_series(logdir, "loss")] == list(range(20))
    assert tb.plugin_tags(logdir, "histograms") == ["h"]


def test_event_file_name_pattern(tmp_path):
    with tblog.SummaryWriter(str(tmp_path / "a")) as w:
        w.add_scalar("x", 1.0, 0)
    with tblog.SummaryWriter(str(tmp_path / "b"), filename_suffix=".v2") as w:
        w.add_scalar("x", 1.0, 0)
    host = re.escape(socket.gethostname())
    [a] = _event_files(tmp_path / "a")
    [b] = _event_files(tmp_path / "b")
    assert re.fullmatch(rf"events\.out\.tfevents\.\d{{10}}\.{host}\.{os.getpid()}\.\d+", a), a
    assert re.fullmatch(rf"events\.out\.tfevents\.\d{{10}}\.{host}\.{os.getpid()}\.\d+\.v2", b), b
    for path in (tmp_path / "a" / a, tmp_path / "b" / b):
        assert io_wrapper.IsSummaryEventsFile(str(path))
    assert tb.scalar_series(str(tmp_path / "b"), "x") == [(0, 1.0)]


def test_tblog_read_and_scalars_agree_with_tensorboard(tmp_path):
    with tblog.SummaryWriter(str(tmp_path)) as w:
        for step in range(6):
            w.add_scalar("loss", 2.0**-step, step)
            w.add_scalar("acc", np.float32(step / 10), step)
            w.add_scalars("grp", {"a": step, "b": -step}, step)
        w.add_histogram("not_a_scalar", np.arange(4.0), 0)
        w.add_hparams({"lr": 0.1}, {"final": 0.5}, run_name="hp")
    df = tblog.scalars(str(tmp_path))
    ours = sorted(zip(df.run, df.tag, df.step, df.value.astype(float), strict=True))
    mux = tb.mux_scalars(tmp_path)
    theirs = sorted((run, tag, s, v) for (run, tag), series in mux.items() for s, v in series)
    assert ours == theirs
    assert {r for r, *_ in ours} == {".", "grp_a", "grp_b", "hp"}
    assert sorted(tblog.runs(str(tmp_path))) == sorted(tb.multiplexer(tmp_path).Runs())
    n_events = sum(1 for _ in tblog.read(str(tmp_path)))
    n_tb = sum(
        len(list(tb.legacy.event_file_loader.LegacyEventFileLoader(os.path.join(d, f)).Load()))
        for d, _, files in os.walk(tmp_path)
        for f in files
        if "tfevents" in f
    )
    assert n_events == n_tb
