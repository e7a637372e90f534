"""Corruption costs only itself: on a multi-run log dir with a bit flip, a truncated file,
a zero-length file and a huge length header, ``tblog.scalars``, ``tblog.read`` and
``tblog ls/export`` keep each damaged file's clean prefix and every other file and run,
as TensorBoard's loader does, and name the file and byte offset of the damage."""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import tb

import tblog
from tblog.cli import main
from tblog.core.format.crc32c import masked_crc32c
from tblog.core.format.decode import frames


def _write(run_dir, first: int, n: int = 200) -> str:
    w = tblog.SummaryWriter(str(run_dir))
    for step in range(first, first + n):
        w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("acc", step * 0.01, step)
        if step % 50 == 0:
            w.add_histogram("w", np.arange(10.0) + step, step)
    w.close()
    (name,) = [n for n in os.listdir(run_dir) if "tfevents" in n]
    return os.path.join(run_dir, name)


def _record_offsets(path) -> list[int]:
    fr = frames(Path(path).read_bytes())
    return fr.starts.tolist()


def _add_second_file(run_dir, first: int) -> None:
    """A later, clean file in the same run (the damage must not hide it)."""
    import time

    time.sleep(1.05)
    w = tblog.SummaryWriter(str(run_dir))
    for step in range(first, first + 20):
        w.add_scalar("loss", -float(step), step)
    w.close()


@pytest.fixture()
def damaged(tmp_path):
    root = tmp_path / "logs"
    damage = {}
    # bit flip in a record's data, in the middle of the file
    path = _write(root / "flip", 0)
    at = _record_offsets(path)[150]
    data = bytearray(Path(path).read_bytes())
    data[at + 20] ^= 0x10
    Path(path).write_bytes(bytes(data))
    damage["flip"] = (path, at)
    # truncated mid-record, then a later file (a crashed writer, then a new one)
    path = _write(root / "cut", 0)
    at = _record_offsets(path)[120]
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: at + 7])
    _add_second_file(root / "cut", 1000)
    damage["cut"] = (path, at)
    # a zero-length file next to a good one
    good = _write(root / "empty", 0)
    open(good.replace("tfevents.", "tfevents.0"), "wb").close()
    # a huge length header (with a valid header CRC) in the middle of the file
    path = _write(root / "huge", 0)
    at = _record_offsets(path)[77]
    data = bytearray(Path(path).read_bytes())
    header = struct.pack("<Q", 1 << 40)
    data[at : at + 12] = header + struct.pack("<I", masked_crc32c(header))
    Path(path).write_bytes(bytes(data))
    damage["huge"] = (path, at)
    _write(root / "clean", 0)
    return root, damage


def _judge(root, damage, tmp):
    """TensorBoard's view: its loader over the log dir, except that the huge-length file is
    given to it cut at the damage (TensorFlow's record reader, which TensorBoard uses when
    TensorFlow is installed, crashes the process on that header)."""
    import shutil

    copy = tmp / "judge"
    shutil.copytree(root, copy)
    path, at = damage["huge"]
    target = copy / os.path.relpath(path, root)
    target.write_bytes(target.read_bytes()[:at])
    return {k: v for k, v in tb.mux_scalars(copy).items() if v}


def _ours(logdir):
    out = {}
    frame = tblog.scalars(str(logdir))
    for run, tag, step, value in zip(frame.run, frame.tag, frame.step, frame.value, strict=True):
        out.setdefault((run, tag), []).append((int(step), float(value)))
    return out


def test_scalars_keep_clean_prefixes_and_every_other_run(damaged, tmp_path):
    root, damage = damaged
    with pytest.warns(tblog.DataLossWarning) as caught:
        got = _ours(root)
    want = _judge(root, damage, tmp_path)
    assert set(got) == set(want)
    for key in want:
        assert [st for st, _ in got[key]] == [st for st, _ in want[key]], key
        np.testing.assert_allclose([v for _, v in got[key]], [v for _, v in want[key]], rtol=1e-6)
    # what was lost is only what followed the damage
    assert [s for s, _ in got[("clean", "loss")]] == list(range(200))
    assert [s for s, _ in got[("empty", "loss")]] == list(range(200))
    assert got[("cut", "loss")][-20:] == [(s, -float(s)) for s in range(1000, 1020)]
    for run in ("flip", "cut", "huge"):
        assert 0 < len(got[(run, "loss")]) < 200 + (20 if run == "cut" else 0), run
    messages = [str(w.message) for w in caught]
    assert len(messages) == 3, messages
    for path, at in damage.values():
        (msg,) = [m for m in messages if m.startswith(path)]
        assert f"byte {at}" in msg, msg


def test_read_yields_prefix_and_warns(damaged):
    root, damage = damaged
    with pytest.warns(tblog.DataLossWarning):
        events = list(tblog.read(str(root)))
    runs = {run for run, _ in events}
    assert runs == {"flip", "cut", "empty", "huge", "clean"}
    acc = tb.accumulator(root / "flip")  # (the flip run is safe for TensorBoard's loader)
    steps = [e.step for _, e in events if _ == "flip" and e.HasField("summary")]
    assert sorted(set(steps)) == sorted({e.step for t in ("loss", "acc") for e in acc.Tensors(t)})
    with pytest.raises(tblog.DataLossError, match="byte"):
        from tblog.reader.reader import parse_events

        list(parse_events(Path(damage["flip"][0]).read_bytes(), source="flip"))


def test_cli_reports_damage_and_exits_zero(damaged, capsys, monkeypatch, tmp_path):
    root, damage = damaged
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["ls", str(root)]) == 0
    out, err = capsys.readouterr()
    for run, (path, at) in damage.items():
        assert any(path in line and f"byte {at}" in line for line in err.splitlines()), err
        assert f"run {run}" in out
    assert main(["export", str(root), "-o", str(tmp_path / "x.csv")]) == 0
    err = capsys.readouterr().err
    assert err.count("tblog: warning:") == 3
    import pandas as pd

    frame = pd.read_csv(tmp_path / "x.csv")
    want = _judge(root, damage, tmp_path)
    assert len(frame) == sum(len(v) for v in want.values())


def test_only_damaged_files_left_is_still_a_read(tmp_path, capsys):
    """Nothing readable at all: exit 1; a file cut at its header only: no warning, exit 0
    (what a live writer leaves)."""
    run = tmp_path / "logs" / "r"
    run.mkdir(parents=True)
    (run / "events.out.tfevents.1.x").write_bytes(b"\x00" * 40)
    assert main(["ls", str(tmp_path / "logs")]) == 1
    assert "warning" in capsys.readouterr().err
    live = tmp_path / "live"
    path = _write(live, 0, 10)
    with open(path, "ab") as f:
        f.write(b"\x30\x00\x00")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(tblog.scalars(str(live))) == 20
