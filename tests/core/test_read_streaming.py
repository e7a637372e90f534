"""Readers stream: an event file is read in bounded blocks, big records of unwanted tags are
skipped unheld, and a file that never ends (a ``/dev/zero`` link) costs only itself.

Peak memory is measured in a child process (``ru_maxrss`` growth over the read, no timing);
the child runs under an address-space limit so that a reader that holds whole files fails
there instead of exhausting the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import pytest
from tensorboard.backend.event_processing import event_file_loader

import tblog
from tblog.core.format import decode, records
from tblog.core.proto import event_pb2
from tblog.core.read import stream
from tblog.core.storage import LocalStorage

MB = 1 << 20


def _scalar(step: int, value: float, tag: str = "loss") -> bytes:
    e = event_pb2.Event(wall_time=1000.0 + step, step=step)
    e.summary.value.add(tag=tag, simple_value=value)
    return records.frame(e.SerializeToString())


def _big(step: int, size: int, tag: str = "big/tensor") -> bytes:
    e = event_pb2.Event(wall_time=1000.0 + step, step=step)
    v = e.summary.value.add(tag=tag)
    v.metadata.plugin_data.plugin_name = "tensors_blob"
    v.tensor.dtype = 7  # DT_STRING
    v.tensor.string_val.append(os.urandom(64) * (size // 64))
    return records.frame(e.SerializeToString())


def _head() -> bytes:
    return records.frame(
        event_pb2.Event(wall_time=999.0, file_version="brain.Event:2").SerializeToString()
    )


def _tb_scalars(path: str, tag: str = "loss") -> list[list[float]]:
    """``[[step, value]]`` of ``tag`` as TensorBoard's own (streaming) file loader reads it."""
    out = []
    for event in event_file_loader.LegacyEventFileLoader(str(path)).Load():
        for v in event.summary.value:
            if v.tag == tag:
                out.append([event.step, v.simple_value])
    return out


_CHILD = textwrap.dedent(
    """
    import json, resource, sys, warnings
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    import tblog
    logdir, warm, tags = sys.argv[1], sys.argv[2], sys.argv[3] or None
    tblog.scalars(warm)  # imports and first-call costs before the baseline
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = tblog.scalars(logdir, tags=tags)
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    points = {
        f"{r}|{t}": [[int(s), float(v)] for s, v in zip(g.step, g.value)]
        for (r, t), g in frame.groupby(["run", "tag"])
    }
    print(json.dumps({"grew_kb": grew, "points": points,
                      "warnings": [str(w.message) for w in caught]}))
    """
)


def _child_read(logdir, warm, tags: str | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(logdir), str(warm), tags or ""],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    d = tmp_path_factory.mktemp("warm")
    (d / "events.out.tfevents.1.w").write_bytes(_head() + _scalar(0, 1.0))
    return d


@pytest.fixture(scope="module")
def big_logdir(tmp_path_factory):
    """One run: 8 records of 30 MB (240 MB) among 1,000 ``loss`` points."""
    d = tmp_path_factory.mktemp("big") / "run"
    d.mkdir()
    path = d / "events.out.tfevents.1.big"
    with open(path, "wb") as f:
        f.write(_head())
        for i in range(1000):
            f.write(_scalar(i, 1.0 / (i + 1)))
            if i % 125 == 62:
                f.write(_big(i, 30 * MB))
    assert path.stat().st_size > 240 * MB
    return d.parent


@pytest.mark.slow
def test_filtered_read_of_big_records_holds_none_of_them(big_logdir, warm):
    got = _child_read(big_logdir, warm, "^loss$")
    want = _tb_scalars(big_logdir / "run" / "events.out.tfevents.1.big")
    assert len(want) == 1000
    assert got["points"] == {"run|loss": want}
    assert got["warnings"] == []
    # the file is 240 MB; the whole-file reader grew by about twice that
    assert got["grew_kb"] * 1024 < 40 * MB, got["grew_kb"]


@pytest.mark.slow
def test_unfiltered_read_holds_one_big_record_at_a_time(big_logdir, warm):
    got = _child_read(big_logdir, warm)
    want = _tb_scalars(big_logdir / "run" / "events.out.tfevents.1.big")
    assert got["points"] == {"run|loss": want}
    assert got["grew_kb"] * 1024 < 160 * MB, got["grew_kb"]


