"""The README's examples run as a new user runs them: copied as they are.

Each ```python block runs in a fresh interpreter, in its own empty directory, unless an
HTML comment ``<!-- fragment: why -->`` on the line before says it needs the reader's own
code (a model, a training step); fragments must still parse. What a snippet writes is read
back with TensorBoard's own loader, and no two snippets write to the same run directory
(a second snippet used to trip over the first one's ``logs``/``ckpts``).

The command-line block runs too (but ``tblog board``, a server): its documented
``tblog export ... --format parquet ... > loss.parquet`` writes Parquet to a redirected
stdout, which TensorBoard's values must match.
"""

from __future__ import annotations

import math
import os
import pathlib
import pty
import re
import shlex
import subprocess
import sys

import pandas as pd
import pytest
import tb
from paths import ROOT

README = (ROOT / "README.md").read_text()
BLOCK = re.compile(
    r"^(<!-- fragment:(?P<why>[^\n]*)-->\n)?```(?P<lang>\w+)\n(?P<code>.*?)^```", re.M | re.S
)


def _blocks(lang: str) -> list[tuple[int, str | None, str]]:
    """``[(line number, fragment reason or None, code)]`` of the README's ``lang`` blocks."""
    out = []
    for m in BLOCK.finditer(README):
        if m.group("lang") == lang:
            line = README.count("\n", 0, m.start("code")) + 1
            out.append((line, m.group("why"), m.group("code")))
    return out


RUNNABLE = [(line, code) for line, why, code in _blocks("python") if why is None]
FRAGMENTS = [(line, why, code) for line, why, code in _blocks("python") if why is not None]


def _env() -> dict[str, str]:
    src = str(ROOT / "src")
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": src if not path else f"{src}{os.pathsep}{path}",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }


def _run_dirs(root: pathlib.Path) -> set[str]:
    """Directories (relative to ``root``) that hold an event file."""
    return {
        os.path.relpath(here, root)
        for here, _dirs, files in os.walk(root)
        if any("tfevents" in f for f in files)
    }


@pytest.mark.parametrize(("line", "why", "code"), FRAGMENTS, ids=[f"line{b[0]}" for b in FRAGMENTS])
def test_fragments_parse_and_say_why(line, why, code):
    compile(code, f"README.md:{line}", "exec")
    assert why.strip(), f"README.md:{line}: a fragment marker must say what it needs"


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> dict[int, pathlib.Path]:
    """Every runnable snippet, each run once in its own empty directory."""
    out = {}
    for line, code in RUNNABLE:
        cwd = tmp_path_factory.mktemp(f"readme_line{line}")
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=cwd,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"README.md:{line} failed:\n{proc.stderr[-3000:]}"
        out[line] = cwd
    return out


@pytest.mark.slow
@pytest.mark.parametrize("line", [b[0] for b in RUNNABLE], ids=[f"line{b[0]}" for b in RUNNABLE])
def test_snippet_runs_and_tensorboard_reads_its_scalars(ran, line):
    cwd = ran[line]
    runs = _run_dirs(cwd)
    assert runs, f"README.md:{line} wrote no event file"
    scalars = tb.mux_scalars(str(cwd))
    assert scalars, f"README.md:{line}: TensorBoard reads no scalar"
    for (run, tag), points in scalars.items():
        assert points, (run, tag)
        assert all(math.isfinite(v) for _, v in points), (run, tag)


def _owned(cwd: pathlib.Path) -> set[str]:
    """What a snippet writes, by its first two path parts (``runs/torch_exp1``,
    ``logs/keras_fit``, ``ckpts/ckpt_loop``)."""
    dirs = _run_dirs(cwd)
    ckpts = cwd / "ckpts"
    if ckpts.is_dir():
        dirs |= {f"ckpts/{d.name}" for d in ckpts.iterdir()}
    return {"/".join(pathlib.Path(d).parts[:2]) for d in dirs}


