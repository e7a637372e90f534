"""The checkpoint recorder behind every checkpoint hook: saves and restores in the run, and
resumed curves that continue with exactly one point per step.

Every hook (``tblog.CheckpointManager``, TensorFlow's ``CheckpointHook``, the Keras
callbacks, Lightning's ``TBLogger``) calls one :class:`CheckpointRecorder`:
:meth:`~CheckpointRecorder.before_save` (flush, so all that was logged before a checkpoint
is on disk with it), :meth:`~CheckpointRecorder.saved` (a ``checkpoint/step`` point and a
``checkpoint/saved`` text at the checkpoint's step) and :meth:`~CheckpointRecorder.restored`.

**The mark.** After a restore of the checkpoint of step N, each run of each writer is
marked at the first step it logs that is >= N (earlier steps, e.g. a config text at 0,
are written as they are): at N when that step is N (the loop re-runs N: its new points
replace the old), else at N + 1 (the loop resumes after N, whose points are kept). A mark
at S makes both TensorBoard loaders drop what earlier processes logged at steps >= S
(``../shared/event-format.md`` sections 2 and 8):

- the Python loader purges on a ``SessionLog START`` at S (the core puts a START (at
  ``events.NO_PURGE_STEP``, where it purges nothing) in
  each run's first file, since the loader ignores the first START it sees; a run with no
  START yet, started by another writer, gets one more);
- the Rust data server ignores START: a new point at s drops that tag's points at steps
  >= s. So before the START, every tag with a point at a step >= S gets one placeholder
  at S that the data server stores as data loss (never served), with no metadata, so it
  never carries another plugin than the tag's own: a rank-1 float tensor for scalar tags
  (tensor or ``simple_value``), an empty float tensor for blobs (images, audio), a
  ``simple_value`` for other tensors (histograms, text, ...). The START purges the
  placeholders for the Python loader.

Runs that mix step axes (Keras: ``batch_*`` at the optimizer iteration, ``epoch_*`` at the
epoch) pass :class:`Axis` groups, each with its own N: the run is marked at the smallest,
and a group whose first logged step comes later gets its points between the two written
again (its history up to its checkpoint). A run or group that logs nothing >= its N
before the next :meth:`~CheckpointRecorder.saved` at a later step, or before its writer
closes, is marked there, at N + 1.

**Records.** At the mark of its first writer's run the restore is recorded
(``checkpoint/restored`` at S) and the save records of every checkpoint still on disk
at a step >= S are written again (the START purges them), so every checkpoint on disk
keeps its record.
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tblog.checkpoint import resume_scan, write_hook
from tblog.core.format import events
from tblog.core.proto import summary_pb2
from tblog.core.write.encoder import CallItem, EventItem, SummaryItem

STEP_TAG = "checkpoint/step"
SAVED_TAG = "checkpoint/saved"
RESTORED_TAG = "checkpoint/restored"
_TEXT = "/text_summary"  # what add_text appends to a tag
_INT64_MAX = (1 << 63) - 1


def _run_of(item: Any) -> Any:
    """The run a queued item writes to (a scalar is a plain tuple whose first field is its
    run; typed items carry ``run``; a call barrier is named by its function)."""
    if type(item) is tuple:
        return item[0]
    if type(item) is CallItem:
        return item.fn
    return getattr(item, "run", None)


def check_step(step: Any, name: str = "step") -> int:
    """``step`` as an ``int`` in ``[0, 2**63 - 1]``: Python and numpy integers, one-element
    integer arrays/tensors of any framework, and integer-valued floats (converted exactly,
    never through a float for integers). Raises ``TypeError`` (not an integer) or
    ``ValueError`` (a fraction, negative, or beyond int64) naming ``name``."""
    if isinstance(step, bool):
        raise TypeError(f"{name} must be an integer, got bool")
    if type(step) is not int:
        index = getattr(step, "__index__", None)
        if index is not None and not isinstance(step, float):
            try:
                step = index()
            except (TypeError, ValueError, RuntimeError):  # a multi-element or float tensor
                step = _from_array(step, name)
        else:
            step = _from_array(step, name)
    if not 0 <= step <= _INT64_MAX:
        raise ValueError(f"{name} must be in [0, 2**63 - 1], got {step}")
    return int(step)


def _from_array(step: Any, name: str) -> int:
    from tblog.core.convert import to_numpy

    try:
        arr = to_numpy(step)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an integer, got {type(step).__name__}") from None
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an integer, got {step!r:.60}")
    value = arr.reshape(()).item()  # a Python int for integer dtypes: exact
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{name} must be a whole number, got {value}")
    return int(value)


@dataclass(frozen=True)
class Axis:
    """The tags starting with one of ``prefixes`` count their steps on their own axis, at
    ``step`` in the restored checkpoint (e.g. ``Axis(("batch_",), iterations)``)."""

    prefixes: tuple[str, ...]
    step: int


def _writers(writer: Any) -> list[Any]:
    if writer is None:
        return []
    writers = list(writer) if isinstance(writer, Sequence) else [writer]
    for w in writers:
        if not callable(getattr(w, "restart", None)) or not callable(
            getattr(w, "add_scalar", None)
        ):
            raise TypeError(
                f"writer must be a tblog.SummaryWriter or a sequence of them, got {type(w).__name__}"
            )
    return writers


class CheckpointRecorder:
    """Records checkpoints in ``writers`` (a ``tblog.SummaryWriter``, a sequence of them, or
    ``None``): saves and restores in the first, restores marking all (train and validation
    writers). Raises ``TypeError`` for other writers."""

    def __init__(self, writers: Any = None) -> None:
        self.writers = _writers(writers)
        self._restored: int | None = None

    def before_save(self) -> None:
        """Flush the writers, and every other live writer of the process (a Keras or
        Lightning logger's too): a crash right after the save resumes there and never
        logs those steps again."""
        from tblog.core.write.shutdown import flush_all

        for writer in self.writers:
            writer.flush()
        flush_all()

    def saved(self, step: Any, path: str, metrics: Mapping[str, Any] | None = None) -> None:
        """Record the checkpoint of ``step`` at ``path`` (``metrics``: shown in the text)."""
        step = check_step(step)
        if self._restored is not None and step > self._restored:
            for writer in self.writers:
                _settle(writer)  # the loop went on: what is still unmarked is marked at N + 1
            self._restored = None
        if not self.writers:
            return
        writer = self.writers[0]
        writer.add_scalar(STEP_TAG, float(step), step)
        writer.add_text(SAVED_TAG, f"step {step}: `{path}`{_fmt_metrics(metrics)}", step)
        writer.flush()

    def restored(
        self,
        step: Any,
        path: str | None = None,
        *,
        on_disk: Collection[int] | None = None,
        axes: Iterable[Axis] = (),
    ) -> int:
        """Record that the checkpoint of ``step`` (at ``path``) was restored and mark every
        run of every writer (see the module docstring). ``on_disk``: the steps of the
        checkpoints still on disk (``None``: every one recorded). ``axes``: tag groups on
        other step axes. Returns ``step`` as an int."""
        value = check_step(step)
        self._restored = value
        encoding = (
            getattr(self.writers[0], "_scalar_encoding", events.TENSOR)
            if self.writers
            else events.TENSOR
        )
        records = _Records(value, path, on_disk, encoding)
        for i, writer in enumerate(self.writers):
            mark_resume(writer, value, axes=axes, records=records if i == 0 else None)
        return value


def mark_resume(
    writer: Any, step: Any, *, axes: Iterable[Axis] = (), records: _Records | None = None
) -> None:
    """Mark every run of ``writer`` (a ``tblog.SummaryWriter`` or ``None``) as resumed from
    the checkpoint of ``step`` (the mark is written at each run's first step logged >=
    ``step``; see the module docstring). Raises ``TypeError`` for another ``writer``."""
    if writer is None:
        return
    if not callable(getattr(writer, "restart", None)):
        raise TypeError(
            f"writer must be a tblog.SummaryWriter (with restart()), got {type(writer).__name__}"
        )
    groups: list[tuple[tuple[str, ...] | None, int]] = [(None, check_step(step))]
    groups += [(tuple(a.prefixes), check_step(a.step, "axis step")) for a in axes]
    core = getattr(writer, "writer", None)  # the EventWriter; None on non-zero ranks
    if core is None:
        return
    writer.flush()
    resume = _Resume(core, groups, records)
    with _lock:
        old = _pending.get(core)
        if old is not None:
            old.done = True
        _pending[core] = resume
    write_hook.observe_batches(core, resume.observe)
    write_hook.before_close(core, lambda: _settle(writer))


def _settle(writer: Any) -> None:
    core = getattr(writer, "writer", None)
    if core is None:
        return
    resume = _pending.get(core)
    if resume is not None and not resume.done:
        core.call(resume.settle)  # the observer marks what is left where this item stands


_lock = threading.Lock()
_pending: weakref.WeakKeyDictionary[Any, _Resume] = weakref.WeakKeyDictionary()


class _Records:
    """The checkpoint records a mark writes into the first writer's run."""

    def __init__(
        self,
        step: int,
        path: str | None,
        on_disk: Collection[int] | None,
        encoding: int = events.TENSOR,
    ) -> None:
        self.step = step
        self.path = path
        self.encoding = encoding  # the writer's scalar encoding, as saved() wrote them
        self.on_disk = None if on_disk is None else {int(s) for s in on_disk}

    def events(self, scan: resume_scan.RunScan, start: int, wall: float) -> list[bytes]:
        out = []
        seen: set[tuple[int, bytes]] = set()
        saved = []
        for _, s, _, data in scan.copies:  # the save records, once each, by step
            if s >= start and (s, data) not in seen:
                seen.add((s, data))
                saved.append((s, data))
        saved.sort(key=lambda item: item[0])
        for s, data in saved:
            if self.on_disk is not None and s not in self.on_disk:
                continue
            out.append(_scalar_event(STEP_TAG, float(s), s, wall, self.encoding))
            out.append(resume_scan.value_event(data, s, wall))
        from tblog.core.summaries import text

        where = f" from `{self.path}`" if self.path else ""
        note = f"resumed at step {start}{where} (checkpoint of step {self.step})"
        out.append(events.summary_event(text.text_pb(RESTORED_TAG + _TEXT, note), start, wall))
        return out


class _Run:
    __slots__ = ("resolved", "scan", "start")

    def __init__(self, scan: resume_scan.RunScan) -> None:
        self.scan = scan
        self.start: int | None = None
        self.resolved: set[int] = set()


class _Resume:
    """The pending mark of one EventWriter's runs (state shared with its writer thread)."""

    def __init__(
        self, core: Any, groups: list[tuple[tuple[str, ...] | None, int]], records: _Records | None
    ) -> None:
        self.groups = groups
        self.records = records
        self.done = False
        keep: list[resume_scan.Keep] = []
        lo = min(n for _, n in groups)
        if len(groups) > 1:
            for g, (_, n) in enumerate(groups):
                keep.append(resume_scan.Keep(functools.partial(self._in_group, g), lo, n))
        if records is not None:
            keep.append(resume_scan.Keep((SAVED_TAG + _TEXT).__eq__, 0, _INT64_MAX, every=True))
        from tblog.core.write.shutdown import live_writers

        # a sub-directory that another writer of this process logs to is its run, not ours
        others = [w.logdir for w in list(live_writers) if w is not core]
        scans = resume_scan.scan_runs(core.storage, core.logdir, keep, others)
        self.runs = {run: _Run(scan) for run, scan in scans.items()}
        if records is not None and "" not in self.runs:
            self.runs[""] = _Run(resume_scan.RunScan())
        self._lock = threading.Lock()
        self._token = self.settle  # a CALL item (CALL, settle) marks what is left
        self._update_watch()

    def group(self, tag: str) -> int:
        for g in range(1, len(self.groups)):
            if tag.startswith(self.groups[g][0] or ()):
                return g
        return 0

    def _in_group(self, g: int, tag: str) -> bool:
        return self.group(tag) == g

    def settle(self) -> None:
        """A no-op when run: the observer acts where this item stands in the queue."""

    def observe(self, batch: list[Any]) -> bool:
        """The write hook: insert each run's mark before its first item at a step >= N."""
        with self._lock:
            if self.done:
                return False
            # the common case once the written runs are marked: nothing to do, found in C
            if self._watch.isdisjoint(map(_run_of, batch)):
                return True
            inserts: list[tuple[int, list[Any]]] = []
            for i, item in enumerate(batch):
                kind = type(item)
                if kind is tuple:
                    run, tag, step = item[0], item[1], item[3]
                elif kind is SummaryItem:
                    values = item.summary.value
                    if not values:
                        continue
                    run, tag, step = item.run, values[0].tag, item.step
                elif kind is CallItem and item.fn == self._token:
                    inserts.append((i, self._settle_all()))
                    continue
                else:
                    continue
                r = self.runs.get(run)
                if r is None or len(r.resolved) == len(self.groups):
                    continue
                g = self.group(tag)
                n = self.groups[g][1]
                if g in r.resolved or type(step) is not int or step < n:
                    continue
                inserts.append((i, self._resolve(run, r, g, n if step == n else n + 1)))
            for i, items in reversed(inserts):
                batch[i:i] = items
            self._update_watch()
            return not self.done

    def _update_watch(self) -> None:
        pending = {run for run, r in self.runs.items() if len(r.resolved) < len(self.groups)}
        self.done = not pending
        self._watch = {*pending, self._token}

    def _settle_all(self) -> list[Any]:
        out = []
        for run, r in self.runs.items():
            for g, (_, n) in enumerate(self.groups):
                if g not in r.resolved:
                    out.extend(self._resolve(run, r, g, n + 1))
        return out

    def _resolve(self, run: str, r: _Run, g: int, mark: int) -> list[Any]:
        """The items that mark group ``g`` of ``run`` at ``mark`` (and the run, if first)."""
        out: list[bytes] = []
        wall = time.time()
        if r.start is None:
            others = [n for h, (_, n) in enumerate(self.groups) if h != g and h not in r.resolved]
            start = r.start = min([mark, *others])
            stale = r.scan.stale(start)
            if stale:
                out.append(resume_scan.placeholder_event(stale, start, wall))
            if not r.scan.has_start:
                # the Python loader ignores the first START of a run: give it one
                out.append(events.session_start_event(start, wall))
            out.append(events.session_start_event(start, wall))
            if run == "" and self.records is not None:
                out.extend(self.records.events(r.scan, start, wall))
        r.resolved.add(g)
        if len(self.groups) > 1:
            start = r.start
            again = sorted(
                (s, tag)
                for (tag, s) in r.scan.kept
                if start <= s < mark and tag != SAVED_TAG + _TEXT and self.group(tag) == g
            )
            for s, tag in again:
                kept_wall, data = r.scan.kept[(tag, s)]
                out.append(resume_scan.value_event(data, s, kept_wall))
        return [EventItem(run, data) for data in out]


def _fmt_metrics(metrics: Mapping[str, Any] | None) -> str:
    if not metrics:
        return ""
    parts = []
    for key, value in metrics.items():
        try:
            parts.append(f"{key}={float(value):.6g}")
        except (TypeError, ValueError):
            parts.append(f"{key}={value}")
    return " (" + ", ".join(parts) + ")"


def _scalar_event(tag: str, value: float, step: int, wall: float, encoding: int) -> bytes:
    """A scalar event in ``encoding`` (``simple_value`` for torch-style writers: the
    legacy ``EventAccumulator.Scalars`` reads only those)."""
    from tblog.core.summaries import scalar

    if encoding == events.SIMPLE_VALUE:
        summary = summary_pb2.Summary()
        summary.value.add(tag=tag, simple_value=value)
    else:
        summary = scalar.scalar_pb(tag, value)
    return events.summary_event(summary, step, wall)
