"""The pure batch encoder of the write path: queued items in, framed bytes per run out.

No threads and no storage here: :func:`encode` turns a list of queued items into records
appended to each run's ``pending`` list (see :mod:`tblog.core.write.runs` for the runs) and
returns the errors of the items it had to drop. Queue items are typed:

- a **scalar** is a plain tuple in :class:`Scalar`'s field order (``run, tag, value, step,
  wall_time, encoding``). Building a ``Scalar`` instance costs 4x a tuple display (330 vs
  77 ns measured here), which would slow the scalar hot path by a quarter, so callers queue
  the bare tuple and the encoder reads it by unpacking, in those names;
- every other kind is an instance of a small ``__slots__`` class (:class:`SummaryItem`,
  :class:`EventItem`, :class:`RestartItem`, and the queue's barriers :class:`FlushItem` and
  :class:`CallItem`, which :mod:`tblog.core.write.queue` handles itself).

Runs of consecutive scalars are encoded per (run, encoding) with the numpy batch encoder
(``events.ScalarEncoder.frame_parts``); within such a run, scalars of different tags may be
grouped by tag, each tag's order kept (TensorBoard keeps a series per tag).
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from tblog.core.convert import to_float
from tblog.core.format import events, records

if TYPE_CHECKING:
    from tblog.core.proto import summary_pb2

SIMPLE_VALUE = events.SIMPLE_VALUE  # torch's scalar encoding
TENSOR = events.TENSOR  # tf.summary's scalar encoding

# Shorter runs of scalars are encoded one by one in pure Python: numpy's fixed cost per call
# outweighs the batch encoder's gain there, and each numpy call releases and re-takes the
# GIL, which costs up to a switch interval (5 ms) when the caller's thread is busy in Python.
SMALL_RUN = 64


class Scalar(NamedTuple):
    """The field order of a queued scalar (queued as a plain tuple; see the docstring).

    ``value``: a float, or any object with ``tblog_resolve() -> float`` (resolved here, on
    the writer thread). ``step``: an int64 int. ``encoding``: SIMPLE_VALUE or TENSOR.
    """

    run: str
    tag: str
    value: Any
    step: int
    wall_time: float
    encoding: int


# Column getters of a queued scalar, by Scalar's field names (C-speed column reads).
_RUN, _TAG, _VALUE, _STEP, _WALL, _ENCODING = (
    operator.itemgetter(Scalar._fields.index(name))
    for name in ("run", "tag", "value", "step", "wall_time", "encoding")
)


class SummaryItem:
    """A Summary proto to write at ``step`` into ``run``."""

    __slots__ = ("run", "step", "summary", "wall_time")

    def __init__(self, run: str, summary: summary_pb2.Summary, step: int, wall_time: float):
        self.run, self.summary, self.step, self.wall_time = run, summary, step, wall_time


class EventItem:
    """A serialized Event to write into ``run``."""

    __slots__ = ("data", "run")

    def __init__(self, run: str, data: bytes) -> None:
        self.run, self.data = run, data


class RestartItem:
    """A ``SessionLog START`` at ``step`` into every run (see ``EventWriter.restart``)."""

    __slots__ = ("step", "wall_time")

    def __init__(self, step: int, wall_time: float) -> None:
        self.step, self.wall_time = step, wall_time


class FlushItem:
    """Barrier: everything before it is written and flushed, then ``done`` is set."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class CallItem:
    """Barrier: ``fn`` runs on the writer thread after everything before it is written."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn


class Run(Protocol):
    """What the encoder needs of a run (``runs._Run``)."""

    pending: list[Any]

    def encoder(self, encoding: int) -> events.ScalarEncoder: ...


class Runs(Protocol):
    """What the encoder needs of the run files (``runs.RunFiles``)."""

    def get(self, run: str) -> Run: ...

    def restart(self, step: int, wall_time: float) -> None: ...


def resolve_scalar(value: Any) -> float:
    """A queued scalar value as a float (deferred values are resolved now)."""
    resolve = getattr(value, "tblog_resolve", None)
    if resolve is not None:
        return float(resolve())
    return to_float(value)


def encode(items: list[Any], runs: Runs) -> list[BaseException]:
    """Append the framed records of ``items`` (scalars, summaries, events, restarts) to the
    runs' pending lists, in order; return the errors of the items dropped (a value that
    cannot be resolved, a summary that cannot be serialized). Barriers are not accepted."""
    errors: list[BaseException] = []
    if set(map(type, items)) == {tuple}:  # only scalars (the usual batch): no Python loop
        _scalars(items, runs, errors)
        return errors
    start = 0
    for i, item in enumerate(items):
        if type(item) is tuple:
            continue
        if start < i:
            _scalars(items[start:i], runs, errors)
        start = i + 1
        try:
            _other(item, runs)
        except Exception as exc:  # noqa: BLE001 - reported by the queue, the rest written
            errors.append(exc)
    if start < len(items):
        _scalars(items[start:] if start else items, runs, errors)
    return errors


def _other(item: Any, runs: Runs) -> None:
    kind = type(item)
    if kind is SummaryItem:
        data = events.summary_event(item.summary, item.step, item.wall_time)
        runs.get(item.run).pending.append(records.frame(data))
    elif kind is EventItem:
        runs.get(item.run).pending.append(records.frame(item.data))
    elif kind is RestartItem:
        runs.restart(item.step, item.wall_time)
    else:
        raise TypeError(f"cannot encode a queued {kind.__name__}")


def _scalars(items: list[tuple[Any, ...]], runs_files: Runs, errors: list[BaseException]) -> None:
    """Encode consecutive scalars: by (run, encoding) with the batch encoder when there are
    many, else (or when a column is unusable) one by one."""
    if len(items) < SMALL_RUN:
        _one_by_one(items, runs_files, errors)
        return
    runs = list(map(_RUN, items))
    encodings = list(map(_ENCODING, items))
    n = len(items)
    if runs.count(runs[0]) == n and encodings.count(encodings[0]) == n:  # the usual case
        _batch(runs[0], encodings[0], items, runs_files, errors)
        return
    groups: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    for key, it in zip(zip(runs, encodings, strict=True), items, strict=True):
        groups.setdefault(key, []).append(it)
    for (run, encoding), its in groups.items():
        _batch(run, encoding, its, runs_files, errors)


def _batch(
    run: str,
    encoding: int,
    items: list[tuple[Any, ...]],
    runs: Runs,
    errors: list[BaseException],
) -> None:
    """Encode one (run, encoding) group with the batch encoder, or one by one."""
    columns = _columns(
        list(map(_TAG, items)),
        list(map(_VALUE, items)),
        list(map(_STEP, items)),
        list(map(_WALL, items)),
    )
    if columns is None:
        _one_by_one(items, runs, errors)
        return
    r = runs.get(run)
    try:
        parts = r.encoder(encoding).frame_parts(*columns)
    except Exception:  # noqa: BLE001 - a tag UTF-8 cannot encode: find it one by one
        _one_by_one(items, runs, errors)
        return
    r.pending.extend(parts)


def _columns(
    tags: list[str], values: list[Any], steps: list[Any], walls: list[Any]
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None:
    """(tags, values, steps, walls) numpy columns, or ``None`` when a value cannot be
    resolved or a step is not an int64 (the one-by-one path then reports it)."""
    if set(map(type, values)) != {float}:
        try:
            values = [v if type(v) is float else resolve_scalar(v) for v in values]
        except Exception:  # noqa: BLE001
            return None
    step_arr = np.array(steps)
    if step_arr.dtype != np.int64:
        return None
    return tags, np.array(values, dtype=np.float64), step_arr, np.array(walls, dtype=np.float64)


def _one_by_one(items: list[tuple[Any, ...]], runs: Runs, errors: list[BaseException]) -> None:
    for run, tag, value, step, wall, encoding in items:
        try:
            if type(value) is not float:
                value = resolve_scalar(value)
            r = runs.get(run)
            r.pending.append(records.frame(r.encoder(encoding).encode(tag, value, step, wall)))
        except Exception as exc:  # noqa: BLE001 - this scalar is dropped, the rest written
            errors.append(exc)
