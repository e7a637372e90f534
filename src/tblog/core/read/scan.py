"""The one reader: every series of every run under a log dir, as TensorBoard shows them.

Each event file is read in bounded blocks (:mod:`tblog.core.read.stream`: big records of
unwanted tags skipped unheld) and decoded with :mod:`tblog.core.format.decode` (numpy
framing and CRC checks; scalar events decoded without protobuf; every other record parsed
with protobuf).
A run's files are read one at a time, in name order; runs are decoded on a few threads.
TensorBoard's rules, as its loaders apply them:

- ``SessionLog START`` at step ``s`` (other than a run's first, and once the run has
  shown ``file_version`` >= 2) drops every point read before it whose step is ``>= s``
  (``plugin_event_accumulator._CheckForRestartAndMaybePurge`` / ``_Purge``);
- a tag's plugin comes from the first value that names one (its metadata, or the legacy
  field ``data_compat`` migrates: ``simple_value`` -> scalars, ``histo`` -> histograms,
  ``image`` -> images, ``audio`` -> audio); its data class from that value;
- a point that does not fit its tag's data class (the resume placeholders that
  the checkpoint recorder's mark writes: a rank-1 scalar, an empty blob, a
  ``simple_value`` in a tensor tag) is data loss, as in the Rust data server: never shown;
- a corrupt or cut-off record ends its file (the clean prefix is kept); the run records
  why in ``Run.damage`` and :func:`load` warns with ``DataLossWarning`` naming the file
  and byte offset. A cut-off record at the end of a run's last file (a live writer's
  partial write) is silently left for later, as TensorBoard does. A file that cannot be
  read (``PermissionError``, an I/O error) or has no end (a device) costs only itself the
  same way: ``Run.damage`` says why, the warning names it, every other file is read.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tblog.core.format import decode, decode_scalars
from tblog.core.proto import event_pb2
from tblog.core.read import stream, values
from tblog.core.storage import Storage, open_storage

_BIT = {"scalar": 1, "blob": 2, "tensor": 4}
_START = event_pb2.SessionLog.START
Filter = str | Callable[[str], bool] | None


@dataclass
class Series:
    """One tag of one run, after purges: ``steps`` (int64) and ``wall_times`` (float64) in
    file order; ``values`` (float64) for tags of the ``scalars`` plugin, else ``None``;
    ``items`` (what ``load``'s ``decode`` made of each point) when asked for; ``metadata``
    (the ``SummaryMetadata`` that named the plugin, when protobuf-parsed)."""

    plugin: str
    kind: str
    steps: np.ndarray
    wall_times: np.ndarray
    values: np.ndarray | None
    items: list[Any] | None = None
    metadata: Any = None


@dataclass
class Run:
    """A run: its ``series`` by tag, ``graphs`` (graph_def / meta_graph_def events),
    ``run_metadata`` tags, ``starts`` (SessionLog START events) and ``damage`` (one
    message per damaged file)."""

    series: dict[str, Series] = field(default_factory=dict)
    starts: int = 0
    graphs: int = 0
    run_metadata: list[str] = field(default_factory=list)
    damage: list[str] = field(default_factory=list)


@dataclass
class _Acc:
    ident: int = -1  # order of the value that named the plugin (-1: none yet)
    plugin: str = ""
    kind: str = ""
    metadata: Any = None
    order: list[np.ndarray] = field(default_factory=list)
    steps: list[np.ndarray] = field(default_factory=list)
    walls: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    fits: list[np.ndarray] = field(default_factory=list)
    slow: list[tuple[int, int, float, float, int]] = field(default_factory=list)
    items: dict[int, Any] = field(default_factory=dict)

    def name(self, order: int, plugin: str, kind: str, metadata: Any = None) -> None:
        if self.ident < 0 or order < self.ident:
            self.ident, self.plugin, self.kind, self.metadata = order, plugin, kind, metadata

    def arrays(self) -> tuple[np.ndarray, ...]:
        if self.slow:
            cols = list(zip(*self.slow, strict=True))
            self.order.append(np.array(cols[0], np.int64))
            self.steps.append(np.array(cols[1], np.int64))
            self.walls.append(np.array(cols[2], np.float64))
            self.values.append(np.array(cols[3], np.float64))
            self.fits.append(np.array(cols[4], np.int8))
            self.slow = []
        out = tuple(
            np.concatenate(c) for c in (self.order, self.steps, self.walls, self.values, self.fits)
        )
        order = out[0]
        if order.size < 2 or (order[1:] > order[:-1]).all():
            return out
        sort = np.argsort(order, kind="stable")
        return tuple(a[sort] for a in out)


class Restarts:
    """Which ``SessionLog START`` events purge, as the Python loader decides: fed a run's
    events in file order, :meth:`start` is true for each START after the run's first,
    once a ``file_version`` >= 2 has been seen (see the module docstring)."""

    def __init__(self) -> None:
        self.version = 0.0
        self.seen = False

    def file_version(self, text: str) -> None:
        tail = text.rsplit(":", 1)[-1]
        self.version = float(tail) if _number(tail) else 0.0

    def start(self) -> bool:
        if self.version < 2:
            return False
        purges, self.seen = self.seen, True
        return purges


class _RunLoader:
    def __init__(self, keep: Callable[[str], bool], decoder: Callable[[Any], Any] | None):
        self.keep = keep
        self.decoder = decoder
        self.accs: dict[str, _Acc] = {}
        self.control: list[tuple[int, str, int, str]] = []  # (order, what, step, version)
        self.run = Run()
        self.base = 0

    def add_file(self, storage: Storage, name: str, last: bool) -> None:
        """Read one event file in bounded blocks (:mod:`tblog.core.read.stream`)."""
        wanted = self.keep
        blocks = stream.FileBlocks(storage, name, skip=lambda tag: not wanted(tag))
        for data, fr in blocks:
            self._block(data, fr)
        if blocks.damage is not None and not (blocks.truncated and last):
            self.run.damage.append(
                f"{name}: {blocks.damage}; read the {blocks.records} records before it"
            )

    def _block(self, data: bytes, fr: decode.Frames) -> None:
        buf = np.frombuffer(data, dtype=np.uint8)
        fast = decode_scalars.fast_scalars(buf, fr)
        base = self.base
        if fast.idx.size:
            if len(fast.tags) == 1:
                by_tag = np.arange(fast.tag.size)
                bounds = np.array([0, fast.tag.size])
            else:
                by_tag = np.argsort(fast.tag, kind="stable")
                bounds = np.searchsorted(fast.tag[by_tag], np.arange(len(fast.tags) + 1))
            for tid, tag in enumerate(fast.tags):
                if not self.keep(tag):
                    continue
                sel = by_tag[bounds[tid] : bounds[tid + 1]]
                acc = self.accs.setdefault(tag, _Acc())
                order = fast.idx[sel] + base
                named = np.flatnonzero(fast.ident[sel])
                if named.size:
                    acc.name(int(order[named[0]]), "scalars", "scalar")
                elif acc.ident < 0 and not acc.kind:
                    acc.kind = "scalar"
                acc.order.append(order)
                acc.steps.append(fast.step[sel])
                acc.walls.append(fast.wall[sel])
                acc.values.append(fast.value[sel])
                acc.fits.append(np.where(fast.simple[sel], 1, 5).astype(np.int8))
        for i in np.flatnonzero(~fast.mask).tolist():
            self._slow(fr.payload(data, i), base + i)
        self.base += int(fr.starts.size)

    def _slow(self, payload: bytes, order: int) -> None:
        event = event_pb2.Event()
        try:
            event.ParseFromString(payload)
        except Exception:  # a checksum-valid record that is no Event: TensorBoard skips it
            return
        what = event.WhichOneof("what")
        if what == "summary":
            for value in event.summary.value:
                self._value(value, order, event.step, event.wall_time)
        elif what == "file_version":
            self.control.append((order, what, 0, event.file_version))
        elif what == "session_log" and event.session_log.status == _START:
            self.control.append((order, "start", event.step, ""))
            self.run.starts += 1
        elif what in ("graph_def", "meta_graph_def"):
            self.run.graphs += 1
        elif what == "tagged_run_metadata":
            self.run.run_metadata.append(event.tagged_run_metadata.tag)

    def _value(self, value: Any, order: int, step: int, wall: float) -> None:
        tag = value.tag
        if not self.keep(tag):
            return
        acc = self.accs.get(tag)
        if acc is None:
            acc = self.accs[tag] = _Acc()
        plugin = values.plugin_of(value)
        if plugin is not None and (acc.ident < 0 or order < acc.ident):
            acc.name(order, plugin, values.value_kind(value), value.metadata)
        elif acc.ident < 0 and not acc.kind:
            acc.kind = values.value_kind(value)
        bits = sum(b for k, b in _BIT.items() if values.fits(value, k))
        number = values.scalar_of(value)
        acc.slow.append((order, step, wall, np.nan if number is None else number, bits))
        if self.decoder is not None:
            acc.items[order] = self.decoder(value)

    def restarts(self) -> list[tuple[int, int]]:
        """The STARTs that purge, as the Python loader decides (see the module docstring)."""
        rule = Restarts()
        out = []
        for order, what, step, version in sorted(self.control):
            if what == "file_version":
                rule.file_version(version)
            elif rule.start():
                out.append((order, step))
        return out

    def finish(self, purge: bool = True) -> Run:
        restarts = self.restarts() if purge else []
        for tag, acc in self.accs.items():
            order, steps, walls, numbers, fits = acc.arrays()
            kind = acc.kind or "tensor"
            keep = (fits & _BIT[kind]) != 0 if purge else np.ones(order.shape, bool)
            for at, step in restarts:
                keep &= ~((order < at) & (steps >= step))
            items = None
            if self.decoder is not None:
                items = [acc.items.get(o) for o in order[keep].tolist()]
            self.run.series[tag] = Series(
                acc.plugin,
                kind,
                steps[keep],
                walls[keep],
                numbers[keep] if acc.plugin == "scalars" else None,
                items,
                acc.metadata,
            )
        return self.run


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def matcher(pattern: Filter, name: str) -> Callable[[str], bool] | None:
    """A name filter from a regular expression (``re.search``) or a callable; ``None``
    keeps everything. Raises ``ValueError``/``TypeError`` naming ``name`` on bad input."""
    if pattern is None:
        return None
    if callable(pattern):
        return lambda s: bool(pattern(s))
    if not isinstance(pattern, str):
        raise TypeError(
            f"{name} must be a regular expression or a callable, got {type(pattern).__name__}"
        )
    try:
        search = re.compile(pattern).search
    except re.error as exc:
        raise ValueError(
            f"{name} must be a valid regular expression, got {pattern!r}: {exc}"
        ) from None
    return lambda s: search(s) is not None


def load_run(
    storage: Storage,
    paths: list[str],
    tag_filter: Callable[[str], bool] | None = None,
    decoder: Callable[[Any], Any] | None = None,
    on_file: Callable[[str], None] | None = None,
    *,
    purge: bool = True,
) -> Run:
    """One run from its event files (``paths``, read one at a time in name order).

    ``purge=False`` keeps every point as written: no START purges, placeholders kept
    (what the resume scans need: the data server ignores STARTs)."""
    loader = _RunLoader(tag_filter or (lambda _t: True), decoder)
    for i, path in enumerate(sorted(paths)):
        loader.add_file(storage, path, last=i == len(paths) - 1)
        if on_file is not None:
            on_file(path)
    return loader.finish(purge)


def load_runs(
    logdir: str,
    tags: Filter = None,
    runs: Filter = None,
    storage_options: dict[str, Any] | None = None,
    *,
    decoder: Callable[[Any], Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    warn: bool = True,
) -> dict[str, Run]:
    """``{run: Run}`` for every run under ``logdir`` (local path or fsspec URL) whose name
    ``runs`` keeps, with only the tags ``tags`` keeps (each a regular expression searched
    with ``re.search``, or a callable; filters apply before decoding).

    ``decoder(Summary.Value)`` fills ``Series.items`` for protobuf-parsed points.
    ``progress(done_bytes, total_bytes)`` is called after each file. Damaged files are
    reported with ``warnings.warn(DataLossWarning)`` (``warn=False``: only in
    ``Run.damage``). Raises ``FileNotFoundError`` when ``logdir`` is no directory,
    ``ValueError``/``TypeError`` on a bad filter.
    """
    tag_filter = matcher(tags, "tags")
    run_filter = matcher(runs, "runs")
    storage = open_storage(logdir, storage_options)
    if not storage.isdir(storage.root):
        raise FileNotFoundError(f"logdir {logdir!r} is not a directory")
    layout = [
        (run, paths)
        for run, paths in storage.walk_event_files()
        if run_filter is None or run_filter(run)
    ]
    sizes: dict[str, int] = {}
    if progress is not None:
        sizes = {p: storage.size(p) for _, paths in layout for p in paths}
    total = sum(sizes.values())
    done = 0
    lock = threading.Lock()

    def on_file(path: str) -> None:
        nonlocal done
        if progress is not None:
            with lock:
                done += sizes.get(path, 0)
                progress(done, total)

    workers = max(1, min(workers or os.cpu_count() or 1, 8, len(layout) or 1))

    def one(item: tuple[str, list[str]]) -> Run:
        return load_run(storage, item[1], tag_filter, decoder, on_file)

    if workers == 1:
        loaded = [one(item) for item in layout]
    else:
        with ThreadPoolExecutor(workers) as pool:
            loaded = list(pool.map(one, layout))
    out = dict(zip((run for run, _ in layout), loaded, strict=True))
    if warn:
        for run in out.values():
            for message in run.damage:
                warnings.warn(message, decode.DataLossWarning, stacklevel=3)
    return out


def load(
    logdir: str,
    tag: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> dict[str, dict[str, Series]]:
    """``{run: {tag: Series}}`` (the CLI's older shape of :func:`load_runs`); runs with
    no tag left by the ``tag`` filter are left out."""
    loaded = load_runs(logdir, tag, progress=progress, workers=workers)
    return {run: r.series for run, r in loaded.items() if r.series or tag is None}
