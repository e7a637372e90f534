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
(``docs/event-format.md`` §2 and §8):

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

**Where it is written.** The recorder decides what a mark writes (a plan per run, from
:mod:`~tblog.checkpoint.resume_scan`); the write path decides where: the recorder queues it
with ``EventWriter.mark`` and ``EventWriter.settle`` (typed queue items,
:mod:`tblog.core.write.marks`), and the writer keeps what is pending (``close`` settles it).
No state is kept here between calls but the recorder's own.

**Records.** At the mark of its first writer's run the restore is recorded
(``checkpoint/restored`` at S) and the save records of every checkpoint still on disk
at a step >= S are written again (the START purges them), so every checkpoint on disk
keeps its record. A save of the resumed loop at the step of such a record (resumed from
an older checkpoint, it reaches the newer ones' steps again) adds its text but no second
``checkpoint/step`` point (the writer's ``carried_saves``): one point per step.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tblog.checkpoint import resume_scan
from tblog.core.convert import to_step
from tblog.core.format import events
from tblog.core.proto import summary_pb2

STEP_TAG = "checkpoint/step"
SAVED_TAG = "checkpoint/saved"
RESTORED_TAG = "checkpoint/restored"
_TEXT = "/text_summary"  # what add_text appends to a tag
_INT64_MAX = (1 << 63) - 1


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
        step = to_step(step, "step", non_negative=True)
        if self._restored is not None and step > self._restored:
            for writer in self.writers:
                core = writer.writer
                if core is not None:  # the loop went on: what is unmarked is marked at N + 1
                    core.settle()
            self._restored = None
            for writer in self.writers:
                if getattr(writer, "restored_step", None) is not None:
                    writer.restored_step = None
        if not self.writers:
            return
        writer = self.writers[0]
        carried: frozenset[int] = getattr(writer, "carried_saves", frozenset())
        if step in carried:  # its point, from the earlier process's save, is there
            writer.carried_saves = carried - {step}
        else:
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
        skipped: Sequence[str] = (),
    ) -> int:
        """Record that the checkpoint of ``step`` (at ``path``) was restored and mark every
        run of every writer (see the module docstring). ``on_disk``: the steps of the
        checkpoints still on disk (``None``: every one recorded). ``axes``: tag groups on
        other step axes. ``skipped``: newer checkpoints that could not be loaded (named in
        the restore record). Returns ``step`` as an int."""
        value = to_step(step, "step", non_negative=True)
        self._restored = value
        # a writer without scalar_encoding (tblog.summary's) writes tensor scalars
        first = self.writers[0] if self.writers else None
        encoding = getattr(first, "scalar_encoding", events.TENSOR)
        records = _Records(value, path, on_disk, encoding, tuple(skipped))
        for i, writer in enumerate(self.writers):
            carried = _mark(writer, value, axes, records if i == 0 else None)
            if i == 0 and hasattr(writer, "carried_saves"):
                writer.carried_saves = carried
            if hasattr(writer, "restored_step"):  # tblog.SummaryWriter's: watch() reads it
                writer.restored_step = value
        return value


def mark_resume(writer: Any, step: Any, *, axes: Iterable[Axis] = ()) -> None:
    """Mark every run of ``writer`` (a ``tblog.SummaryWriter`` or ``None``) as resumed from
    the checkpoint of ``step`` without recording the restore (the mark is written at each
    run's first step logged >= ``step``; see the module docstring). Raises ``TypeError``
    for another ``writer``."""
    if writer is None:
        return
    if not callable(getattr(writer, "restart", None)):
        raise TypeError(
            f"writer must be a tblog.SummaryWriter (with restart()), got {type(writer).__name__}"
        )
    _mark(writer, to_step(step, "step", non_negative=True), axes, None)


def _mark(writer: Any, step: int, axes: Iterable[Axis], records: _Records | None) -> frozenset[int]:
    """Queue the marks of ``writer``'s runs: one plan per run, from a scan of its files.
    Returns the steps above ``step`` whose save records ``records`` writes again."""
    groups: list[tuple[tuple[str, ...], int]] = [((), step)]
    groups += [(tuple(a.prefixes), to_step(a.step, "axis step", non_negative=True)) for a in axes]
    core = writer.writer  # the EventWriter; None on non-zero ranks
    if core is None:
        return frozenset()
    writer.flush()  # the scan below sees all that was logged before the restore
    keep: list[resume_scan.Keep] = []
    if len(groups) > 1:
        for g, (_, n) in enumerate(groups):
            keep.append(resume_scan.Keep(_InGroup(groups, g), min(n for _, n in groups), n))
    if records is not None:
        keep.append(resume_scan.Keep((SAVED_TAG + _TEXT).__eq__, 0, _INT64_MAX, every=True))
    from tblog.core.write.shutdown import live_writers

    # a sub-directory that another writer of this process logs to is its run, not ours
    others = [w.logdir for w in list(live_writers) if w is not core]
    scans = resume_scan.scan_runs(core.storage, core.logdir, keep, others)
    if records is not None and "" not in scans:
        scans[""] = resume_scan.RunScan()
    # the records go into the writer's run, and into the rank run that mirrors it (the
    # rank-0 run of a per_rank writer, which holds the same records)
    mirror = getattr(core, "mirror", "")
    plans = {
        run: _Plan(scan, _InGroup(groups, 0), records if run in ("", mirror) else None)
        for run, scan in scans.items()
    }
    core.mark(groups, plans)
    return frozenset() if records is None else records.carried(scans[""], step)


class _InGroup:
    """``tag`` in step group ``g`` (the first group whose prefixes it starts with, else 0)."""

    def __init__(self, groups: Sequence[tuple[tuple[str, ...], int]], g: int) -> None:
        self.groups, self.g = groups, g

    def group(self, tag: str) -> int:
        for h in range(1, len(self.groups)):
            if tag.startswith(self.groups[h][0]):
                return h
        return 0

    def __call__(self, tag: str) -> bool:
        return self.group(tag) == self.g


class _Plan:
    """What a mark writes into one run (``tblog.core.write.marks.MarkPlan``)."""

    def __init__(self, scan: resume_scan.RunScan, groups: _InGroup, records: _Records | None):
        self.scan, self.groups, self.records = scan, groups, records

    def begin(self, start: int, wall: float) -> list[bytes]:
        """Placeholders and START(s) at the run's mark ``start``; the records in the first."""
        out = []
        stale = self.scan.stale(start)
        if stale:
            out.append(resume_scan.placeholder_event(stale, start, wall))
        if not self.scan.has_start:
            # the Python loader ignores the first START of a run: give it one
            out.append(events.session_start_event(start, wall))
        out.append(events.session_start_event(start, wall))
        if self.records is not None:
            out.extend(self.records.events(self.scan, start, wall))
        return out

    def again(self, group: int, start: int, mark: int, wall: float) -> list[bytes]:
        """The points of ``group`` at ``start <= step < mark``, written again."""
        kept = self.scan.kept
        again = sorted(
            (s, tag)
            for (tag, s) in kept
            if start <= s < mark and tag != SAVED_TAG + _TEXT and self.groups.group(tag) == group
        )
        return [
            resume_scan.value_event(kept[(tag, s)][1], s, kept[(tag, s)][0]) for s, tag in again
        ]


class _Records:
    """The checkpoint records a mark writes into the first writer's run."""

    def __init__(
        self,
        step: int,
        path: str | None,
        on_disk: Collection[int] | None,
        encoding: int = events.TENSOR,
        skipped: tuple[str, ...] = (),
    ) -> None:
        self.step = step
        self.path = path
        self.encoding = encoding  # the writer's scalar encoding, as saved() wrote them
        self.on_disk = None if on_disk is None else {int(s) for s in on_disk}
        self.skipped = skipped

    def _on_disk(self, step: int) -> bool:
        """Whether the checkpoint of ``step`` is still on disk (``None``: every one is)."""
        return self.on_disk is None or step in self.on_disk

    def carried(self, scan: resume_scan.RunScan, above: int) -> frozenset[int]:
        """The steps above ``above`` whose save records :meth:`events` writes again."""
        return frozenset(s for _, s, _, _ in scan.copies if s > above and self._on_disk(s))

    def events(self, scan: resume_scan.RunScan, start: int, wall: float) -> list[bytes]:
        out = []
        seen: set[tuple[int, bytes]] = set()
        saved = []
        for _, s, _, data in scan.copies:  # the save records, once each, by step
            if s >= start and (s, data) not in seen:
                seen.add((s, data))
                saved.append((s, data))
        saved.sort(key=lambda item: item[0])
        pointed: set[int] = set()
        for s, data in saved:
            if not self._on_disk(s):
                continue
            if s not in pointed:  # two checkpoints of one step (an earlier resume's): one point
                pointed.add(s)
                out.append(_scalar_event(STEP_TAG, float(s), s, wall, self.encoding))
            out.append(resume_scan.value_event(data, s, wall))
        from tblog.core.summaries import text

        where = f" from `{self.path}`" if self.path else ""
        note = f"resumed at step {start}{where} (checkpoint of step {self.step})"
        if self.skipped:
            names = ", ".join(f"`{p}`" for p in self.skipped)
            note += f"; skipped the damaged newer checkpoint(s) {names}"
        out.append(events.summary_event(text.text_pb(RESTORED_TAG + _TEXT, note), start, wall))
        return out


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
