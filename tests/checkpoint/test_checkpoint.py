"""tblog.CheckpointManager and the checkpoint records, read back with TensorBoard's loaders.

The kill test runs ``examples/torch_checkpoint_loop.py`` three times: once straight
through, logging with ``torch.utils.tensorboard`` (the anchor); once SIGKILLed at step 80
after saves at 0 and 50; once resumed. Both TensorBoard loaders (the Python one, through
``tests/support/tb.py`` and a ``--load_fast=false`` server, and the Rust data server,
``--load_fast=true``) must show the resumed log dir like the anchor's: every tag, one value
per step 0..119, the same values.
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
from checkpoint_records import recorded_paths, texts
from paths import EXAMPLES
from tbserver import TensorBoardServer

import tblog
from tblog.checkpoint.manager import CheckpointManager
from tblog.checkpoint.recorder import mark_resume

EXAMPLE = str(EXAMPLES / "torch_checkpoint_loop.py")
STEPS = 120


def pickle_save(state, path):
    with open(path, "wb") as f:
        pickle.dump(state, f)


def pickle_load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def manager(directory, **kw):
    return CheckpointManager(directory, save_fn=pickle_save, load_fn=pickle_load, **kw)


# ---------------------------------------------------------------- the manager itself
def test_save_restore_roundtrip_and_listing(tmp_path):
    m = manager(tmp_path / "ck")
    assert m.restore() is None and m.latest_checkpoint is None
    for step in (0, 7, 30):
        m.save(step, {"step": step, "w": np.arange(step + 1)})
    assert m.steps == [0, 7, 30]
    assert m.latest_checkpoint == str(tmp_path / "ck" / "ckpt-30.ckpt")
    step, state = m.restore()
    assert step == 30 and state["step"] == 30 and state["w"].tolist() == list(range(31))
    step, state = m.restore(m.checkpoints[1])
    assert step == 7 and state["step"] == 7


def test_torch_state_dicts_by_default(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    m = CheckpointManager(tmp_path)
    path = m.save(5, {"model": model.state_dict(), "optimizer": opt.state_dict()})
    assert path.endswith("ckpt-5.pt")
    step, state = CheckpointManager(tmp_path).restore()
    assert step == 5
    for k, v in model.state_dict().items():
        assert torch.equal(state["model"][k], v)
    assert state["optimizer"]["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_crash_during_save_leaves_latest_intact(tmp_path):
    def bad_save(state, path):
        with open(path, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    good = manager(tmp_path)
    good.save(10, "ten")
    bad = CheckpointManager(tmp_path, save_fn=bad_save, load_fn=pickle_load, suffix=".ckpt")
    with pytest.raises(OSError, match="disk full"):
        bad.save(20, "twenty")
    assert good.steps == [10]
    assert sorted(os.listdir(tmp_path)) == ["ckpt-10.ckpt"]
    assert good.restore() == (10, "ten")


def test_temporaries_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f".tmp-{int(dead.stdout)}-ckpt-20.ckpt"
    live = tmp_path / f".tmp-{os.getpid()}-ckpt-30.ckpt"
    stale.write_bytes(b"partial")
    live.write_bytes(b"in progress")
    m = manager(tmp_path)
    assert not stale.exists() and live.exists()
    assert m.latest_checkpoint is None


def test_max_to_keep_and_keep_every_n_steps(tmp_path):
    m = manager(tmp_path, max_to_keep=2, keep_every_n_steps=200)
    for step in range(0, 501, 50):
        m.save(step, step)
    # newest two, plus the first checkpoint of every 200-step stretch
    assert m.steps == [0, 200, 400, 450, 500]
    m2 = manager(tmp_path / "b", max_to_keep=3)
    for step in range(0, 301, 50):
        m2.save(step, step)
    assert m2.steps == [200, 250, 300]
    m3 = manager(tmp_path / "c", max_to_keep=None)
    for step in range(5):
        m3.save(step, step)
    assert m3.steps == list(range(5))


def test_save_interval_and_restored_step(tmp_path):
    m = manager(tmp_path, save_interval_steps=50)
    written = [s for s in range(0, 131) if m.save(s, s) is not None]
    assert written == [0, 50, 100]
    assert m.save(7, 7, force=True) is not None
    assert m.steps == [0, 7, 50, 100]
    m2 = manager(tmp_path, save_interval_steps=50)
    assert m2.restore() == (100, 100)
    assert not m2.should_save(100) and m2.save(100, "again") is None
    assert m2.save(150, 150) is not None and m2.should_save(100)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_to_keep": 0}, ValueError, "max_to_keep"),
        ({"max_to_keep": 1.5}, TypeError, "max_to_keep"),
        ({"keep_every_n_steps": -1}, ValueError, "keep_every_n_steps"),
        ({"save_interval_steps": 0}, ValueError, "save_interval_steps"),
        ({"writer": object()}, TypeError, "writer"),
        ({"save_fn": pickle_save}, ValueError, "together"),
        ({"prefix": ""}, ValueError, "prefix"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        CheckpointManager(tmp_path, **kwargs)


def test_bad_steps_and_paths(tmp_path):
    m = manager(tmp_path)
    with pytest.raises(ValueError, match="step"):
        m.save(-1, 0)
    with pytest.raises(ValueError, match="step"):
        m.save(1.5, 0)
    with pytest.raises(TypeError, match="step"):
        m.save("3", 0)
    with pytest.raises(ValueError, match="step"):
        m.save(2**63, 0)
    with pytest.raises(ValueError, match="path"):
        m.restore(tmp_path / "model.bin")
    with pytest.raises(FileNotFoundError):
        m.restore(tmp_path / "ckpt-3.ckpt")
    with pytest.raises(TypeError, match="directory"):
        CheckpointManager(3)
    with pytest.raises(ValueError, match="local path"):
        CheckpointManager("s3://bucket/ckpts")


def test_records_match_files_in_tensorboard(tmp_path):
    logdir, ckdir = tmp_path / "log", tmp_path / "ck"
    with tblog.SummaryWriter(logdir) as w:
        m = manager(ckdir, max_to_keep=2, writer=w)
        for step in (0, 10, 20, 30):
            m.save(step, step, metrics={"loss": 1.0 / (step + 1)})
    time.sleep(1.05)  # a later process: its event file sorts after the first one
    with tblog.SummaryWriter(logdir) as w:
        manager(ckdir, max_to_keep=2, writer=w).restore()
    series = tb.scalar_series(logdir, "checkpoint/step")
    assert series == [(s, float(s)) for s in (0, 10, 20, 30)]
    saved = texts(logdir, "checkpoint/saved")
    # nothing logged after the restore: the run is marked after the checkpoint, at 31,
    # and the record of the save at 30 stays
    assert [s for s, _ in saved] == [0, 10, 20, 30]
    assert "loss=0.0909091" in saved[1][1]
    restored = texts(logdir, "checkpoint/restored")
    assert [s for s, _ in restored] == [31]
    paths = recorded_paths(logdir)
    on_disk = {manager(ckdir).step_of(p): p for p in manager(ckdir).checkpoints}
    assert {s: paths[s][-1] for s in on_disk} == on_disk
    assert set(on_disk) == {20, 30}


# ---------------------------------------------------------------- kill and resume
def _run_example(logdir, *extra):
    return subprocess.run(
        [sys.executable, EXAMPLE, "--logdir", str(logdir), "--steps", str(STEPS), *extra],
        capture_output=True,
        text=True,
        timeout=240,
    )


def _stale_scenario(logdir, ckdir):
    """In-process: a crashed run logs tags that the resumed run never logs again."""
    w = tblog.SummaryWriter(logdir)
    m = manager(ckdir, save_interval_steps=50, writer=w)
    for step in range(80):
        m.save(step, {"step": step})
        w.add_scalar("a", step, step)
        w.add_scalars("grp", {"x": step, "y": -step}, step)
        if step in (10, 60, 75):
            w.add_scalar("late", step, step)
            w.add_histogram("hist", np.arange(5.0) + step, step)
            w.add_image("img", np.full((3, 4, 4), step, np.uint8), step)
            w.add_text("note", f"step {step}", step)
        if step >= 55:
            w.add_scalars("gone", {"z": step}, step)
    w.flush()  # then "crash": the process goes on without closing it
    time.sleep(1.05)  # event files sort by their name's seconds: the resumed file comes later
    w2 = tblog.SummaryWriter(logdir)
    m2 = manager(ckdir, save_interval_steps=50, writer=w2)
    start, _ = m2.restore()
    for step in range(start, 100):
        m2.save(step, {"step": step})
        w2.add_scalar("a", 1000 + step, step)
        w2.add_scalars("grp", {"x": 1000 + step, "y": -1000 - step}, step)
    w2.close()
    w.close()


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    ref = _run_example(root / "ref", "--torch-writer")  # the anchor, straight through
    assert ref.returncode == 0, ref.stderr
    crashed = _run_example(root / "resumed", "--kill-at", "80")
    assert crashed.returncode == -9, crashed.stderr
    steps_before = CheckpointManager(root / "resumed" / "checkpoints").steps
    again = _run_example(root / "resumed")
    assert again.returncode == 0, again.stderr
    assert "resumed from step 50" in again.stdout
    _stale_scenario(root / "stale", root / "stale_ck")
    return root, steps_before


@pytest.mark.slow
def test_torch_kill_resume_matches_uninterrupted_run(resumed):
    root, steps_before = resumed
    assert steps_before == [0, 50]
    ref, got = tb.mux_scalars(root / "ref"), tb.mux_scalars(root / "resumed")
    assert set(got) == set(ref) | {(".", "checkpoint/step")}
    assert {tag for _, tag in got} >= {"train/loss", "train/lr", "norms", "checkpoint/step"}
    for key, series in got.items():
        steps = [s for s, _ in series]
        if key[1] == "checkpoint/step":
            assert steps == [0, 50, 100]
            continue
        assert steps == list(range(STEPS)), key
        np.testing.assert_allclose(
            [v for _, v in series], [v for _, v in ref[key]], rtol=1e-5, err_msg=str(key)
        )


@pytest.mark.slow
def test_torch_checkpoint_records_match_files(resumed):
    root, _ = resumed
    run_dir = root / "resumed"
    m = CheckpointManager(run_dir / "checkpoints")
    assert m.steps == [0, 50, 100]
    assert tb.scalar_series(run_dir, "checkpoint/step") == [(s, float(s)) for s in m.steps]
    paths = recorded_paths(run_dir)
    assert sorted(paths) == m.steps
    assert {s: p[-1] for s, p in paths.items()} == {m.step_of(p): p for p in m.checkpoints}
    assert [s for s, _ in texts(run_dir, "checkpoint/restored")] == [50]


@pytest.mark.slow
def test_stale_tags_python_loader(resumed):
    root, _ = resumed
    got = tb.mux_scalars(root / "stale")
    assert got[(".", "a")] == [(s, float(s if s < 50 else 1000 + s)) for s in range(100)]
    assert got[("grp_y", "grp")] == [(s, float(-s if s < 50 else -1000 - s)) for s in range(100)]
    assert got[(".", "late")] == [(10, 10.0)]
    assert got.get(("gone_z", "gone"), []) == []
    acc = tb.accumulator(root / "stale")
    for tag in ("hist", "img", "note/text_summary"):
        assert [e.step for e in acc.Tensors(tag)] == [10], tag


@pytest.mark.slow
@pytest.mark.parametrize("load_fast", [False, True], ids=["python", "rust"])
def test_both_tensorboard_servers_agree(resumed, load_fast):
    root, _ = resumed
    expected = {}
    for name in ("ref", "resumed", "stale"):
        for (run, tag), series in tb.mux_scalars(root / name).items():
            expected[(name if run == "." else f"{name}/{run}", tag)] = series
    assert expected[("stale", "late")] == [(10, 10.0)]
    with TensorBoardServer(root, load_fast=load_fast) as server:
        provider = server.get_json("/data/environment")["debug"]["data_provider"]
        assert ("Grpc" in provider) == load_fast, provider

        def all_loaded():
            return all(server.scalars(r, t) == s for (r, t), s in expected.items())

        server.wait_for(all_loaded, timeout=90)
        # the sub-run that only the crashed process wrote (after the restore step) is empty
        assert [p for p in server.scalars("stale/gone_z", "gone") if p[0] >= 50] == []
        assert server.scalars("stale", "late") == [(10, 10.0)]
        # non-scalar tags that the resumed process never logs again: stale points dropped
        hist = server.get_json("/data/plugin/histograms/histograms", run="stale", tag="hist")
        assert [row[1] for row in hist] == [10]
        imgs = server.get_json("/data/plugin/images/images", run="stale", tag="img")
        assert [row["step"] for row in imgs] == [10]
        text = server.get_json("/data/plugin/text/text", run="stale", tag="note/text_summary")
        assert [row["step"] for row in text] == [10]


def test_everything_logged_before_a_save_is_on_disk_with_it(tmp_path):
    train, val = tblog.SummaryWriter(tmp_path / "train"), tblog.SummaryWriter(tmp_path / "val")
    try:
        m = manager(tmp_path / "ck", writer=[train, val])
        train.add_scalar("loss", 0.5, 3)
        val.add_scalar("loss", 0.25, 3)
        m.save(4, "state")
        # read at once (no flush, no close): a SIGKILL now must not lose these points
        assert tb.scalar_series(tmp_path / "val", "loss") == [(3, 0.25)]
        assert tb.scalar_series(tmp_path / "train", "loss") == [(3, 0.5)]
    finally:
        train.close()
        val.close()


def test_restore_marks_sub_runs_but_not_unrelated_runs_below(tmp_path):
    other = tmp_path / "other"  # another process's run that lives below our log dir
    code = (
        f"import tblog\nw = tblog.SummaryWriter({str(other)!r})\n"
        "for s in range(10): w.add_scalar('x', s, s)\nw.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with tblog.SummaryWriter(tmp_path) as w:
        for s in range(10):
            w.add_scalar("y", s, s)
            w.add_scalars("g", {"k": s}, s)
    time.sleep(1.05)
    with tblog.SummaryWriter(tmp_path) as w:
        mark_resume(w, 5)
        w.add_scalar("y", -5.0, 5)  # the main run re-runs step 5: marked at 5
    got = tb.mux_scalars(tmp_path)
    assert got[("other", "x")] == [(s, float(s)) for s in range(10)]
    assert got[(".", "y")] == [(s, float(s)) for s in range(5)] + [(5, -5.0)]
    # the sub-run logs nothing more: marked after the checkpoint at close, keeping step 5
    assert got[("g_k", "g")] == [(s, float(s)) for s in range(6)]


def test_manager_with_own_save_fn_imports_no_framework(tmp_path):
    code = (
        "import pickle, sys, tblog\n"
        f"w = tblog.SummaryWriter({str(tmp_path / 'log')!r})\n"
        f"m = tblog.CheckpointManager({str(tmp_path / 'ck')!r}, writer=w,\n"
        "    save_fn=lambda s, p: open(p, 'wb').write(pickle.dumps(s)),\n"
        "    load_fn=lambda p: pickle.loads(open(p, 'rb').read()))\n"
        "m.save(3, {'a': 1}); assert m.restore() == (3, {'a': 1}); w.close()\n"
        "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'jax') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_resume_a_run_started_by_torch_utils_tensorboard(tmp_path):
    """The crashed process logged with torch's own SummaryWriter (no START in its files);
    resuming with tblog still drops its points from the checkpoint on, in both the run
    and an add_scalars sub-run."""
    tut = pytest.importorskip("torch.utils.tensorboard")
    logdir, ckdir = tmp_path / "log", tmp_path / "ck"
    anchor = tut.SummaryWriter(str(logdir))
    m = manager(ckdir, save_interval_steps=50)
    for step in range(80):
        m.save(step, step)
        anchor.add_scalar("loss", step, step)
        anchor.add_scalars("pair", {"a": step}, step)
    anchor.close()
    time.sleep(1.05)
    with tblog.SummaryWriter(logdir) as w:
        m2 = manager(ckdir, save_interval_steps=50, writer=w)
        start, _ = m2.restore()
        for step in range(start, 100):
            w.add_scalar("loss", 1000 + step, step)
            w.add_scalars("pair", {"a": 1000 + step}, step)
    expected = [(s, float(s if s < 50 else 1000 + s)) for s in range(100)]
    got = tb.mux_scalars(logdir)
    assert got[(".", "loss")] == expected
    assert got[("pair_a", "pair")] == expected
