"""The resume mark as typed write-path items (``EventWriter.mark``/``settle``, MarkItem and
SettleItem): where the write path puts a mark's events, both loop orders (log-then-save:
resume after N; save-then-log: N re-run), a settle at close, two writers marked by one
recorder, no state left behind after close; read back with TensorBoard's loaders and
``tblog.scalars``. Also: a torch-style writer's hparams metrics are ``simple_value``."""

from __future__ import annotations

import time
import weakref

import tb

import tblog
from tblog.checkpoint import recorder
from tblog.checkpoint.recorder import CheckpointRecorder
from tblog.core.format import events
from tblog.core.summaries import text
from tblog.core.write.encoder import SIMPLE_VALUE
from tblog.core.write.writer import EventWriter


class _Plan:
    """A mark plan whose events are a text naming where it was asked to mark."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, ...]] = []

    def begin(self, start: int, wall: float) -> list[bytes]:
        self.calls.append((start,))
        return [events.summary_event(text.text_pb("mark/text_summary", f"S={start}"), start, wall)]

    def again(self, group: int, start: int, mark: int, wall: float) -> list[bytes]:
        self.calls.append((group, start, mark))
        return []


def _order(logdir) -> list[tuple[str, int]]:
    """``[(tag, step)]`` of the summaries of the main run, in file order."""
    return [
        (v.tag, e.step) for run, e in tblog.read(str(logdir)) if run == "." for v in e.summary.value
    ]


def _scalars(logdir, tag: str, run: str = ".") -> list[tuple[int, float]]:
    frame = tblog.scalars(str(logdir))
    rows = frame[(frame.tag == tag) & (frame.run == run)]
    return [(int(s), float(v)) for s, v in zip(rows.step, rows.value, strict=True)]


def _one_per_step(series: list[tuple[int, float]]) -> bool:
    steps = [s for s, _ in series]
    return steps == sorted(set(steps))


def test_mark_events_go_before_the_first_item_at_a_step_from_n(tmp_path):
    """The write path itself places a MarkItem's events: before the first scalar at a step
    >= N, at S = N when that step is N, else N + 1; earlier steps are written as they are."""
    for first, want in ((5, 5), (7, 6)):
        logdir = tmp_path / str(first)
        w = EventWriter(str(logdir))
        plan = _Plan()
        w.mark([((), 5)], {"": plan})
        w.scalar("", "cfg", 1.0, 0, time.time())  # before N: not a trigger
        w.scalar("", "loss", 2.0, first, time.time())
        w.scalar("", "loss", 3.0, first + 1, time.time())
        w.close()
        assert plan.calls == [(want,)]
        assert _order(logdir) == [
            ("cfg", 0),
            ("mark/text_summary", want),
            ("loss", first),
            ("loss", first + 1),
        ]


def test_settle_item_marks_what_is_pending_where_it_stands(tmp_path):
    """``settle()`` marks the pending runs at N + 1 at its place in the queue; a later
    item at a step >= N does not mark again; close() after that writes nothing more."""
    w = EventWriter(str(tmp_path))
    plan = _Plan()
    w.mark([((), 5)], {"": plan})
    w.scalar("", "loss", 1.0, 3, time.time())
    w.settle()
    w.scalar("", "loss", 2.0, 9, time.time())
    w.close()
    assert plan.calls == [(6,)]
    assert _order(tmp_path) == [("loss", 3), ("mark/text_summary", 6), ("loss", 9)]


def test_close_settles_a_pending_mark(tmp_path):
    w = EventWriter(str(tmp_path))
    plan = _Plan()
    w.mark([((), 5)], {"": plan})
    w.scalar("", "loss", 1.0, 4, time.time())
    w.close()
    assert plan.calls == [(6,)]
    assert _order(tmp_path)[-1] == ("mark/text_summary", 6)


def test_a_new_mark_replaces_the_pending_one(tmp_path):
    w = EventWriter(str(tmp_path))
    old, new = _Plan(), _Plan()
    w.mark([((), 5)], {"": old})
    w.mark([((), 8)], {"": new})
    w.scalar("", "loss", 1.0, 8, time.time())
    w.close()
    assert old.calls == []
    assert new.calls == [(8,)]


def _first_process(logdir, saves=(5, 10), last=14, style="torch"):
    w = tblog.SummaryWriter(logdir, style=style)
    rec = CheckpointRecorder(w)
    for s in range(last + 1):
        w.add_scalar("loss", float(s), s)
        if s in saves:
            rec.before_save()
            rec.saved(s, f"ckpt-{s}")
    w.close()
    time.sleep(1.05)  # the next process's event files sort after these


def _check_resumed(logdir, want):
    for series in (tb.scalar_series(logdir, "loss"), _scalars(logdir, "loss")):
        assert _one_per_step(series)
        assert series == want
    legacy = tb.legacy_accumulator(logdir)
    assert [(e.step, e.value) for e in legacy.Scalars("loss")] == want


def test_log_then_save_resumes_after_n(tmp_path):
    """Step 10 was logged before its checkpoint: the loop resumes at 11, step 10 is kept."""
    _first_process(tmp_path)
    w = tblog.SummaryWriter(tmp_path)
    CheckpointRecorder(w).restored(10, "ckpt-10")
    for s in range(11, 18):
        w.add_scalar("loss", 100.0 + s, s)
    w.close()
    _check_resumed(tmp_path, [(s, float(s) if s <= 10 else 100.0 + s) for s in range(18)])
    notes = [e.step for e in tb.accumulator(tmp_path).Tensors("checkpoint/restored/text_summary")]
    assert notes == [11]


def test_save_then_log_reruns_n(tmp_path):
    """The checkpoint of 10 was saved before step 10 was logged: the loop runs 10 again."""
    _first_process(tmp_path)
    w = tblog.SummaryWriter(tmp_path)
    CheckpointRecorder(w).restored(10, "ckpt-10")
    for s in range(10, 18):
        w.add_scalar("loss", 100.0 + s, s)
    w.close()
    _check_resumed(tmp_path, [(s, float(s) if s < 10 else 100.0 + s) for s in range(18)])
    saved = [s for s, _ in tb.scalar_series(tmp_path, "checkpoint/step")]
    assert saved == [5, 10]  # the record of 10, purged with the old points, written again


def test_a_writer_that_logs_nothing_more_is_marked_at_close(tmp_path):
    _first_process(tmp_path)
    w = tblog.SummaryWriter(tmp_path)
    CheckpointRecorder(w).restored(10, "ckpt-10")
    w.add_scalar("cfg", 1.0, 3)  # below N: no mark yet
    w.close()  # settles: marked at 11, keeping step 10
    _check_resumed(tmp_path, [(s, float(s)) for s in range(11)])
    assert tb.scalar_series(tmp_path, "cfg") == [(3, 1.0)]


def test_two_writers_marked_by_one_recorder(tmp_path):
    """Train re-runs N (save-then-log), validation logs after N: each at its own S."""
    train, val = tmp_path / "train", tmp_path / "val"
    w1, w2 = tblog.SummaryWriter(train), tblog.SummaryWriter(val)
    for s in range(15):
        w1.add_scalar("loss", float(s), s)
        w2.add_scalar("loss", float(-s), s)
    w1.close()
    w2.close()
    time.sleep(1.05)
    w1, w2 = tblog.SummaryWriter(train), tblog.SummaryWriter(val)
    CheckpointRecorder([w1, w2]).restored(10, "ckpt-10")
    for s in range(10, 16):
        w1.add_scalar("loss", 100.0 + s, s)
        if s > 10:
            w2.add_scalar("loss", -100.0 - s, s)
    w1.close()
    w2.close()
    _check_resumed(train, [(s, float(s) if s < 10 else 100.0 + s) for s in range(16)])
    _check_resumed(val, [(s, float(-s) if s <= 10 else -100.0 - s) for s in range(16)])


def test_no_state_left_after_close(tmp_path):
    """A recorder's mark lives in its writer: after close, a second recorder on a new
    writer in this process marks its own run, and the first run gets nothing more."""
    a, b = tmp_path / "a", tmp_path / "b"
    _first_process(a)
    _first_process(b)
    w = tblog.SummaryWriter(a)
    CheckpointRecorder(w).restored(10, "ckpt-10")
    w.close()  # nothing logged: settled at 11
    size_a = sum(p.stat().st_size for p in a.iterdir())
    w = tblog.SummaryWriter(b)
    CheckpointRecorder(w).restored(5, "ckpt-5")
    for s in range(5, 9):
        w.add_scalar("loss", 50.0 + s, s)
    w.close()
    assert sum(p.stat().st_size for p in a.iterdir()) == size_a
    assert tb.scalar_series(a, "loss") == [(s, float(s)) for s in range(11)]
    _check_resumed(b, [(s, float(s) if s < 5 else 50.0 + s) for s in range(9)])
    assert not any(isinstance(v, weakref.WeakKeyDictionary) for v in vars(recorder).values())


def test_torch_style_hparams_metric_is_a_simple_value(tmp_path):
    """``add_hparams`` of a torch-style writer writes its metrics as torch does:
    ``simple_value``, read by the legacy ``EventAccumulator.Scalars``."""
    w = tblog.SummaryWriter(tmp_path)
    assert w.scalar_encoding == SIMPLE_VALUE
    w.add_hparams({"lr": 0.1}, {"hp/acc": 0.75}, global_step=3)
    w.close()
    legacy = tb.legacy_accumulator(tmp_path)
    assert [(e.step, e.value) for e in legacy.Scalars("hp/acc")] == [(3, 0.75)]
    assert tb.scalar_series(tmp_path, "hp/acc") == [(3, 0.75)]
