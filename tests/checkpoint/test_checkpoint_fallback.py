"""A damaged latest checkpoint (issue #25 item 9): ``CheckpointManager.restore()`` names
the file it cannot load (the loader's error chained); ``restore(fallback=True)`` restores
the newest one that loads, warns naming the skipped ones, and records which one it used;
read back with TensorBoard's loader. torch's format (the one registry backend) and a
``save_fn``/``load_fn`` pair (pickle)."""

from __future__ import annotations

import os
import pickle
import time

import pytest
import tb

import tblog
from tblog.checkpoint import CheckpointManager, DamagedCheckpointError


def _pickle_save(state, path):
    with open(path, "wb") as f:
        pickle.dump(state, f)


def _pickle_load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def _torch_state(step):
    torch = pytest.importorskip("torch")
    return {"w": torch.full((64,), float(step)), "step": step}


def _pickle_state(step):
    return {"w": [float(step)] * 64, "step": step}


BACKENDS = {
    "torch": ({}, _torch_state),
    "pickle": ({"save_fn": _pickle_save, "load_fn": _pickle_load}, _pickle_state),
}


def _empty(path):
    open(path, "wb").close()


def _truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def _first_run(tmp_path, backend):
    """Steps 0..12 logged, checkpoints at 4, 8, 12 (each saved after its step is logged)."""
    kw, state = BACKENDS[backend]
    w = tblog.SummaryWriter(tmp_path / "log")
    m = CheckpointManager(tmp_path / "ck", writer=w, **kw)
    for s in range(13):
        w.add_scalar("loss", float(s), s)
        if s in (4, 8, 12):
            m.save(s, state(s))
    w.close()
    time.sleep(1.05)  # the next process's event files sort after these
    return m


def _manager(tmp_path, backend, writer=None):
    kw, _ = BACKENDS[backend]
    return CheckpointManager(tmp_path / "ck", writer=writer, **kw)


def _restored_texts(run_dir):
    acc = tb.accumulator(run_dir)
    out = []
    for e in acc.Tensors("checkpoint/restored/text_summary"):
        value = tb.array(e).reshape(-1)[0]
        out.append((e.step, value.decode() if isinstance(value, bytes) else str(value)))
    return out


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("damage", [_empty, _truncate], ids=["empty", "truncated"])
def test_damaged_latest_names_the_file(tmp_path, backend, damage):
    m = _first_run(tmp_path, backend)
    latest = m.latest_checkpoint
    damage(latest)
    with pytest.raises(DamagedCheckpointError) as info:
        _manager(tmp_path, backend).restore()
    assert latest in str(info.value)
    assert info.value.path == latest
    assert info.value.__cause__ is not None  # the loader's own error, chained


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("damage", [_empty, _truncate], ids=["empty", "truncated"])
def test_fallback_restores_the_newest_that_loads(tmp_path, backend, damage):
    m = _first_run(tmp_path, backend)
    latest = m.latest_checkpoint
    damage(latest)
    w = tblog.SummaryWriter(tmp_path / "log")
    m2 = _manager(tmp_path, backend, writer=w)
    with pytest.warns(RuntimeWarning, match=os.path.basename(latest)):
        step, state = m2.restore(fallback=True)
    assert (step, state["step"]) == (8, 8)
    for s in range(9, 16):
        w.add_scalar("loss", 100.0 + s, s)
        if s == 12:
            m2.save(s, BACKENDS[backend][1](s))  # replaces the damaged file
    w.close()
    log = tmp_path / "log"
    want = [(s, float(s) if s <= 8 else 100.0 + s) for s in range(16)]
    assert tb.scalar_series(log, "loss") == want
    frame = tblog.scalars(str(log), tags="^loss$")
    assert list(zip(frame.step, frame.value, strict=True)) == want
    # the restore record says which checkpoint was used and which was skipped
    (note,) = _restored_texts(log)
    assert note[0] == 9
    assert m2.path_for(8) in note[1] and latest in note[1] and "skipped" in note[1]
    # each checkpoint on disk has one save record: the damaged one's is not written again
    assert [s for s, _ in tb.scalar_series(log, "checkpoint/step")] == [4, 8, 12]
    assert _manager(tmp_path, backend).restore()[0] == 12


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_all_damaged_is_a_clear_error(tmp_path, backend):
    m = _first_run(tmp_path, backend)
    paths = m.checkpoints
    for p in paths:
        _empty(p)
    w = tblog.SummaryWriter(tmp_path / "log")
    with pytest.raises(DamagedCheckpointError, match="could be loaded") as info:
        _manager(tmp_path, backend, writer=w).restore(fallback=True)
    w.close()
    assert all(p in str(info.value) for p in paths)
    assert info.value.path == paths[-1]
    # nothing was marked: the first run's points are all still there
    assert tb.scalar_series(tmp_path / "log", "loss") == [(s, float(s)) for s in range(13)]


def test_without_fallback_an_older_damaged_file_is_not_touched(tmp_path):
    """Only the checkpoint asked for is loaded: a damaged older one does not matter."""
    m = _first_run(tmp_path, "pickle")
    _empty(m.checkpoints[0])
    step, state = _manager(tmp_path, "pickle").restore()
    assert (step, state["step"]) == (12, 12)
