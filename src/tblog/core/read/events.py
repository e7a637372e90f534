"""Events of event files and run dirs, on the one reader's decoding and rules.

For the resume scans of the checkpoint hooks and the Keras callback:

- :func:`tags_since` -- the tags (and how the data server stores each) with a point at or
  after a step, and whether the run holds a ``SessionLog START``;
- :func:`run_events` -- a run dir's Events in file order, as written or with
  TensorBoard's purges applied;
- :func:`values_between` -- the values a selection keeps, as the Python loader keeps them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator

from tblog.core.format import decode
from tblog.core.format.records import DataLossError
from tblog.core.proto import event_pb2
from tblog.core.read import stream, values
from tblog.core.read.scan import Restarts, load_run
from tblog.core.storage import Storage

_START = event_pb2.SessionLog.START


def file_events(
    data: bytes,
    source: str,
    *,
    check_crc: bool = True,
    strict: bool = False,
    last: bool = True,
) -> Iterator[event_pb2.Event]:
    """Yield the Events of one event file's bytes (``source`` names it in messages).

    A corrupt or cut-off record ends the file after the events before it: ``strict``
    raises ``DataLossError`` there, else a ``DataLossWarning`` is issued (not for a
    cut-off record at the end of a run's ``last`` file, which a live writer may still be
    appending). Records that are no Event are skipped, as TensorBoard does.
    """
    fr = decode.frames(data, check_crc=check_crc)
    yield from _parsed(data, fr)
    if fr.damage is not None and not (fr.truncated and (last or strict)):
        message = f"{source}: {fr.damage}; read the {fr.starts.size} records before it"
        if strict:
            raise DataLossError(message)
        warnings.warn(message, decode.DataLossWarning, stacklevel=2)


def _parsed(data: bytes, fr: decode.Frames) -> Iterator[event_pb2.Event]:
    """The Events of the framed records ``fr`` of ``data``; records that are no Event are
    skipped, as TensorBoard does."""
    for i in range(fr.starts.size):
        event = event_pb2.Event()
        try:
            event.ParseFromString(fr.payload(data, i))
        except Exception:  # noqa: BLE001 - not an Event: skipped
            continue
        yield event


def path_events(
    storage: Storage, path: str, *, check_crc: bool = True, last: bool = True
) -> Iterator[event_pb2.Event]:
    """:func:`file_events` of the event file ``path``, read in bounded blocks
    (:class:`tblog.core.read.stream.FileBlocks`); a file that cannot be read is damage
    of that file alone (a ``DataLossWarning`` names it)."""
    blocks = stream.FileBlocks(storage, path, check_crc=check_crc)
    for data, fr in blocks:
        yield from _parsed(data, fr)
    if blocks.damage is not None and not (blocks.truncated and last):
        message = f"{path}: {blocks.damage}; read the {blocks.records} records before it"
        warnings.warn(message, decode.DataLossWarning, stacklevel=2)


def _raw_events(storage: Storage, paths: list[str], check_crc: bool) -> Iterator[event_pb2.Event]:
    ordered = sorted(paths)
    for i, path in enumerate(ordered):
        yield from path_events(storage, path, check_crc=check_crc, last=i == len(ordered) - 1)


def run_events(
    storage: Storage, paths: Iterable[str], *, purge: bool = False, check_crc: bool = True
) -> Iterator[event_pb2.Event]:
    """The Events of one run's event files (``paths``), files in name order.

    ``purge=False``: every event as written, streamed one file at a time. ``purge=True``:
    as TensorBoard shows the run (the rules of :mod:`tblog.core.read.scan`): values that a
    later ``SessionLog START`` purges and values that do not fit their tag's data class
    (resume placeholders) are removed, and summary events left empty are dropped; this
    holds the run's events in memory.
    """
    paths = list(paths)
    if not purge:
        yield from _raw_events(storage, paths, check_crc)
        return
    events = list(_raw_events(storage, paths, check_crc))
    rule = Restarts()
    restarts: list[tuple[int, int]] = []
    kinds: dict[str, tuple[bool, str]] = {}  # tag -> (named by a plugin, kind)
    for i, event in enumerate(events):
        what = event.WhichOneof("what")
        if what == "file_version":
            rule.file_version(event.file_version)
        elif what == "session_log" and event.session_log.status == _START:
            if rule.start():
                restarts.append((i, event.step))
        elif what == "summary":
            for value in event.summary.value:
                named = values.plugin_of(value) is not None
                if value.tag not in kinds or (named and not kinds[value.tag][0]):
                    kinds[value.tag] = (named, values.value_kind(value))
    for i, event in enumerate(events):
        if event.WhichOneof("what") != "summary":
            yield event
            continue
        if any(i < at and event.step >= step for at, step in restarts):
            continue
        keep = [v for v in event.summary.value if values.fits(v, kinds[v.tag][1])]
        if len(keep) == len(event.summary.value):
            yield event
        elif keep:
            out = event_pb2.Event(wall_time=event.wall_time, step=event.step)
            out.summary.value.extend(keep)
            yield out


def tags_since(storage: Storage, paths: Iterable[str], step: int) -> tuple[dict[str, str], bool]:
    """``({tag: kind}, has_start)`` for one run's event files (``paths``): the summary
    tags with a point at a step >= ``step`` as written (no purges: the data server
    ignores STARTs), each with how the data server stores it (``"scalar"``, ``"blob"``
    or ``"tensor"``, judged from the value that names its plugin, else its first), and
    whether the files hold a ``SessionLog START``. A damaged file counts up to the damage.
    (The resume scan, :func:`tblog.checkpoint.resume_scan.scan_run`, reads the same.)
    """
    run = load_run(storage, list(paths), purge=False)
    stale = {
        tag: s.kind for tag, s in run.series.items() if s.steps.size and int(s.steps.max()) >= step
    }
    return stale, run.starts > 0


def values_between(
    storage: Storage,
    paths: Iterable[str],
    wanted: Callable[[str, int], bool],
    kinds: dict[str, str] | None = None,
) -> list[tuple[str, int, float, bytes]]:
    """``(tag, step, wall_time, serialized Summary.Value)`` of every value of one run's
    event files (``paths``) that ``wanted(tag, step)`` keeps, in file order, as
    TensorBoard's Python loader keeps them: copies that a later ``SessionLog START``
    purges (see :mod:`tblog.core.read.scan`) are dropped, and with ``kinds`` (``{tag:
    kind}``, e.g. from :func:`tags_since`'s reader) values that do not fit their tag's
    kind (resume placeholders) too. A damaged file counts up to the damage; the run is
    streamed one file at a time and only the kept values are held."""
    out: list[tuple[str, int, float, bytes]] = []
    rule = Restarts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", decode.DataLossWarning)
        for event in _raw_events(storage, list(paths), check_crc=True):
            what = event.WhichOneof("what")
            if what == "file_version":
                rule.file_version(event.file_version)
            elif what == "session_log" and event.session_log.status == _START:
                if rule.start() and out:
                    out = [v for v in out if v[1] < event.step]
            elif what == "summary":
                step = event.step
                for value in event.summary.value:
                    tag = value.tag
                    if not wanted(tag, step):
                        continue
                    if kinds is not None and not values.fits(value, kinds.get(tag, "tensor")):
                        continue
                    out.append((tag, step, event.wall_time, value.SerializeToString()))
    return out


def event_paths(storage: Storage, run_dir: str) -> list[str]:
    """The event files of one run dir (not its sub-dirs), in name order."""
    return [storage.join(run_dir, name) for name in storage.event_files(run_dir)]


__all__ = [
    "event_paths",
    "file_events",
    "path_events",
    "run_events",
    "tags_since",
    "values_between",
]
