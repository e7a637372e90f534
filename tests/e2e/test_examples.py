"""The first run: every example of ``examples/demo.py``, run as the demo runs it (same
scripts, arguments, environment and order, each in its own process), must

- learn: its loss curves, as TensorBoard's loader reads them, end clearly below where they
  start, every value finite;
- keep talking: its output (stdout and stderr, as a user sees them in a terminal or a pipe)
  says what it is about to load before the slow imports start. Checked by order, not by
  time: the examples run with ``PYTHONPROFILEIMPORTTIME=1``, which writes a line to stderr
  as each module is imported, into the same pipe as the examples' own lines; a line naming
  each framework of the example must come before that framework's first import line, and
  some line before the first import of any heavy package;
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
from dataclasses import dataclass, field

import numpy as np
import pytest
import tb
from paths import EXAMPLES

pytestmark = pytest.mark.slow  # runs every example of the demo

SKIP = {"tf_yolo_checkpoint.py"}  # see the module docstring
# Packages that take seconds of CPU to import: each must be preceded by a printed line.
HEAVY = ("torch", "tensorflow", "keras", "lightning", "jax", "sklearn", "matplotlib", "scipy")
# what a person reads for a module whose distribution has another name
SPOKEN = {"sklearn": ("sklearn", "scikit-learn")}
# ``import time: self [us] | cumulative | imported package`` (nesting by indentation)
_IMPORT_LINE = re.compile(r"import time:\s+(?:\d+|self \[us\])\s+\|\s+\S+\s+\|\s*(\S+)")


def _load_demo():
    spec = importlib.util.spec_from_file_location("demo", EXAMPLES / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


demo = _load_demo()


@dataclass
class Run:
    """One example's process: its exit code and its output in order, each entry either
    ``("line", text)`` (what the example printed) or ``("import", top-level package)``."""

    cmd: list[str]
    code: int = 0
    output: list[tuple[str, str]] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [text for kind, text in self.output if kind == "line"]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def first_import(self, package: str) -> int | None:
        """Index in ``output`` of the first import line of ``package`` (or a submodule)."""
        return next(
            (i for i, (k, t) in enumerate(self.output) if k == "import" and t == package), None
        )

    def lines_before(self, index: int) -> list[str]:
        return [text for kind, text in self.output[:index] if kind == "line"]


def run_example(script: str, args: list[str], cwd: str, timeout: float = 900) -> Run:
    """Run an example the way ``demo.py`` does, in ``cwd``, recording its output lines and
    its imports in the order they reach the pipe."""
    run = Run(demo.command(script, args))
    env = {**demo.child_env(), "PYTHONPROFILEIMPORTTIME": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        run.cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        for raw in proc.stdout:
            text = raw.decode(errors="replace").rstrip()
            m = _IMPORT_LINE.match(text)
            if m is None:
                run.output.append(("line", text))
            elif not m.group(1).startswith("imported"):  # not the header line
                run.output.append(("import", m.group(1).split(".")[0]))
        run.code = proc.wait()
    finally:
        watchdog.cancel()
        proc.stdout.close()
    return run


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """``(directory, {script: [(needs, args, Run), ...]})`` after every demo entry (but
    SKIP) ran in that one directory, in the demo's order."""
    cwd = tmp_path_factory.mktemp("first_run")
    runs: dict[str, list[tuple[tuple[str, ...], list[str], Run]]] = {}
    for _name, needs, script, args, expect_kill in demo.DEMOS:
        if script in SKIP or any(importlib.util.find_spec(m) is None for m in needs):
            continue  # as the demo skips what is not installed
        run = run_example(script, args, str(cwd))
        runs.setdefault(script, []).append((needs, args, run))
        want = -9 if expect_kill else 0
        assert run.code == want, f"{run.cmd} exited with {run.code}:\n{run.text[-3000:]}"
    return cwd, runs


def _frameworks(needs: tuple[str, ...], args: list[str]) -> list[str]:
    """The heavy packages an example is run for: the demo's ``needs`` and a ``--backend``."""
    named = list(needs)
    if "--backend" in args:
        named.append(args[args.index("--backend") + 1])
    return [n for n in named if n in HEAVY]


def test_each_framework_is_announced_before_its_import(first_run):
    _, runs = first_run
    checked = 0
    for script, entries in runs.items():
        for needs, args, run in entries:
            heavy = [i for i in map(run.first_import, HEAVY) if i is not None]
            if heavy:  # something is said before the first slow import starts
                assert run.lines_before(min(heavy)), (script, run.output[: min(heavy) + 1])
            for name in _frameworks(needs, args):
                first = run.first_import(name)
                assert first is not None, (script, name, "never imported?")
                words = "|".join(map(re.escape, SPOKEN.get(name, (name,))))
                said = [ln for ln in run.lines_before(first) if re.search(rf"\b(?:{words})\b", ln)]
                assert said, f"{script}: nothing names {name} before its import: {run.text[:500]}"
                checked += 1
            # progress while training, not only at the start and the end
            assert len(run.lines) >= 6, (script, run.text)
    assert checked >= 4, runs  # torch, keras (+ its torch backend), lightning at least


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
