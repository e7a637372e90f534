"""What a resumed run's event files already hold: the one scan behind every resume.

:func:`scan_runs` reads the event files of a writer's run and of its ``add_scalars``
sub-runs once, at a restore, and keeps per run only what the marking needs: each tag's
kind (as the one reader decides it, from the value that names its plugin) and highest step, whether
a ``SessionLog START`` is there, and the values that a later mark may have to write again
(the points of the tags of :class:`Keep`'s ranges, last copy of each ``(tag, step)``).

The reading is the one reader's (:mod:`tblog.core.read`): its decoding, its kind of
each tag, its START rules; this module only keeps what the recorder asks of it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tblog.core.format import events
from tblog.core.proto import summary_pb2, tensor_pb2
from tblog.core.read import events as read_events
from tblog.core.read.scan import load_run
from tblog.core.storage import Storage, is_event_file


@dataclass
class Keep:
    """Keep the values of the tags ``wanted(tag)`` says yes to, at steps ``lo <= s <= hi``:
    the last copy of each ``(tag, step)`` in :attr:`RunScan.kept`, or with ``every`` each
    one in :attr:`RunScan.copies`. Copies that a later ``SessionLog START`` purges (for
    TensorBoard's Python loader) are dropped."""

    wanted: Callable[[str], bool]
    lo: int
    hi: int
    every: bool = False


@dataclass
class RunScan:
    """What one run directory holds."""

    kinds: dict[str, str] = field(default_factory=dict)  # tag -> "scalar" | "blob" | "tensor"
    last: dict[str, int] = field(default_factory=dict)  # tag -> highest step
    has_start: bool = False
    # (tag, step) -> (wall_time, serialized Summary.Value): the last copy of each
    kept: dict[tuple[str, int], tuple[float, bytes]] = field(default_factory=dict)
    # (tag, step, wall_time, serialized Summary.Value) of every copy, in file order
    copies: list[tuple[str, int, float, bytes]] = field(default_factory=list)

    def stale(self, step: int) -> dict[str, str]:
        """``{tag: kind}`` of the tags with a point at a step >= ``step``."""
        return {tag: self.kinds[tag] for tag, last in self.last.items() if last >= step}


def scan_runs(
    storage: Storage, logdir: str, keep: Iterable[Keep] = (), exclude: Iterable[str] = ()
) -> dict[str, RunScan]:
    """``{run: RunScan}`` for the run in ``logdir`` (run ``""``) and its sub-runs, except the
    directories in ``exclude`` (other writers' log dirs). A torn or corrupt record ends the
    scan of its file (what precedes it counts)."""
    keeps = list(keep)
    skip = set(exclude)
    out: dict[str, RunScan] = {}
    for run, run_dir in _run_dirs(storage, logdir):
        if not run or run_dir not in skip:
            out[run] = scan_run(storage, run_dir, keeps)
    return out


def scan_run(storage: Storage, run_dir: str, keep: Iterable[Keep] = ()) -> RunScan:
    """The :class:`RunScan` of one run directory (empty if it does not exist), read with
    the one reader: kinds, highest steps and STARTs as written (the data server ignores
    STARTs) by :func:`tblog.core.read.scan.load_run`, the kept values as the Python loader
    keeps them by :func:`tblog.core.read.events.values_between`."""
    keeps = list(keep)
    scan = RunScan()
    if not storage.isdir(run_dir):
        return scan
    paths = read_events.event_paths(storage, run_dir)
    run = load_run(storage, paths, purge=False)
    scan.has_start = run.starts > 0
    for tag, series in run.series.items():
        scan.kinds[tag] = series.kind
        if series.steps.size:
            scan.last[tag] = int(series.steps.max())
    if not keeps:
        return scan

    def which(tag: str, step: int) -> Keep | None:
        for k in keeps:
            if k.lo <= step <= k.hi and k.wanted(tag):
                return k
        return None

    picked = read_events.values_between(
        storage, paths, lambda tag, step: which(tag, step) is not None, scan.kinds
    )
    for tag, step, wall, data in picked:
        k = which(tag, step)
        if k is not None and k.every:
            scan.copies.append((tag, step, wall, data))
        else:
            scan.kept[(tag, step)] = (wall, data)
    return scan


_WRITER_ID = re.compile(r"tfevents\.\d+\.(.+)\.(\d+)\.\d+")


def _writer_ids(names: Iterable[str]) -> set[tuple[str, str]]:
    """``{(host, pid)}`` of the processes that wrote these event files (by their names)."""
    return {(m.group(1), m.group(2)) for m in map(_WRITER_ID.search, names) if m}


def _run_dirs(storage: Storage, logdir: str) -> Iterable[tuple[str, str]]:
    """The writer's own run and its sub-runs: the immediate sub-directories with event
    files written by a process that also wrote the log dir's own event files (what
    ``add_scalars`` makes), not unrelated runs that happen to live below the log dir."""
    names = storage.listdir(logdir)
    if not names:
        return
    yield "", logdir
    ours = _writer_ids(names)
    for name in sorted(names):
        if not ours or is_event_file(name):
            continue
        sub = storage.join(logdir, name)
        inside = storage.listdir(sub)
        if inside != [name] and _writer_ids(inside) & ours:  # [name]: a file, not a dir
            yield name, sub


def value_event(value: bytes, step: int, wall: float) -> bytes:
    """An event holding one serialized ``Summary.Value`` (as kept by a scan) at ``step``."""
    summary = summary_pb2.Summary()
    summary.value.add().ParseFromString(value)
    return events.summary_event(summary, step, wall)


def placeholder_event(tags: dict[str, str], step: int, wall_time: float) -> bytes:
    """One event with a data-server placeholder at ``step`` per tag (no metadata)."""
    summary = summary_pb2.Summary()
    for tag, kind in sorted(tags.items()):
        value = summary.value.add(tag=tag)
        if kind == "tensor":
            value.simple_value = math.nan  # not a tensor: data loss for a tensor series
        elif kind == "scalar":
            # rank 1: data loss for the data server, which wants rank 0; still one number
            # (NaN) for the Python loader should it keep it (--purge_orphaned_data=false)
            value.tensor.dtype = tensor_pb2.DT_FLOAT
            value.tensor.tensor_shape.dim.add(size=1)
            value.tensor.float_val.append(math.nan)
        else:
            value.tensor.dtype = tensor_pb2.DT_FLOAT  # no strings: data loss for blobs
            value.tensor.tensor_shape.dim.add(size=0)
    return events.summary_event(summary, step, wall_time)
