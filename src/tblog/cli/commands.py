"""Argument parsing and the ``ls``, ``export`` and ``board`` commands of ``tblog``.

rich, pandas, pyarrow and matplotlib (the ``cli`` extra) are imported inside the commands
that use them, so ``import tblog`` and ``tblog --help`` stay cheap.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from typing import Any

from tblog.core.read.scan import Run, Series, load_runs
from tblog.core.storage import open_storage
from tblog.reader.reader import scalar_frame

# Show a progress bar when a load reads more than this many bytes.
PROGRESS_BYTES = 64 << 20
PROJECTOR_CONFIG = "projector_config.pbtxt"


def printable(text: str) -> str:
    """``text`` with control and other non-printing characters escaped (``\\x1b``,
    ``\\u202e``), so that names read from a log dir cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def _load(logdir: str, tag: str | None, quiet: bool = False, decoder: Any = None) -> dict[str, Run]:
    """:func:`tblog.core.read.scan.load_runs` with a rich progress bar on stderr for long
    loads; damaged files are reported on stderr (``tblog: warning: ...``)."""
    total = 0
    if not quiet:
        storage = open_storage(logdir)
        total = sum(storage.size(p) for _, paths in storage.walk_event_files() for p in paths)
    if total < PROGRESS_BYTES:
        loaded = load_runs(logdir, tag, warn=False, decoder=decoder)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        columns = ("Loading", BarColumn(), DownloadColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
            task = bar.add_task("load", total=total)
            loaded = load_runs(
                logdir,
                tag,
                progress=lambda done, _t: bar.update(task, completed=done),
                warn=False,
                decoder=decoder,
            )
    for run in loaded.values():
        for message in run.damage:
            print(f"tblog: warning: {printable(message)}", file=sys.stderr)
    return loaded


def series_of(loaded: dict[str, Run], tag: str | None) -> dict[str, dict[str, Series]]:
    """``{run: {tag: Series}}``; with a ``tag`` filter, runs left with no tag are dropped."""
    return {run: r.series for run, r in loaded.items() if r.series or tag is None}


def _fmt(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"


def _embeddings(logdir: str, run: str, run_dir: str) -> list[tuple[str, str]]:
    """``[(tensor name, shape)]`` of the projector config of one run dir, if any."""
    from google.protobuf import text_format

    from tblog.core.proto import plugins_pb2

    storage = open_storage(logdir)
    data = storage.read(storage.join(run_dir, PROJECTOR_CONFIG))
    if not data:
        return []
    config = plugins_pb2.ProjectorConfig()
    try:
        text_format.Parse(data.decode("utf-8", "replace"), config)
    except text_format.ParseError as exc:
        print(printable(f"tblog: warning: {run}/{PROJECTOR_CONFIG}: {exc}"), file=sys.stderr)
        return []
    return [
        (e.tensor_name or e.tensor_path, "x".join(map(str, e.tensor_shape)) or "-")
        for e in config.embeddings
    ]


def cmd_ls(args: argparse.Namespace) -> int:
    """A table per run: tag, plugin, step range, count and last scalar value; then the
    run's graphs, run metadata and projector embeddings, and its run-info line. Rank runs
    (``rank_<r>``) are grouped under their parent (:mod:`tblog.cli.ls_ranks`)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from tblog.cli.ls_ranks import info_line, info_text, rank_groups, rank_tables

    loaded = _load(args.logdir, args.tag, decoder=info_text)
    groups = rank_groups(list(loaded))
    in_groups = {run for runs in groups.values() for run in runs.values()}
    groups = {p: g for p, g in groups.items() if any(loaded[r].series for r in g.values())}
    storage = open_storage(args.logdir)
    run_dirs = {run: storage.dirname(paths[0]) for run, paths in storage.walk_event_files()}
    console = Console()
    shown = 0
    for run, r in loaded.items():
        if run in in_groups:
            continue
        info = info_line(r)
        extra: list[tuple[str, str, str, str, str]] = []
        if args.tag is None:
            if r.graphs:
                extra.append(("(graph)", "graphs", "-", str(r.graphs), "-"))
            for name in r.run_metadata:
                extra.append((name, "graphs (run metadata)", "-", "1", "-"))
            if run in run_dirs:
                for name, shape in _embeddings(args.logdir, run, run_dirs[run]):
                    extra.append((name, "projector", "-", "1", shape))
        if not r.series and not extra:
            continue
        shown += 1
        title = f"run [bold]{escape(printable(run))}[/bold]"
        table = Table(title=title, title_justify="left")
        for name, justify in (
            ("tag", "left"),
            ("plugin", "left"),
            ("steps", "right"),
            ("count", "right"),
            ("last value", "right"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        tags = r.series
        for tag in sorted(tags, key=lambda t: (tags[t].plugin, t)):
            s = tags[tag]
            steps = f"{s.steps.min()}..{s.steps.max()}" if s.steps.size else "-"
            last = _fmt(float(s.values[-1])) if s.values is not None and s.values.size else "-"
            plugin = printable(s.plugin) or "-"
            table.add_row(escape(printable(tag)), escape(plugin), steps, str(s.steps.size), last)
        for row in extra:
            table.add_row(*(escape(printable(cell)) for cell in row))
        console.print(table)
        if info:
            console.print(f"  info: {escape(printable(info))}", highlight=False, soft_wrap=True)
        for rank_table in rank_tables(run, groups.pop(run, {}), loaded, printable):
            console.print(rank_table)  # the run's rank runs, right under it
    for parent, ranks in groups.items():  # rank runs whose parent holds no events
        shown += 1
        for rank_table in rank_tables(parent, ranks, loaded, printable):
            console.print(rank_table)
    if not shown:
        what = f"no tag matching {args.tag!r}" if args.tag else "no runs"
        print(printable(f"{what} under {args.logdir}"))
        return 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Long-format scalar rows as CSV, Parquet or JSON (records) to a file or stdout
    (Parquet to stdout only when it is not a terminal)."""
    missing = missing_for_export(args.format)
    if missing:
        print(
            f"tblog export: needs {', '.join(missing)}: pip install 'tblog[cli]'",
            file=sys.stderr,
        )
        return 2
    loaded = _load(args.logdir, args.tag, quiet=args.output in (None, "-"))
    if not loaded:
        print(printable(f"tblog export: no runs under {args.logdir}"), file=sys.stderr)
        return 1
    frame = scalar_frame(loaded)
    out = args.output
    if args.format == "parquet":
        if out in (None, "-"):
            if sys.stdout.isatty():
                print(
                    "tblog export: Parquet is binary: redirect stdout (> file.parquet) or give -o FILE",
                    file=sys.stderr,
                )
                return 2
            write_parquet_stdout(frame)
        else:
            frame.to_parquet(out, index=False)
    elif args.format == "csv":
        frame.to_csv(sys.stdout if out in (None, "-") else out, index=False)
    else:
        if out in (None, "-"):
            write_json(frame, sys.stdout)
        else:
            with open(out, "w", encoding="utf-8") as f:
                write_json(frame, f)
    if out not in (None, "-"):
        print(f"wrote {len(frame)} rows to {out}", file=sys.stderr)
    return 0


def missing_for_export(fmt: str) -> list[str]:
    """The packages of the ``cli`` extra that ``tblog export --format fmt`` needs and that
    are not installed (pandas builds the rows; Parquet needs pyarrow or fastparquet)."""
    import importlib.util

    def installed(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    missing = [] if installed("pandas") else ["pandas"]
    if fmt == "parquet" and not (installed("pyarrow") or installed("fastparquet")):
        missing.append("pyarrow")
    return missing


def write_parquet_stdout(frame: Any) -> None:
    """Write ``frame`` as one Parquet file to stdout's binary stream (a pipe or a
    redirected file: Parquet's footer is written last, so no seek is needed)."""
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    sys.stdout.flush()
    sys.stdout.buffer.write(buffer.getvalue())
    sys.stdout.buffer.flush()


def write_json(frame: Any, f: Any, chunk: int = 100_000) -> None:
    """Write ``frame`` as a JSON array of row objects, streamed in chunks. Floats keep
    every digit (shortest round-trip repr); NaN and infinities become ``null``."""
    import json

    import numpy as np

    columns = list(frame.columns)
    f.write("[")
    for start in range(0, len(frame), chunk):
        part = frame.iloc[start : start + chunk]
        cols = []
        for name in columns:
            col = part[name].to_numpy()
            if col.dtype.kind == "f":
                values: list[Any] = col.tolist()
                bad = ~np.isfinite(col)
                for i in np.flatnonzero(bad).tolist():
                    values[i] = None
                cols.append(values)
            else:
                cols.append(col.tolist())
        rows = [dict(zip(columns, row, strict=True)) for row in zip(*cols, strict=True)]
        text = json.dumps(rows, ensure_ascii=False, allow_nan=False)[1:-1]
        f.write(("," if start else "") + text)
    f.write("]\n")


def cmd_plot(args: argparse.Namespace) -> int:
    from tblog.cli.plot import plot_scalars

    data = series_of(_load(args.logdir, args.tag), args.tag)
    count = plot_scalars(
        data,
        args.output,
        smoothing=args.smoothing,
        width=args.width,
        height=args.height,
        log_y=args.log_y,
    )
    if count == 0:
        print(f"tblog plot: no scalar tag matches {args.tag!r}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({count} series)", file=sys.stderr)
    return 0


def cmd_board(args: argparse.Namespace) -> int:
    """Start TensorBoard, print its URL and the ``ssh -L`` line, wait until interrupted."""
    from tblog.cli.board import (
        free_port,
        ssh_hint,
        start_tensorboard,
        stop_tensorboard,
        url_for,
        wait_ready,
    )

    port = args.port or free_port(args.host)
    try:
        proc = start_tensorboard(
            args.logdir, port, args.host, args.load_fast, log=None if args.verbose else _devnull()
        )
    except RuntimeError as exc:
        print(f"tblog board: {exc}", file=sys.stderr)
        return 2

    def _stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    url = url_for(args.host, port)
    try:
        wait_ready(proc, url, timeout=args.timeout)
        print(f"TensorBoard {url}/", flush=True)
        print(f"remote: {ssh_hint(port)}  then open http://localhost:{port}/", flush=True)
        proc.wait()
        return proc.returncode or 0
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"tblog board: {exc} (port {port} in use? try --verbose)", file=sys.stderr)
        return 1
    finally:
        stop_tensorboard(proc)


def _devnull() -> Any:
    return open(os.devnull, "wb")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tblog", description="Inspect, export, plot and serve TensorBoard log dirs."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, tag_help: str) -> None:
        p.add_argument("logdir", help="log dir (local path or fsspec URL)")
        p.add_argument("--tag", default=None, metavar="REGEX", help=tag_help)

    p = sub.add_parser("ls", help="runs, tags per plugin, step ranges and last values")
    common(p, "only tags matching this regular expression (re.search)")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("export", help="scalars as long-format rows (run, tag, step, ...)")
    common(p, "only tags matching this regular expression (re.search)")
    p.add_argument("--format", choices=("csv", "parquet", "json"), default="csv")
    p.add_argument("-o", "--output", default=None, help="output file (default: stdout)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("plot", help="PNG of matching scalars, one line per run")
    common(p, "scalar tags to plot (regular expression, re.search); one panel per tag")
    p.add_argument("-o", "--output", required=True, help="output PNG file")
    p.add_argument(
        "--smoothing",
        type=float,
        default=0.0,
        help="TensorBoard's EMA smoothing weight in [0, 1) (default 0)",
    )
    p.add_argument("--width", type=int, default=1200, help="image width in pixels")
    p.add_argument("--height", type=int, default=800, help="image height in pixels")
    p.add_argument("--log-y", action="store_true", help="logarithmic y axis")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("board", help="start TensorBoard and print the URL and ssh -L line")
    p.add_argument("logdir", help="log dir (local path or fsspec URL)")
    p.add_argument("--port", type=int, default=6006, help="port (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    p.add_argument(
        "--load-fast",
        choices=("auto", "true", "false"),
        default="auto",
        help="TensorBoard's --load_fast",
    )
    p.add_argument("--timeout", type=float, default=120, help="seconds to wait for start")
    p.add_argument("-v", "--verbose", action="store_true", help="show TensorBoard's output")
    p.set_defaults(func=cmd_board)

    p = sub.add_parser(
        "run",
        help="run a script (or -m module) with tblog.patch() applied: tblog run -h",
        add_help=False,
    )
    p = sub.add_parser("install-pth", help="make TBLOG_PATCH=1 patch every Python program")
    p.add_argument("--dir", default=None, help="site directory (default: this site-packages)")
    p.add_argument("--remove", action="store_true", help="remove the .pth file")
    p.set_defaults(func=cmd_install_pth)
    return parser


def cmd_install_pth(args: argparse.Namespace) -> int:
    """Write (or remove) ``tblog-patch.pth``: with it, ``TBLOG_PATCH=1`` patches at start."""
    from tblog.patching.launch import install_pth

    path = install_pth(args.dir, remove=args.remove)
    print(f"{'removed' if args.remove else 'wrote'} {path}")
    return 0


def run(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "run":  # everything after the script is the script's
        from tblog.patching.launch import run as run_patched

        return run_patched(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, ValueError) as exc:
        print(printable(f"tblog {args.command}: {exc}"), file=sys.stderr)
        return 2
