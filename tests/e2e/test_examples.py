"""The first run: every example of ``examples/demo.py``, run as the demo runs it (same
scripts, arguments, environment and order, each in its own process), must

- learn: its loss curves, as TensorBoard's loader reads them, end clearly below where they
  start, every value finite;
- keep talking: its output (stdout and stderr, as a user sees them in a terminal or a pipe)
  has a line at least every ``GAP_CPU`` seconds of the process's CPU time, from its start
  to its exit. CPU time rather than wall-clock time, so that other work on the machine
  does not decide the result; the wall-clock gaps are in the failure message;
- never show ``nan`` in a text record (the checkpoint records in particular), and show
  the metrics of the state that a checkpoint holds in its record from the first one on.

``examples/tf_yolo_checkpoint.py`` is covered by ``tests/checkpoint/test_checkpoint_tf.py``.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pytest
import tb
from paths import EXAMPLES

# At most this many CPU seconds of an example without a line of output. The longest
# silences left are single imports that a script cannot split: keras with the torch
# backend (it imports torch._dynamo) and lightning, 4.5 to 6 CPU seconds each.
GAP_CPU = 8.0
SKIP = {"tf_yolo_checkpoint.py"}  # see the module docstring


def _load_demo():
    spec = importlib.util.spec_from_file_location("demo", EXAMPLES / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


demo = _load_demo()
_HAVE_PROC = os.path.exists("/proc/self/stat")  # elsewhere: wall-clock seconds stand in
_TICK = os.sysconf("SC_CLK_TCK") if _HAVE_PROC else 100


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live (or not yet reaped) process, from /proc."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14, 15)


@dataclass
class Run:
    """One example's process: its exit code and each output line with the wall-clock and
    CPU seconds since its start at which the line arrived; the last entry is its exit."""

    cmd: list[str]
    code: int = 0
    lines: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(text for _, _, text in self.lines)

    def gaps(self) -> list[tuple[float, float, str]]:
        """``(cpu gap, wall gap, line)`` before every line and before the exit."""
        out, wall0, cpu0 = [], 0.0, 0.0
        for wall, cpu, text in self.lines:
            out.append((cpu - cpu0, wall - wall0, text))
            wall0, cpu0 = wall, cpu
        return out


def run_example(script: str, args: list[str], cwd: str, timeout: float = 900) -> Run:
    """Run an example the way ``demo.py`` does, in ``cwd``, timing each line of its output."""
    run = Run(demo.command(script, args))
    start = time.monotonic()
    proc = subprocess.Popen(
        run.cmd, cwd=cwd, env=demo.child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        for raw in proc.stdout:
            wall = time.monotonic() - start
            cpu = _cpu_seconds(proc.pid) if _HAVE_PROC else wall
            run.lines.append((wall, cpu, raw.decode(errors="replace").rstrip()))
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        watchdog.cancel()
        proc.stdout.close()
    proc.returncode = run.code = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    run.lines.append((wall, usage.ru_utime + usage.ru_stime if _HAVE_PROC else wall, "<exit>"))
    return run


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """``(directory, {script: [Run, ...]})`` after every demo entry (but SKIP) ran in
    that one directory, in the demo's order."""
    cwd = tmp_path_factory.mktemp("first_run")
    runs: dict[str, list[Run]] = {}
    for _name, needs, script, args, expect_kill in demo.DEMOS:
        if script in SKIP or any(importlib.util.find_spec(m) is None for m in needs):
            continue  # as the demo skips what is not installed
        run = run_example(script, args, str(cwd))
        runs.setdefault(script, []).append(run)
        want = -9 if expect_kill else 0
        assert run.code == want, f"{run.cmd} exited with {run.code}:\n{run.text[-3000:]}"
    return cwd, runs


def test_output_at_least_every_few_cpu_seconds(first_run):
    _, runs = first_run
    report, silent = [], []
    for script, script_runs in runs.items():
        for run in script_runs:
            gaps = run.gaps()
            cpu, wall, line = max(gaps)
            report.append(
                f"{script}: {len(gaps) - 1} lines, {run.lines[-1][1]:.1f} s CPU, "
                f"{run.lines[-1][0]:.1f} s wall; longest silence {cpu:.1f} s CPU "
                f"({wall:.1f} s wall) before {line[:70]!r}"
            )
            if cpu > GAP_CPU:
                silent.append(report[-1])
            # progress while training, not only at the start and the end
            assert len(gaps) >= 6, report[-1]
    print("\n".join(report))
    assert not silent, "\n".join(silent)


