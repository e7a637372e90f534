"""The ``tblog`` command: ``ls``, ``export``, ``plot``, ``board`` and ``python -m tblog``.

What the command prints or writes is compared with what TensorBoard's own loader
(``tests/tb.py``) reads from the same log dir, for logs written by tblog and by
``torch.utils.tensorboard`` (the anchor).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings

import numpy as np
import pandas as pd
import pytest
import tb as tbload
from PIL import Image

import tblog
from tblog.cli import main
from tblog.cli.board import free_port


# ---------------------------------------------------------------------------- fixtures
def _write_mixed(writer) -> None:
    """Scalars, add_scalars, histograms and images through a torch-style writer."""
    rng = np.random.default_rng(0)
    for step in range(0, 200, 7):
        writer.add_scalar("train/loss", 5.0 / (step + 1), step)
        writer.add_scalars("lr", {"g0": 0.1 * step, "g1": 0.2}, step)
        if step % 35 == 0:
            writer.add_histogram("w", rng.normal(size=100), step)
            writer.add_image("img", rng.integers(0, 255, (4, 5, 3), dtype=np.uint8), step,
                             dataformats="HWC")  # fmt: skip
    writer.add_scalar("eval/acc", 0.75, 1000)
    writer.close()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """Runs written by tblog (``tblog/...``) and by torch (``torch/...``)."""
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    root = tmp_path_factory.mktemp("cli")
    _write_mixed(tblog.SummaryWriter(str(root / "tblog")))
    _write_mixed(TorchWriter(str(root / "torch")))
    # Awkward but legal: non-ASCII and long tags (2-byte length varints), huge steps.
    w = tblog.SummaryWriter(str(root / "tblog_odd"))
    long_tag = "x" * 200
    for i in range(50):
        w.add_scalar("ünï/cödé", -1.5 * i, i)
        w.add_scalar("acc[bold]top1[/bold]", i / 50, i)  # not rich markup
        w.add_scalar(long_tag, float(i), 2**40 + i)
    w.close()
    return root


def tb_series(logdir) -> dict[tuple[str, str], tuple[str, list[int], list[float] | None]]:
    """``{(run, tag): (plugin, steps, scalar values or None)}`` as TensorBoard loads it."""
    mux = tbload.multiplexer(str(logdir))
    out = {}
    for run in mux.Runs():
        acc = mux.GetAccumulator(run)
        for tag in acc.Tags()["tensors"]:
            plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
            events = acc.Tensors(tag)
            values = None
            if plugin == "scalars":
                values = [float(tbload.array(e).item()) for e in events]
            out[(run, tag)] = (plugin, [e.step for e in events], values)
    return out


def _export(logdir, fmt: str, tmp_path, *extra: str) -> pd.DataFrame:
    out = tmp_path / f"rows.{fmt}"
    assert main(["export", str(logdir), "--format", fmt, "-o", str(out), *extra]) == 0
    if fmt == "csv":
        return pd.read_csv(out, keep_default_na=False, dtype={"run": str, "tag": str})
    if fmt == "parquet":
        return pd.read_parquet(out)
    return pd.DataFrame(json.loads(out.read_text()))


def _rows_by_series(frame: pd.DataFrame) -> dict[tuple[str, str], list[tuple[int, float]]]:
    out: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for run, tag, step, value in frame[["run", "tag", "step", "value"]].itertuples(index=False):
        out.setdefault((str(run), str(tag)), []).append((int(step), float(value)))
    return out


# ---------------------------------------------------------------------------- export
@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_export_matches_tensorboard(logdir, tmp_path, fmt):
    frame = _export(logdir, fmt, tmp_path)
    assert list(frame.columns) == ["run", "tag", "step", "wall_time", "value"]
    want = {key: list(zip(steps, values, strict=True))
            for key, (plugin, steps, values) in tb_series(logdir).items()
            if plugin == "scalars" and values is not None}  # fmt: skip
    assert _rows_by_series(frame) == want
    assert (frame["wall_time"] > 1e9).all()


def test_export_tag_filter_and_stdout(logdir, capsys):
    assert main(["export", str(logdir), "--format", "csv", "--tag", r"^train/"]) == 0
    frame = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert set(frame["tag"]) == {"train/loss"}
    want = {key: list(zip(steps, values, strict=True))
            for key, (_, steps, values) in tb_series(logdir).items()
            if key[1] == "train/loss"}  # fmt: skip
    assert _rows_by_series(frame) == want


def test_export_restart_and_truncated_tail(tmp_path):
    """A resumed run (purge_step) and a half-written last record read as TensorBoard
    reads them."""
    run = tmp_path / "logs" / "run"
    w = tblog.SummaryWriter(str(run))
    for step in range(10):
        w.add_scalar("loss", float(step), step)
    w.close()
    w = tblog.SummaryWriter(str(run), purge_step=5)
    for step in range(5, 8):
        w.add_scalar("loss", 100.0 + step, step)
    w.close()
    newest = sorted(p for p in os.listdir(run) if "tfevents" in p)[-1]
    with open(run / newest, "ab") as f:
        f.write(b"\x30\x00\x00\x00\x00\x00\x00\x00\x01\x02")  # a record cut off mid-header
    frame = _export(tmp_path / "logs", "csv", tmp_path)
    _, steps, values = tb_series(tmp_path / "logs")[("run", "loss")]
    assert _rows_by_series(frame) == {("run", "loss"): list(zip(steps, values, strict=True))}


def test_fast_path_on_awkward_scalars_matches_tensorboard(tmp_path):
    """Random tags (1-300 bytes, non-ASCII), steps (negative, huge) and values (NaN, inf)
    interleaved with non-scalar events: ``tblog.core.read.scan`` reads what TensorBoard reads."""
    from tblog.core.read.scan import load

    rng = np.random.default_rng(1)
    alphabet = [*"abcxyz/_-.0123456789", "é", "ß", "日", "本"]
    tags = ["".join(rng.choice(alphabet, size=n)) for n in (1, 5, 126, 127, 128, 200, 300)]
    specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e38, 1e-45]
    w = tblog.SummaryWriter(str(tmp_path / "run"))
    for i in range(400):
        tag = tags[int(rng.integers(len(tags)))]
        step = int(rng.choice([i, -i, 2**31 + i, 2**53 + i, 2**62 + i]))
        value = (
            float(rng.choice(specials))
            if i % 9 == 0
            else float(rng.normal() * 10.0 ** rng.integers(-5, 6))
        )
        w.add_scalar(tag, value, step)
        if i % 50 == 0:
            w.add_text("note", f"text {i}", i)
            w.add_histogram("hist", rng.normal(size=10), i)
    w.close()
    got = load(str(tmp_path))["run"]
    want = tb_series(tmp_path)
    assert set(got) == {tag for (_, tag) in want}
    for (_, tag), (plugin, steps, values) in want.items():
        assert got[tag].plugin == plugin, tag
        assert got[tag].steps.tolist() == steps, tag
        if values is not None:
            np.testing.assert_array_equal(got[tag].values, np.array(values), err_msg=tag)
    # JSON export is strict JSON: non-finite values become null, the rest keep every bit.
    out = tmp_path / "rows.json"
    assert main(["export", str(tmp_path), "--format", "json", "-o", str(out)]) == 0

    def no_constants(name: str) -> None:
        raise AssertionError(f"non-JSON constant {name}")

    rows = json.loads(out.read_text(), parse_constant=no_constants)
    exported = {}
    for row in rows:
        exported.setdefault(row["tag"], []).append(row["value"])
    for (_, tag), (plugin, _, values) in want.items():
        if plugin == "scalars":
            assert exported[tag] == [v if np.isfinite(v) else None for v in values], tag


def test_export_after_mark_resume_matches_tensorboard(tmp_path):
    """A run resumed with ``mark_resume`` (placeholders + START): the stale points and the
    placeholders are gone, as under TensorBoard's Python loader."""
    from tblog.checkpoint.recorder import mark_resume

    run = tmp_path / "logs" / "run"
    w = tblog.SummaryWriter(str(run))
    for step in range(10):
        w.add_scalar("loss", float(step), step)
        w.add_scalar("lr", 0.1, step)
        w.add_histogram("w", np.arange(5.0) + step, step)
    w.close()
    w = tblog.SummaryWriter(str(run))
    mark_resume(w, 6)
    for step in range(6, 8):
        w.add_scalar("loss", 100.0 + step, step)
    w.close()
    frame = _export(tmp_path / "logs", "csv", tmp_path)
    want = tb_series(tmp_path / "logs")
    assert _rows_by_series(frame) == {
        key: list(zip(steps, values, strict=True))
        for key, (plugin, steps, values) in want.items()
        if plugin == "scalars"
    }
    assert [s for s, _ in _rows_by_series(frame)[("run", "lr")]] == list(range(6))
    from tblog.core.read.scan import load

    assert load(str(tmp_path / "logs"))["run"]["w"].steps.tolist() == want[("run", "w")][1]


