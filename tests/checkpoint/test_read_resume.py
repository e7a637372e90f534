"""The one reader after a crash and a checkpoint resume, judged by TensorBoard's loaders.

A writer process (``examples/torch_checkpoint_loop.py``) is SIGKILLed mid-run and resumed
with a ``tblog.CheckpointManager`` restore; an in-process run leaves tags that the resumed
run never logs again (their resume placeholders must never surface). ``tblog.scalars``,
``tblog.histograms``, ``tblog.read(purge=True)`` and the resume-scan helpers must show
what TensorBoard's server-side Python loader (``tests/support/tb.py``) and the Rust data server
(``tests/support/tbserver.py``, ``--load_fast=true``) show.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
import tb
from paths import EXAMPLES
from tbserver import TensorBoardServer

import tblog
from tblog.checkpoint.manager import CheckpointManager

pytestmark = pytest.mark.slow  # training SIGKILLed and resumed; the Rust data server

EXAMPLE = str(EXAMPLES / "torch_checkpoint_loop.py")


def _pickle_save(state, path):
    with open(path, "wb") as f:
        pickle.dump(state, f)


def _pickle_load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def _manager(directory, writer):
    return CheckpointManager(
        directory,
        save_fn=_pickle_save,
        load_fn=_pickle_load,
        save_interval_steps=50,
        writer=writer,
    )


def _stale(logdir, ckdir):
    """A crashed run whose tags ``late``, ``hist``, ``img``, ``gone`` are not logged again."""
    w = tblog.SummaryWriter(str(logdir))
    m = _manager(ckdir, w)
    for step in range(80):
        m.save(step, {"step": step})
        w.add_scalar("a", step, step)
        w.add_scalars("grp", {"x": step, "y": -step}, step)
        if step in (10, 60, 75):
            w.add_scalar("late", step, step)
            w.add_histogram("hist", np.arange(5.0) + step, step)
            w.add_image("img", np.full((3, 4, 4), step, np.uint8), step)
        if step >= 55:
            w.add_scalars("gone", {"z": step}, step)
    w.flush()  # "crash": never closed before the resume
    time.sleep(1.05)  # event file names sort by their seconds
    w2 = tblog.SummaryWriter(str(logdir))
    m2 = _manager(ckdir, w2)
    start, _ = m2.restore()
    for step in range(start, 100):
        m2.save(step, {"step": step})
        w2.add_scalar("a", 1000 + step, step)
        w2.add_scalars("grp", {"x": 1000 + step, "y": -1000 - step}, step)
    w2.close()
    w.close()


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    cmd = [sys.executable, EXAMPLE, "--logdir", str(root / "killed"), "--steps", "120"]
    crashed = subprocess.run([*cmd, "--kill-at", "80"], capture_output=True, timeout=240)
    assert crashed.returncode == -9, crashed.stderr
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0 and "resumed from step 50" in again.stdout, again.stderr
    _stale(root / "stale", root / "stale_ck")
    return root


def _ours(logdir) -> dict[tuple[str, str], list[tuple[int, float]]]:
    frame = tblog.scalars(str(logdir))
    out: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for run, tag, step, value in zip(frame.run, frame.tag, frame.step, frame.value, strict=True):
        out.setdefault((run, tag), []).append((int(step), float(value)))
    return out


def _assert_same(got, want):
    want = {key: series for key, series in want.items() if series}  # long rows: no empty tag
    assert set(got) == set(want)
    for key in want:
        assert [s for s, _ in got[key]] == [s for s, _ in want[key]], key
        np.testing.assert_allclose(
            [v for _, v in got[key]], [v for _, v in want[key]], rtol=1e-6, err_msg=str(key)
        )


@pytest.mark.parametrize("name", ["killed", "stale"])
def test_scalars_after_resume_match_python_loader(logs, name):
    want = tb.mux_scalars(logs / name)
    got = _ours(logs / name)
    _assert_same(got, want)
    steps = {key: [s for s, _ in v] for key, v in got.items()}
    for key, s in steps.items():  # no zig-zag, no duplicate step, in any series
        assert s == sorted(set(s)), key
    if name == "stale":
        assert got[(".", "late")] == [(10, 10.0)]
        assert ("gone_z", "gone") not in got or got[("gone_z", "gone")] == []


def test_scalars_after_resume_match_rust_data_server(logs):
    with TensorBoardServer(logs, load_fast=True) as server:
        tags = server.wait_for(
            lambda: (t := server.get_json("/data/plugin/scalars/tags")) and len(t) >= 2 and t
        )
        want = {}
        for run, run_tags in tags.items():
            for tag in run_tags:
                want[(run, tag)] = server.wait_for(lambda r=run, t=tag: server.scalars(r, t))
    ours = {}
    for name in ("killed", "stale"):
        for (run, tag), series in _ours(logs / name).items():
            ours[(name if run == "." else f"{name}/{run}", tag)] = series
    _assert_same(ours, want)


def test_histograms_and_purged_events_after_resume(logs):
    run_dir = logs / "stale"
    acc = tb.accumulator(run_dir)
    frame = tblog.histograms(str(run_dir))
    want = [(e.step, tb.array(e)) for e in acc.Tensors("hist")]
    assert frame.step.tolist() == [s for s, _ in want] == [10]
    for (_, arr), edges, counts in zip(want, frame.edges, frame.counts, strict=True):
        np.testing.assert_allclose(edges, np.append(arr[:, 0], arr[-1, 1]))
        np.testing.assert_allclose(counts, arr[:, 2])
    # tblog.read(purge=True) yields what the accumulator keeps, placeholders never included
    seen: dict[str, list[int]] = {}
    for run, event in tblog.read(str(run_dir), purge=True):
        if run == "." and event.HasField("summary"):
            for value in event.summary.value:
                seen.setdefault(value.tag, []).append(event.step)
    for tag in acc.Tags()["tensors"]:
        assert seen.get(tag, []) == [e.step for e in acc.Tensors(tag)], tag
    raw = [e.step for _, e in tblog.read(str(run_dir)) if e.HasField("summary")]
    assert len(raw) > sum(len(v) for v in seen.values())  # the raw stream keeps them


def tb_value(event) -> float:
    from tblog.core.read.values import scalar_of

    value = scalar_of(event.summary.value[0])
    assert value is not None
    return value


_DATA_CLASS = {1: "scalar", 2: "tensor", 3: "blob"}


def _run_dirs(root):
    for dirpath, _, files in os.walk(root):
        if any("tfevents" in f for f in files):
            yield dirpath


@pytest.mark.parametrize("which", ["killed", "stale"])
def test_resume_scan_agrees_with_reader_and_tensorboard(logs, which):
    """The recorder's scan (``resume_scan.scan_run``) reads each run as the one reader
    does and as TensorBoard's loaders do: every tag's data class as the server-side
    accumulator decides it, the tags and START that ``events.tags_since`` finds, and the
    values it keeps exactly the points the accumulator keeps after its purges."""
    from tensorboard import data_compat

    from tblog.checkpoint import resume_scan
    from tblog.core.proto import summary_pb2
    from tblog.core.read import events
    from tblog.core.storage import LocalStorage

    storage = LocalStorage(str(logs))
    seen_runs = 0
    for run_dir in _run_dirs(logs / which):
        seen_runs += 1
        keep = resume_scan.Keep(lambda _t: True, 0, 2**63 - 1, every=True)
        scan = resume_scan.scan_run(storage, run_dir, [keep])
        acc = tb.accumulator(run_dir)
        meta = acc.AllSummaryMetadata()
        assert scan.kinds == {t: _DATA_CLASS[m.data_class] for t, m in meta.items()}, run_dir
        paths = events.event_paths(storage, run_dir)
        for step in (0, 50, 51, 80, 10**6):
            assert (scan.stale(step), scan.has_start) == events.tags_since(storage, paths, step)
        got: dict[str, list[tuple[int, float, np.ndarray]]] = {}
        for tag, step, wall, data in scan.copies:
            value = data_compat.migrate_value(summary_pb2.Summary.Value.FromString(data))
            array = tb.tensor_util.make_ndarray(value.tensor)
            got.setdefault(tag, []).append((step, wall, array))
        want = {t: [(e.step, e.wall_time, tb.array(e)) for e in acc.Tensors(t)] for t in meta}
        want = {t: v for t, v in want.items() if v}
        assert set(got) == set(want), run_dir
        for tag, points in want.items():
            assert [(s, w) for s, w, _ in got[tag]] == [(s, w) for s, w, _ in points], tag
            for (_, _, a), (_, _, b) in zip(got[tag], points, strict=True):
                np.testing.assert_array_equal(a, b)
        # the last copy of each (tag, step) when not every copy is asked for
        upto = resume_scan.Keep(lambda _t: True, 0, 60)
        last = resume_scan.scan_run(storage, run_dir, [upto])
        assert set(last.kept) == {(t, s) for t, v in want.items() for s, _, _ in v if s <= 60}
    assert seen_runs >= 2