def _falls(series: list[tuple[int, float]], what: str) -> None:
    values = np.array([v for _, v in series])
    assert len(values) >= 5, (what, series)
    assert np.isfinite(values).all(), (what, series)
    k = max(1, len(values) // 5)
    first, last = values[:k].mean(), values[-k:].mean()
    assert last < 0.5 * first, f"{what}: first {values[:k]} last {values[-k:]}"


# (script, run dir under the demo's directory, tag, the steps it must have or None)
CURVES = [
    ("quickstart.py", "runs/quickstart", "loss", list(range(500))),
    ("torch_tutorial.py", "runs/torch_tutorial", "training loss", None),
    ("keras_digits.py", "runs/keras_digits/train", "epoch_loss", None),
    ("keras_digits.py", "runs/keras_digits/validation", "epoch_loss", None),
    (
        "lightning_digits.py",
        "runs/lightning_digits/lightning_logs/version_0",
        "train/loss_step",
        None,
    ),
    ("lightning_digits.py", "runs/lightning_digits/lightning_logs/version_0", "val/loss", None),
    # killed at step 80, resumed from its checkpoint at 50: one curve, one value per step
    ("torch_checkpoint_loop.py", "runs/torch_checkpoint_loop", "train/loss", list(range(120))),
]


@pytest.mark.parametrize(
    ("script", "run_dir", "tag", "steps"), CURVES, ids=[f"{c[1]}:{c[2]}" for c in CURVES]
)
def test_loss_curves_fall(first_run, script, run_dir, tag, steps):
    cwd, runs = first_run
    if script not in runs:
        pytest.skip(f"the demo skips {script} here: its framework is not installed")
    series = tb.scalar_series(str(cwd / run_dir), tag)
    if steps is not None:
        assert [s for s, _ in series] == steps
    _falls(series, f"{run_dir}:{tag}")


def _texts(logdir) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """``{(run, tag): [(step, text)]}`` of every text tag under ``logdir`` (TensorBoard's
    multiplexer)."""
    mux = tb.multiplexer(str(logdir))
    out = {}
    for run, tags in mux.PluginRunToTagToContent("text").items():
        for tag in tags:
            out[(run, tag)] = [
                (e.step, " ".join(str(x.decode()) for x in tb.array(e).reshape(-1)))
                for e in mux.Tensors(run, tag)
            ]
    return out


def test_no_nan_in_any_record_or_scalar(first_run):
    cwd, _ = first_run
    texts = _texts(cwd / "runs")
    saved = [key for key in texts if key[1] == "checkpoint/saved/text_summary"]
    assert len(saved) >= 2, sorted(texts)  # the checkpoint loop's and Lightning's records
    for key, entries in texts.items():
        for step, text in entries:
            assert "nan" not in text.lower(), (key, step, text)
    for key, series in tb.mux_scalars(str(cwd / "runs")).items():
        assert all(math.isfinite(v) for _, v in series), (key, series)


def test_checkpoint_records_show_the_saved_state_metrics(first_run):
    cwd, _ = first_run
    records = _texts(cwd / "runs" / "torch_checkpoint_loop")[(".", "checkpoint/saved/text_summary")]
    # the records of the checkpoints still on disk survive the restore at 50 (issue #16)
    assert [s for s, _ in records] == [0, 50, 100]
    restored = _texts(cwd / "runs" / "torch_checkpoint_loop")[
        (".", "checkpoint/restored/text_summary")
    ]
    assert [s for s, _ in restored] == [50]
    losses = []
    for step, text in records:
        m = re.search(r"val_loss=(\S+?)[,)]", text)
        assert m, (step, text)
        losses.append(float(m.group(1)))
    assert all(math.isfinite(v) for v in losses), records
    # the untrained model of step 0 is no better than chance (ln 10 for 10 classes)
    assert losses[0] > 0.9 * math.log(10) and losses[-1] < 0.5 * losses[0], records


def test_demo_main_reports_times(tmp_path, capfd):
    """demo.py itself: runs what ``--only`` names, in order, and says what each took."""
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert demo.main(["--only", "numpy"]) == 0
    finally:
        os.chdir(old)
    out = capfd.readouterr().out
    assert re.search(r"-- numpy: examples/quickstart\.py .*\n(.*\n)*.*final loss", out), out
    assert re.search(r"done in \d+\.\d s \(\d+\.\d s CPU\)", out), out
    assert re.search(r"All of it took \d+\.\d s \(\d+\.\d s CPU\)", out), out
    assert "-- torch" not in out
    assert tb.scalar_series(str(tmp_path / "runs" / "quickstart"), "loss")
