"""Event files on stores that cannot append (``memory://``, S3, GCS) are numbered objects
whose names sort in write order for any number of flushes, as TensorBoard's loaders sort
a run's files, and a flush per step does not make one object per step."""

from __future__ import annotations

import fsspec
import pytest
from tb import accumulator
from tensorboard.backend.event_processing import event_file_loader, io_wrapper

import tblog
from tblog.core import storage
from tblog.core.storage import is_event_file, segment_name


def test_segment_names_sort_in_write_order():
    base = "/logs/run/events.out.tfevents.1700000000.host.42.1"
    indices = list(range(120_000))
    for digits in range(6, 27):  # around every change of width, up to the limit
        indices += [10 ** (digits - 1) - 1, 10 ** (digits - 1), 10 ** (digits - 1) + 7]
    indices = sorted(set(indices))
    names = [segment_name(base, i) for i in indices]
    assert sorted(names) == names
    assert len(set(names)) == len(names)
    assert all(is_event_file(n) and io_wrapper.IsSummaryEventsFile(n) for n in names[:10])
    # never between this file and the next file of the same run
    assert max(names) < base[:-1] + "2" and max(names) < base + "0"
    with pytest.raises(ValueError):
        segment_name(base, 10**26)


def _download(fs, prefix: str, dest) -> list[str]:
    objects = sorted(p for p in fs.find(prefix) if "tfevents" in p)
    dest.mkdir(parents=True, exist_ok=True)
    for p in objects:
        (dest / p.rsplit("/", 1)[1]).write_bytes(fs.cat_file(p))
    return objects


def _tb_steps_by_name_order(run_dir) -> list[int]:
    """Steps as TensorBoard's directory loader reads them: the run's event files listed,
    filtered and sorted by its own rules, each read with its own file loader (what
    ``DirectoryWatcher`` does, without its re-listing of the directory per file)."""
    paths = sorted(
        p
        for p in io_wrapper.ListDirectoryAbsolute(str(run_dir))
        if io_wrapper.IsSummaryEventsFile(p)
    )
    steps = []
    for path in paths:
        for event in event_file_loader.LegacyEventFileLoader(path).Load():
            if event.HasField("summary"):
                steps.append(event.step)
    return steps


def _write(url: str, steps: int, tags: int = 1) -> None:
    w = tblog.SummaryWriter(url)
    for i in range(steps):
        w.add_scalar("x", float(i), i)
        for k in range(1, tags):
            w.add_scalar(f"x{k}", float(k), i)
        w.flush()  # one flush per step, as tf.summary's `as_default(step=...)` idiom
    w.close()


def test_flush_per_step_coalesces_objects_and_keeps_order(tmp_path):
    url = "memory://tblog-segments/coalesce"
    fs = fsspec.filesystem("memory")
    try:
        _write(url, 12_000, tags=8)
        objects = _download(fs, "/tblog-segments/coalesce", tmp_path / "run")
        total = sum(fs.size(p) for p in objects)
        assert total > 10 * storage.SEGMENT_BYTES
        assert len(objects) <= total // storage.SEGMENT_BYTES + 1
        assert [e.step for e in accumulator(tmp_path / "run").Tensors("x")] == list(range(12_000))
        frame = tblog.scalars(url, tags="^x$")
        assert frame.step.tolist() == list(range(12_000))
    finally:
        fs.rm("/tblog-segments", recursive=True)


def test_more_than_ten_thousand_objects_read_in_order(tmp_path, monkeypatch):
    """With a segment per flush (objects of one record), past the 10,000th object."""
    monkeypatch.setattr(storage, "SEGMENT_BYTES", 1)
    url = "memory://tblog-segments/many"
    fs = fsspec.filesystem("memory")
    try:
        _write(url, 10_050)
        objects = _download(fs, "/tblog-segments/many", tmp_path / "run")
        assert len(objects) >= 10_050
        assert _tb_steps_by_name_order(tmp_path / "run") == list(range(10_050))
        assert tblog.scalars(url).step.tolist() == list(range(10_050))
        assert [e.step for _, e in tblog.read(url) if e.HasField("summary")] == list(range(10_050))
    finally:
        fs.rm("/tblog-segments", recursive=True)


def test_tf_summary_idiom_flushes_into_one_object(tmp_path):
    """``with writer.as_default(step=s)`` flushes on every exit: 3,000 steps of small
    scalars stay one object (rewritten), read in order by TensorBoard and tblog."""
    url = "memory://tblog-segments/tfidiom"
    fs = fsspec.filesystem("memory")
    try:
        writer = tblog.summary.create_file_writer(url)
        for step in range(3000):
            with writer.as_default(step=step):
                tblog.summary.scalar("loss", 1.0 / (step + 1))
        writer.close()
        objects = _download(fs, "/tblog-segments/tfidiom", tmp_path / "run")
        assert len(objects) == 1
        steps = [e.step for e in accumulator(tmp_path / "run").Tensors("loss")]
        assert steps == list(range(3000))
        assert tblog.scalars(url).step.tolist() == steps
    finally:
        fs.rm("/tblog-segments", recursive=True)