def test_live_file_cut_mid_record_reads_like_tensorboard(tmp_path):
    """A file whose last record is still being written (cut at any byte) keeps every
    complete record, on the fast path, as TensorBoard does."""
    from tblog.core.format.decode import frames
    from tblog.core.read.scan import load

    src = tmp_path / "src"
    w = tblog.SummaryWriter(str(src))
    for step in range(30):
        w.add_scalar("loss", step * 0.5, step)
    w.close()
    (name,) = [f for f in os.listdir(src) if "tfevents" in f]
    data = (src / name).read_bytes()
    for cut in (1, 4, 12, 13, 20, 33):
        run = tmp_path / f"cut{cut}"
        run.mkdir()
        (run / name).write_bytes(data[:-cut])
        assert frames(data[:-cut]).truncated, cut
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a live writer's partial record is no damage
            got = load(str(run))["."]["loss"]
        want = tbload.scalar_series(str(run), "loss")
        assert list(zip(got.steps.tolist(), got.values.tolist(), strict=True)) == want, cut
        assert len(want) == 29  # only the last point is lost


def test_export_of_missing_logdir_and_bad_regex(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--tag", "("]) == 2
    assert "tag" in capsys.readouterr().err


# ---------------------------------------------------------------------------- ls
def _ls_rows(out: str) -> dict[tuple[str, str], list[str]]:
    """``{(run, tag): [plugin, steps, count, last]}`` from the rich tables."""
    rows: dict[tuple[str, str], list[str]] = {}
    run = None
    for line in out.splitlines():
        if line.startswith("run "):
            run = line[4:].strip()
        elif line.startswith("│") and run is not None:
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[(run, cells[0])] = cells[1:]
    return rows


def test_ls_matches_tensorboard(logdir, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["ls", str(logdir)]) == 0
    rows = _ls_rows(capsys.readouterr().out)
    want = tb_series(logdir)
    assert set(rows) == set(want)
    for key, (plugin, steps, values) in want.items():
        got_plugin, got_steps, count, last = rows[key]
        assert got_plugin == plugin, key
        assert got_steps == f"{min(steps)}..{max(steps)}", key
        assert int(count) == len(steps), key
        if values is not None:
            assert float(last) == pytest.approx(values[-1], rel=1e-5), key
    # torch's and tblog's runs list the same tags with the same steps.
    ours = {(r.removeprefix("tblog"), t): v for (r, t), v in rows.items() if r.startswith("tblog")
            and not r.startswith("tblog_odd")}  # fmt: skip
    theirs = {
        (r.removeprefix("torch"), t): v for (r, t), v in rows.items() if r.startswith("torch")
    }
    assert ours == theirs


def test_ls_many_runs(tmp_path, capsys, monkeypatch):
    """20 runs x 20k points through the fast path; a sample of runs checked against
    TensorBoard (the 100 x 100k case is measured by hand, see the report)."""
    from tblog.core.read.scan import load

    root = tmp_path / "many"
    for r in range(20):
        w = tblog.SummaryWriter(str(root / f"run{r:02d}"), max_queue=100_000)
        for i in range(20_000):
            w.add_scalar("loss", 1.0 / (i + 1) + r, i)
        w.close()
    started = time.perf_counter()
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["ls", str(root)]) == 0
    elapsed = time.perf_counter() - started
    rows = _ls_rows(capsys.readouterr().out)
    assert len(rows) == 20
    for r in (0, 7, 19):
        series = tbload.scalar_series(str(root / f"run{r:02d}"), "loss")
        assert rows[(f"run{r:02d}", "loss")] == [
            "scalars",
            f"0..{len(series) - 1}",
            str(len(series)),
            f"{series[-1][1]:.6g}",
        ]
        got = load(str(root / f"run{r:02d}"))["."]["loss"]
        assert list(zip(got.steps.tolist(), got.values.tolist(), strict=True)) == series
    print(f"tblog ls: 20 runs x 20k points in {elapsed:.2f} s")


def test_ls_progress_on_long_loads(logdir, capsys, monkeypatch):
    """Past ``PROGRESS_BYTES`` a progress bar runs (on stderr) and the table is unchanged."""
    import tblog.cli.commands as cli_main
    from tblog.core.read.scan import load

    calls: list[tuple[int, int]] = []
    load(str(logdir), progress=lambda done, total: calls.append((done, total)), workers=1)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(logdir) for f in fs
                if "tfevents" in f)  # fmt: skip
    assert [t for _, t in calls] == [total] * len(calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and calls[-1][0] == total
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["ls", str(logdir)]) == 0
    plain = capsys.readouterr().out
    monkeypatch.setattr(cli_main, "PROGRESS_BYTES", 0)
    assert main(["ls", str(logdir)]) == 0
    assert capsys.readouterr().out == plain