@pytest.mark.slow
def test_sparse_junk_costs_one_block_and_warns(tmp_path, warm):
    run = tmp_path / "run"
    run.mkdir()
    path = run / "events.out.tfevents.1.junk"
    with open(path, "wb") as f:
        f.write(_head() + b"".join(_scalar(i, float(i)) for i in range(1000)))
    with open(path, "r+b") as f:
        f.truncate(300 * MB)  # a sparse hole of zeros after the records
    got = _child_read(tmp_path, warm)
    assert got["points"] == {"run|loss": _tb_scalars(path)}
    assert len(got["points"]["run|loss"]) == 1000
    assert any("events.out.tfevents.1.junk" in w for w in got["warnings"]), got["warnings"]
    assert got["grew_kb"] * 1024 < 40 * MB, got["grew_kb"]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_link_costs_only_itself(tmp_path, warm):
    good = tmp_path / "good"
    w = tblog.SummaryWriter(str(good))
    for i in range(50):
        w.add_scalar("loss", 0.5 * i, i)
    w.close()
    bad = tmp_path / "bad"
    bad.mkdir()
    os.symlink("/dev/zero", bad / "events.out.tfevents.1.x")
    got = _child_read(tmp_path, warm)
    (good_file,) = good.iterdir()
    want = [[s, v] for s, v in _tb_scalars(good_file)]
    assert got["points"] == {"good|loss": want}
    assert [w for w in got["warnings"] if "events.out.tfevents.1.x" in w], got["warnings"]
    # one block read, and no more, before the damage ends the file
    blocks = stream.FileBlocks(LocalStorage(str(tmp_path)), str(bad / "events.out.tfevents.1.x"))
    assert list(blocks) == []
    assert blocks.damage is not None and "byte 0" in blocks.damage
    assert 0 < blocks.bytes_read <= stream.CHUNK


def _whole(data: bytes) -> tuple[int, str | None]:
    fr = decode.frames(data)
    return int(fr.starts.size), fr.damage


@pytest.mark.parametrize("chunk", [64, 1000, 4096, 1 << 16])
@pytest.mark.parametrize("damage", ["none", "data", "length", "cut"])
def test_blocks_read_what_the_whole_file_reads(tmp_path, monkeypatch, chunk, damage):
    """Any block size: the same records, the same payloads and the same damage message
    (byte offsets in the file) as decoding the whole file at once; a big record of an
    unwanted tag is skipped (counted, CRC checked), a wanted one is read."""
    monkeypatch.setattr(stream, "BIG", 2000)
    parts = [_head()]
    for i in range(300):
        parts.append(_scalar(i, float(i), "a" if i % 3 else "b"))
        if i % 50 == 7:
            parts.append(_big(i, 5000, "skip/me" if i % 100 == 7 else "keep"))
    data = bytearray(b"".join(parts))
    if damage == "data":
        data[len(data) // 2] ^= 0xFF
    elif damage == "length":
        at = sum(len(p) for p in parts[:200])
        data[at] ^= 0x01
    elif damage == "cut":
        data = data[:-7]
    path = tmp_path / "events.out.tfevents.1.t"
    path.write_bytes(bytes(data))
    n, why = _whole(bytes(data))
    blocks = stream.FileBlocks(
        LocalStorage(str(tmp_path)), str(path), skip=lambda t: t.startswith("skip"), chunk=chunk
    )
    payloads = [fr.payload(buf, i) for buf, fr in blocks for i in range(fr.starts.size)]
    whole = decode.frames(bytes(data))
    want = [whole.payload(bytes(data), i) for i in range(whole.starts.size)]

    def kept(ps: list[bytes]) -> list[bytes]:
        return [p for p in ps if b"skip/me" not in p[:64]]

    assert kept(want) == kept(payloads)
    if chunk < 5000:  # every big record is cut at a block's end: the unwanted ones skipped
        assert kept(payloads) == payloads
    assert blocks.records == n
    if damage == "cut":
        assert blocks.truncated and blocks.damage is not None
    else:
        assert blocks.damage == why


def test_file_growing_while_read_is_read_to_its_size_at_open(tmp_path):
    path = tmp_path / "events.out.tfevents.1.g"
    first = _head() + b"".join(_scalar(i, float(i)) for i in range(200))
    path.write_bytes(first)
    blocks = stream.FileBlocks(LocalStorage(str(tmp_path)), str(path), chunk=256)
    seen = appended = 0
    with open(path, "ab") as f:
        for _, fr in blocks:
            seen += fr.starts.size
            f.write(b"".join(_scalar(1000 + i, 1.0) for i in range(100)))  # never ends
            f.flush()
            appended += 100
    assert appended > 1
    assert seen == blocks.records == 201
    assert blocks.damage is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(tblog.scalars(str(tmp_path))) == 200 + appended
