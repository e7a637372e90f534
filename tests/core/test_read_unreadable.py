"""An event file the reader may not open or read costs only itself, as in TensorBoard's
multiplexer: a ``DataLossWarning`` (``tblog ls``: a warning line) names it and every other
run and file is read.

Tests run as root, where ``chmod 000`` refuses nothing: the file is made unreadable with
``chmod 000`` *and* ``open`` refuses its path with ``PermissionError``."""

from __future__ import annotations

import builtins
import errno
import io
import os
import warnings

import fsspec
import pytest
from tb import mux_scalars

import tblog
from tblog.cli import main
from tblog.core.format.decode import DataLossWarning


def _write(logdir, run: str, n: int) -> str:
    w = tblog.SummaryWriter(str(logdir / run))
    for i in range(n):
        w.add_scalar("loss", 1.0 / (i + 1), i)
        w.add_scalar("acc", i / n, i)
    w.close()
    (path,) = (logdir / run).iterdir()
    return str(path)


@pytest.fixture
def logdir(tmp_path, monkeypatch):
    """Runs ``a`` and ``c`` readable, run ``b`` with one file nobody may open; returns
    ``(logdir, want, locked path)`` where ``want`` is what TensorBoard shows of a and c."""
    _write(tmp_path, "a", 30)
    locked = _write(tmp_path, "b", 20)
    _write(tmp_path, "c", 40)
    want = {k: v for k, v in mux_scalars(str(tmp_path)).items() if k[0] != "b"}
    assert len(want) == 4
    os.chmod(locked, 0)
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if os.fspath(file) == locked if isinstance(file, (str, os.PathLike)) else False:
            raise PermissionError(errno.EACCES, "Permission denied", locked)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    yield tmp_path, want, locked
    os.chmod(locked, 0o644)


def _series(frame) -> dict:
    return {
        (r, t): [(int(s), float(v)) for s, v in zip(g.step, g.value, strict=True)]
        for (r, t), g in frame.groupby(["run", "tag"])
    }


def test_scalars_warn_and_read_the_rest(logdir):
    root, want, locked = logdir
    with pytest.warns(DataLossWarning) as caught:
        got = tblog.scalars(str(root))
    messages = [str(w.message) for w in caught if issubclass(w.category, DataLossWarning)]
    assert len(messages) == 1 and locked in messages[0] and "PermissionError" in messages[0]
    assert _series(got) == want


def test_read_events_warns_and_reads_the_rest(logdir):
    root, _want, locked = logdir
    with pytest.warns(DataLossWarning, match="Permission") as caught:
        runs = sorted({run for run, e in tblog.read(str(root)) if e.HasField("summary")})
    assert runs == ["a", "c"]
    assert any(locked in str(w.message) for w in caught)


def test_ls_warns_and_lists_the_rest(logdir, capsys, monkeypatch):
    root, want, locked = logdir
    monkeypatch.setenv("COLUMNS", "300")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["ls", str(root)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "warning" in line and locked in line]
    listed = set()
    run = None
    for line in out.splitlines():  # "run <name>" then a table of its tags
        if line.startswith("run "):
            run = line[4:].strip()
        elif line.startswith("│") and run is not None:
            listed.add((run, line.strip("│").split("│")[0].strip()))
    assert listed == set(want)


def test_io_error_mid_file_keeps_the_records_before_it(tmp_path, monkeypatch):
    """A read that fails part way (EIO) keeps what was read and warns naming the file."""
    from tblog.core import storage

    path = _write(tmp_path, "a", 5000)
    _write(tmp_path, "b", 10)
    orig = storage.LocalStorage.open_read

    class Failing(io.RawIOBase):
        def __init__(self, f):
            self.f, self.left = f, 4096

        def read(self, n=-1):
            if self.left <= 0:
                raise OSError(errno.EIO, "Input/output error")
            data = self.f.read(min(n, self.left))
            self.left -= len(data)
            return data

        def close(self):
            self.f.close()

    def open_read(self, p):
        f, size = orig(self, p)
        return (Failing(f), size) if p == path else (f, size)

    monkeypatch.setattr(storage.LocalStorage, "open_read", open_read)
    with pytest.warns(DataLossWarning, match="Input/output error") as caught:
        got = _series(tblog.scalars(str(tmp_path)))
    assert any(path in str(w.message) for w in caught)
    assert len(got[("b", "loss")]) == 10
    assert 0 < len(got[("a", "loss")]) < 5000


def test_fsspec_store_refusing_one_object(monkeypatch):
    from fsspec.implementations.memory import MemoryFileSystem

    url = "memory://tblog-unreadable"
    for run, n in (("a", 30), ("b", 20)):
        w = tblog.SummaryWriter(f"{url}/{run}")
        for i in range(n):
            w.add_scalar("loss", float(i), i)
        w.close()
    fs = fsspec.filesystem("memory")
    (refused,) = [p for p in fs.find("/tblog-unreadable/b") if "tfevents" in p]
    orig = MemoryFileSystem._open

    def _open(self, path, *args, **kwargs):
        if self._strip_protocol(path) == refused:
            raise PermissionError(errno.EACCES, "Access Denied", path)
        return orig(self, path, *args, **kwargs)

    monkeypatch.setattr(MemoryFileSystem, "_open", _open)
    try:
        with pytest.warns(DataLossWarning, match="Access Denied"):
            got = _series(tblog.scalars(url))
        assert got == {("a", "loss"): [(i, float(i)) for i in range(30)]}
    finally:
        fs.rm("/tblog-unreadable", recursive=True)
