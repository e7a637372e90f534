"""run/info: the run's provenance as one text summary at a writer's first write, read back
through TensorBoard's accumulator and text plugin; git fields in a temp repository (clean,
dirty, none); once per run even after close/reopen; no framework imported for it."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys

import pytest
import tb

import tblog
from tblog.core import runinfo


def _git(cwd, *args) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}  # fmt: skip
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository with one commit, as the working directory."""
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q")
    (path / "train.py").write_text("print('hi')\n")
    _git(path, "add", "train.py")
    _git(path, "commit", "-q", "-m", "first")
    monkeypatch.chdir(path)
    return path


def _infos(run_dir) -> list[tuple[int, str]]:
    """``[(step, text)]`` of run/info as TensorBoard's server-side accumulator reads it."""
    acc = tb.accumulator(str(run_dir))
    if runinfo.TAG not in acc.Tags()["tensors"]:
        return []
    assert acc.SummaryMetadata(runinfo.TAG).plugin_data.plugin_name == "text"
    return [(e.step, tb.array(e).item().decode()) for e in acc.Tensors(runinfo.TAG)]


def _write(logdir, **kwargs) -> None:
    w = tblog.SummaryWriter(str(logdir), **kwargs)
    w.add_scalar("loss", 1.0, 3)
    w.close()


def test_run_info_in_a_clean_repository(repo, tmp_path):
    pytest.importorskip("numpy")
    import numpy as np

    logdir = tmp_path / "logs"
    _write(logdir, run_info=True)
    [(step, text)] = _infos(logdir)
    assert step == 0
    info = runinfo.parse_markdown(text)
    assert info["git_commit"] == _git(repo, "rev-parse", "HEAD")
    assert info["git_dirty"] == "no"
    assert info["cwd"] == str(repo)
    assert info["host"] == socket.gethostname()
    assert info["pid"] == str(os.getpid())
    assert (info["rank"], info["world_size"]) == ("0", "1")
    assert info["python"] == platform.python_version()
    assert info["numpy"] == np.__version__
    assert info["command"].split()[0] == sys.argv[0]
    # TensorBoard's text plugin renders it as a table
    from tensorboard.plugins.text import text_plugin

    event = tb.accumulator(str(logdir)).Tensors(runinfo.TAG)[0]
    html = text_plugin.text_array_to_html(tb.array(event), enable_markdown=True)
    assert "<table>" in html and info["git_commit"] in html


def test_dirty_tree(repo, tmp_path):
    (repo / "train.py").write_text("print('changed')\n")
    _write(tmp_path / "logs", run_info=True)
    [(_, text)] = _infos(tmp_path / "logs")
    assert runinfo.parse_markdown(text)["git_dirty"] == "yes"


def test_untracked_files_leave_the_tree_clean(repo, tmp_path):
    (repo / "notes.txt").write_text("x")
    _write(tmp_path / "logs", run_info=True)
    [(_, text)] = _infos(tmp_path / "logs")
    assert runinfo.parse_markdown(text)["git_dirty"] == "no"


def test_no_git_fields_outside_a_repository_or_without_git(tmp_path, monkeypatch):
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    _write(tmp_path / "a", run_info=True)
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no git on the PATH
    _write(tmp_path / "b", run_info=True)
    for logdir in ("a", "b"):
        [(_, text)] = _infos(tmp_path / logdir)
        info = runinfo.parse_markdown(text)
        assert "git_commit" not in info and "git_dirty" not in info
        assert info["host"] == socket.gethostname()


def test_once_per_run_after_close_and_reopen(tmp_path):
    logdir = tmp_path / "logs"
    w = tblog.SummaryWriter(str(logdir), run_info=True)
    w.add_scalar("loss", 1.0, 0)
    w.close()
    w.add_scalar("loss", 2.0, 1)  # reopens: new event file, same run
    w.close()
    _write(logdir, run_info=True)  # another writer on the same run in this process
    assert len(_infos(logdir)) == 1
    assert len(tb.legacy_accumulator(str(logdir)).Tensors(runinfo.TAG)) == 1
    assert [e.step for e in tb.accumulator(str(logdir)).Tensors("loss")] == [0, 1, 3]


def test_opt_out_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("TBLOG_RUN_INFO")  # the suite's conftest turns it off
    _write(tmp_path / "default")  # on by default
    _write(tmp_path / "off", run_info=False)
    monkeypatch.setenv("TBLOG_RUN_INFO", "0")
    _write(tmp_path / "env_off")
    _write(tmp_path / "forced", run_info=True)
    assert len(_infos(tmp_path / "default")) == 1
    assert _infos(tmp_path / "off") == []
    assert _infos(tmp_path / "env_off") == []
    assert len(_infos(tmp_path / "forced")) == 1


def test_rank_and_world_size(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    _write(tmp_path / "rank_2", run_info=True, rank_zero_only=False)
    [(_, text)] = _infos(tmp_path / "rank_2")
    info = runinfo.parse_markdown(text)
    assert (info["rank"], info["world_size"]) == ("2", "4")


def test_resumed_run_keeps_its_info_at_the_purge_step(tmp_path):
    """A resumed process logs its info at the purge step, after the START that purges the
    crashed process's later points: both processes' info survive."""
    logdir = tmp_path / "logs"
    w = tblog.SummaryWriter(str(logdir), run_info=True)
    for step in range(10):
        w.add_scalar("loss", float(step), step)
    w.close()
    from tblog.system import run_info as hook

    hook._done.clear()  # as in a new process
    w = tblog.SummaryWriter(str(logdir), purge_step=5, run_info=True)
    w.add_scalar("loss", 50.0, 5)
    w.close()
    assert [s for s, _ in _infos(logdir)] == [0, 5]
    assert [e.step for e in tb.accumulator(str(logdir)).Tensors("loss")] == [0, 1, 2, 3, 4, 5]


def test_markdown_round_trip_with_awkward_values():
    info = {"command": "python a|b.py --x='1\\2'\nnext", "cwd": "/tmp/|x|", "rank": "0"}
    table = runinfo.markdown(info)
    assert table.count("\n") == 4  # header, rule, three rows: one line each
    back = runinfo.parse_markdown(table)
    assert back == {k: v.replace("\n", " ") for k, v in info.items()}


def test_no_framework_is_imported_for_it(tmp_path):
    code = (
        "import sys, tblog\n"
        "w = tblog.SummaryWriter(sys.argv[1], run_info=True)\n"
        "w.add_scalar('loss', 1.0, 0)\n"
        "w.close()\n"
        "print(sorted(m for m in ('torch', 'tensorflow', 'jax', 'keras') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
    [(_, text)] = _infos(tmp_path)
    info = runinfo.parse_markdown(text)
    assert not {"torch", "tensorflow", "jax", "keras"} & set(info)
    assert "numpy" in info