@pytest.mark.slow
def test_snippets_write_to_their_own_directories(ran):
    seen: dict[str, int] = {}
    for line, cwd in ran.items():
        for path in _owned(cwd):
            assert path not in seen, f"README.md:{line} and :{seen[path]} both write {path}"
            seen[path] = line


# ---------------------------------------------------------------------------- command line
def _cli_lines() -> list[str]:
    """The README's ``tblog ...`` command lines (comments dropped), ``board`` left out."""
    lines = []
    for _line, why, code in _blocks("bash"):
        if why:  # a fragment: names the reader's own program (tests/patch runs the launcher)
            continue
        for text in code.splitlines():
            text = text.split("  #")[0].strip()
            if text.startswith("tblog ") and not text.startswith("tblog board"):
                lines.append(text)
    return lines


def _write_runs(root: pathlib.Path) -> None:
    import tblog

    for name, scale in (("a", 1.0), ("b", 2.0)):
        with tblog.SummaryWriter(str(root / "runs" / name)) as w:
            for step in range(20):
                w.add_scalar("loss", scale / (step + 1), step)
                w.add_scalar("loss_val", scale / (step + 2), step)
                w.add_scalar("acc", step / 20, step)


def test_readme_command_lines_run(tmp_path):
    lines = _cli_lines()
    assert any("export" in ln and ">" in ln for ln in lines), lines
    _write_runs(tmp_path)
    for text in lines:
        cmd = text.replace("tblog ", f"{shlex.quote(sys.executable)} -m tblog ", 1)
        proc = subprocess.run(
            cmd, shell=True, cwd=tmp_path, env=_env(), capture_output=True, timeout=300
        )
        assert proc.returncode == 0, (text, proc.stderr.decode()[-2000:])
    export = next(ln for ln in lines if "export" in ln and "parquet" in ln)
    target = shlex.split(export)[-1]
    frame = pd.read_parquet(tmp_path / target)
    tag = re.compile(shlex.split(export)[shlex.split(export).index("--tag") + 1])
    want = {
        key: pts
        for key, pts in tb.mux_scalars(str(tmp_path / "runs")).items()
        if tag.search(key[1])
    }
    got: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for run, t, step, value in frame[["run", "tag", "step", "value"]].itertuples(index=False):
        got.setdefault((run, t), []).append((int(step), float(value)))
    assert got == want


def test_export_parquet_refuses_a_terminal(tmp_path):
    """Binary Parquet is not written to a terminal; ``-o`` still works."""
    _write_runs(tmp_path)
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tblog", "export", "runs", "--format", "parquet"],
            cwd=tmp_path,
            env=_env(),
            stdout=secondary,
            stderr=subprocess.PIPE,
            timeout=300,
        )
        os.set_blocking(primary, False)
        try:
            shown = os.read(primary, 1 << 16)
        except BlockingIOError:
            shown = b""
    finally:
        os.close(primary)
        os.close(secondary)
    assert proc.returncode == 2
    assert b"-o FILE" in proc.stderr
    assert b"PAR1" not in shown
    out = tmp_path / "rows.parquet"
    args = ["export", "runs", "--format", "parquet", "-o", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "tblog", *args], cwd=tmp_path, env=_env(), capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_parquet(out)) == 2 * 3 * 20


@pytest.mark.parametrize(
    ("fmt", "blocked", "named"), [("csv", "pandas", "pandas"), ("parquet", "pyarrow", "pyarrow")]
)
def test_export_without_the_cli_extra_says_what_to_install(tmp_path, fmt, blocked, named):
    _write_runs(tmp_path)
    code = (
        "import sys; sys.modules[sys.argv[1]] = None; sys.modules['fastparquet'] = None; "
        "from tblog.cli import main; sys.exit(main(sys.argv[2:]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, blocked, "export", "runs", "--format", fmt, "-o", "x"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert named in proc.stderr and "tblog[cli]" in proc.stderr
    assert not (tmp_path / "x").exists()
