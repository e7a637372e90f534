"""Kill and resume in both checkpoint orders, for CheckpointManager and the TensorFlow hook.

Each scenario runs ``tests/support/resume_workload.py`` (attempt 0) until a SIGKILL before step 13
(checkpoints at 0, 5, 10 are on disk), then again (attempt 1) to the end. TensorBoard's
Python loader (``tests/support/tb.py``, and a ``--load_fast=false`` server) and its Rust data
server (``--load_fast=true``) must show exactly one point per step for every tag (tensor
and ``simple_value`` scalars, histograms, images, text) with the values of the process
that logged that step last: in ``log-save`` order the resumed loop starts after the
checkpoint (step 10 is kept), in ``save-log`` order it runs step 10 again (replaced).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import tb
from paths import SUPPORT
from tbserver import TensorBoardServer

import tblog

pytestmark = pytest.mark.slow  # workloads SIGKILLed and resumed; TensorBoard servers

WORKLOAD = str(SUPPORT / "resume_workload.py")
STEPS, KILL, N = 24, 13, 10
SCENARIOS = [
    ("manager", "log-save"),
    ("manager", "save-log"),
    ("tf", "log-save"),
    ("tf", "save-log"),
]


def _run(logdir, ckdir, hook, order, *extra):
    return subprocess.run(
        [
            sys.executable,
            WORKLOAD,
            str(logdir),
            str(ckdir),
            "--hook",
            hook,
            "--order",
            order,
            "--steps",
            str(STEPS),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    for hook, order in SCENARIOS:
        name = f"{hook}-{order}"
        logdir, ckdir = root / "logs" / name, root / "ck" / name
        crashed = _run(logdir, ckdir, hook, order, "--kill-at", str(KILL))
        assert crashed.returncode == -9, crashed.stderr[-3000:]
        again = _run(logdir, ckdir, hook, order, "--attempt", "1")
        assert again.returncode == 0, again.stderr[-3000:]
        assert f"restored {N}" in again.stdout
    return root


def expected(hook, order):
    """``{tag: [(step, value)]}`` that TensorBoard must show in the main run (and val)."""
    first = 1 if (hook, order) == ("tf", "log-save") else 0
    mark = N + 1 if order == "log-save" else N  # the resumed loop's first step

    def v(step, mark=mark):
        return float(step + (1000 if step >= mark else 0))

    out = {tag: [(s, v(s)) for s in range(first, STEPS)] for tag in ("loss", "legacy")}
    out["crash_only"] = [(s, float(s)) for s in range(first, mark)]
    # val logs at multiples of 3: its first step >= N after the restore is 12, not N:
    # marked at N + 1, so its point at 9 stays and its crashed 12 is replaced
    out["val/val_loss"] = [(s, v(s, N + 1)) for s in range(first, STEPS) if s % 3 == 0]
    return out, first, mark


@pytest.mark.parametrize(("hook", "order"), SCENARIOS)
def test_python_loader_one_point_per_step(runs, hook, order):
    logdir = runs / "logs" / f"{hook}-{order}"
    want, first, mark = expected(hook, order)
    got = tb.mux_scalars(logdir)
    for tag, series in want.items():
        run, _, name = tag.rpartition("/")
        assert got[(run or ".", name)] == series, tag
    acc = tb.accumulator(logdir)
    for tag in ("hist", "img", "note/text_summary"):
        assert [e.step for e in acc.Tensors(tag)] == list(range(first, STEPS)), tag
    notes = [tb.array(e).item().decode() for e in acc.Tensors("note/text_summary")]
    assert notes == [f"step {s} attempt {int(s >= mark)}" for s in range(first, STEPS)]
    assert "note/text_summary" not in acc.PluginTagToContent("scalars")
    assert set(acc.PluginTagToContent("text")) == {
        "note/text_summary",
        "checkpoint/saved/text_summary",
        "checkpoint/restored/text_summary",
    }


def _texts(acc, tag):
    return [(e.step, tb.array(e).item().decode()) for e in acc.Tensors(tag + "/text_summary")]


@pytest.mark.parametrize(("hook", "order"), SCENARIOS)
def test_records_of_checkpoints_on_disk_survive(runs, hook, order):
    logdir = runs / "logs" / f"{hook}-{order}"
    _, first, mark = expected(hook, order)
    acc = tb.accumulator(logdir)
    saves = [s for s in range(first, STEPS) if s % 5 == 0]
    steps = [e.step for e in acc.Tensors("checkpoint/step")]
    assert steps == saves  # every save once, the restored one included
    saved = _texts(acc, "checkpoint/saved")
    assert [s for s, _ in saved] == saves
    for s, text in saved:
        assert text.startswith(f"step {s}: `") and f"-{s}" in text
    restored = _texts(acc, "checkpoint/restored")
    assert [s for s, _ in restored] == [mark]
    assert f"checkpoint of step {N}" in restored[0][1]


@pytest.mark.parametrize(("hook", "order"), SCENARIOS)
def test_tblog_scalars_last_copy_matches(runs, hook, order):
    logdir = runs / "logs" / f"{hook}-{order}"
    want, _, _ = expected(hook, order)
    df = tblog.scalars(str(logdir))
    for tag in ("loss", "legacy"):
        rows = df[(df.run == ".") & (df.tag == tag)] if "." in set(df.run) else df[df.tag == tag]
        last = dict(zip(rows.step.tolist(), rows.value.tolist(), strict=True))
        assert sorted(last.items()) == want[tag], tag


@pytest.mark.parametrize("load_fast", [False, True], ids=["python", "rust"])
def test_tensorboard_servers_show_one_point_per_step(runs, load_fast):
    logs = runs / "logs"
    with TensorBoardServer(logs, load_fast=load_fast) as server:
        for hook, order in SCENARIOS:
            name = f"{hook}-{order}"
            want, first, _ = expected(hook, order)
            for tag, series in want.items():
                run, _, t = tag.rpartition("/")
                full = f"{name}/{run}" if run else name
                server.wait_for(
                    lambda full=full, t=t, series=series: server.scalars(full, t) == series,
                    timeout=90,
                )
            hist = server.get_json("/data/plugin/histograms/histograms", run=name, tag="hist")
            assert [row[1] for row in hist] == list(range(first, STEPS)), name
            imgs = server.get_json("/data/plugin/images/images", run=name, tag="img")
            assert [row["step"] for row in imgs] == list(range(first, STEPS)), name
            if load_fast:  # the Python server samples text down to 10 points
                text = server.get_json("/data/plugin/text/text", run=name, tag="note/text_summary")
                assert [row["step"] for row in text] == list(range(first, STEPS)), name
            steps = [p[0] for p in server.scalars(name, "checkpoint/step")]
            assert steps == [s for s in range(first, STEPS) if s % 5 == 0], name


@pytest.mark.parametrize(("hook", "order"), SCENARIOS)
def test_every_tag_carries_one_plugin_only(runs, hook, order):
    """In the raw files (placeholders included), no tag has values of two plugins."""
    from tblog.reader.reader import parse_events

    logdir = runs / "logs" / f"{hook}-{order}"
    plugins: dict[str, set[str]] = {}
    for name in sorted(os.listdir(logdir)):
        if "tfevents" not in name:
            continue
        with open(logdir / name, "rb") as f:
            for event in parse_events(f.read()):
                for value in event.summary.value:
                    p = value.metadata.plugin_data.plugin_name
                    plugins.setdefault(value.tag, set()).update([p] if p else [])
    # torch-style values (simple_value, histo) carry no plugin metadata; none carries two
    assert {tag: sorted(p) for tag, p in plugins.items() if len(p) > 1} == {}
    assert any(plugins.values())  # the tensor-encoded tags do name their plugin