# ---------------------------------------------------------------------------- plot
def test_plot_png(logdir, tmp_path):
    root = tmp_path / "logs"
    for run, sign in (("a_falls", -1.0), ("b_rises", 1.0)):
        w = tblog.SummaryWriter(str(root / run))
        for step in range(100):
            w.add_scalar("train/loss", sign * step, step)
            w.add_scalar("other", 0.0, step)
        w.close()
    out = tmp_path / "loss.png"
    argv = ["plot", str(root), "--tag", "^train/", "-o", str(out), "--width", "640",
            "--height", "480", "--smoothing", "0.6"]  # fmt: skip
    assert main(argv) == 0
    image = Image.open(out)
    assert image.format == "PNG" and image.size == (640, 480)
    rgb = np.asarray(image.convert("RGB")).astype(int)
    # One line per run, in matplotlib's tab10 colours in run order (blue, orange).
    for colour, rises in (([31, 119, 180], False), ([255, 127, 14], True)):
        close = np.abs(rgb - colour).sum(axis=2) < 40
        ys, xs = np.nonzero(close)
        assert xs.size > 200, colour
        assert xs.max() - xs.min() > 300, colour
        # Median height per pixel column (robust to the legend's short swatch).
        cols = np.unique(xs)
        heights = np.array([np.median(ys[xs == c]) for c in cols])
        left = np.median(heights[: len(cols) // 5])
        right = np.median(heights[-len(cols) // 5 :])
        assert (right < left - 100) if rises else (right > left + 100), colour
    assert main(["plot", str(root), "--tag", "^nothing$", "-o", str(tmp_path / "n.png")]) == 1
    assert not (tmp_path / "n.png").exists()


def test_smoothing_is_tensorboards_debiased_ema():
    from tblog.cli.plot import smooth

    values = np.array([1.0, 1.0, 1.0, np.nan, 1.0])
    np.testing.assert_allclose(smooth(values, 0.9)[[0, 1, 2, 4]], 1.0)  # no bias to 0
    assert np.isnan(smooth(values, 0.9)[3])
    ramp = np.arange(10.0)
    assert (smooth(ramp, 0.5) <= ramp).all() and smooth(ramp, 0.5)[0] == 0.0
    with pytest.raises(ValueError, match="smoothing"):
        smooth(ramp, 1.0)


# ---------------------------------------------------------------------------- board, -m
def test_python_m_tblog_help():
    out = subprocess.run([sys.executable, "-m", "tblog", "--help"], capture_output=True,
                         text=True, check=True)  # fmt: skip
    for command in ("ls", "export", "plot", "board"):
        assert command in out.stdout


@pytest.mark.slow
def test_board_serves_the_logdir(logdir):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tblog", "board", str(logdir), "--port", str(port),
         "--load-fast", "false"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url_line = proc.stdout.readline()
        ssh_line = proc.stdout.readline()
        assert url_line.startswith("TensorBoard http://127.0.0.1:"), proc.stderr.read()
        url = url_line.split()[1].rstrip("/")
        assert url == f"http://127.0.0.1:{port}"
        assert f"-L {port}:127.0.0.1:{port}" in ssh_line
        with urllib.request.urlopen(url + "/data/runs", timeout=30) as resp:
            runs = json.loads(resp.read())
        assert set(runs) <= {run for run, _ in tb_series(logdir)}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(url + "/data/runs", timeout=5)


# ---------------------------------------------------------------------------- item 6
def test_ls_lists_graphs_and_embeddings_like_tensorboard(tmp_path, capsys, monkeypatch):
    import torch

    run = tmp_path / "logs" / "model"
    w = tblog.SummaryWriter(str(run))
    w.add_graph(torch.nn.Sequential(torch.nn.Linear(3, 2)), torch.zeros(1, 3))
    w.add_embedding(np.arange(12.0).reshape(4, 3), metadata=list("abcd"), tag="emb")
    w.add_scalar("loss", 1.0, 0)
    w.close()
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["ls", str(tmp_path / "logs")]) == 0
    rows = _ls_rows(capsys.readouterr().out)
    assert tbload.legacy_accumulator(str(run)).Tags()["graph"]
    assert rows[("model", "(graph)")][:3] == ["graphs", "-", "1"]
    info = json.loads(tbload.projector(str(tmp_path / "logs"))("/info", run="model"))
    names = [e["tensorName"] for e in info["embeddings"]]
    shapes = [e["tensorShape"] for e in info["embeddings"]]
    assert names and all(rows[("model", n)][0] == "projector" for n in names)
    assert [rows[("model", n)][3] for n in names] == ["x".join(map(str, s)) for s in shapes]


def test_ls_escapes_control_characters_in_names(tmp_path, capsys, monkeypatch):
    """A run dir or tag named with ANSI escapes is printed escaped: no byte of an escape
    sequence reaches the terminal."""
    evil = "red\x1b[31mRUN\x1b[0m"
    w = tblog.SummaryWriter(str(tmp_path / evil))
    w.add_scalar("ok", 1.0, 0)
    w.close()
    from tblog.core.write.writer import EventWriter

    ew = EventWriter(str(tmp_path / "tags"))
    from tblog.core.proto import summary_pb2

    summary = summary_pb2.Summary()  # (tblog's writers refuse such tags; others may not)
    summary.value.add(tag="bell\x07\x1b]0;title\x07", simple_value=2.0)
    ew.summary("", summary, 0, 0.0)
    ew.close()
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["ls", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "red\\x1b[31mRUN\\x1b[0m" in out
    assert "bell\\x07\\x1b]0;title\\x07" in out
    assert main(["ls", str(tmp_path / "nothing\x1b[2J")]) == 2
    assert "\x1b" not in capsys.readouterr().err
