"""``tblog.scalars`` / ``histograms`` / ``hparams`` arguments: run and tag filters
(regular expressions or callables, applied before decoding), ``pivot``, fsspec URLs with
``storage_options``, and clear errors on bad input. Values are judged by TensorBoard's
loader (``tests/tb.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import tb

import tblog


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    for run in ("a/train", "a/eval", "b"):
        w = tblog.SummaryWriter(str(root / run))
        for step in range(0, 30, 3):
            w.add_scalar("loss", step * 0.5 + len(run), step)
            w.add_scalar("acc/top1", step / 30, step)
            if step % 9 == 0:
                w.add_scalar("sparse", -step, step)
                w.add_histogram("w", np.arange(6.0) * step, step)
        w.close()
    return root


def _want(logdir, runs=None, tags=None):
    out = {}
    for (run, tag), series in tb.mux_scalars(logdir).items():
        if (runs is None or runs(run)) and (tags is None or tags(tag)) and series:
            out[(run, tag)] = series
    return out


def _long(frame):
    out = {}
    for run, tag, step, value in zip(frame.run, frame.tag, frame.step, frame.value, strict=True):
        out.setdefault((run, tag), []).append((int(step), float(value)))
    return out


def test_filters_regex_and_callable(logdir):
    import re

    every = tblog.scalars(str(logdir))
    assert _long(every) == _want(logdir)
    assert list(every.columns) == ["run", "tag", "step", "wall_time", "value"]
    got = tblog.scalars(str(logdir), tags="^acc/", runs=r"^a/")
    assert _long(got) == _want(
        logdir, runs=lambda r: re.search("^a/", r), tags=lambda t: t.startswith("acc/")
    )
    got = tblog.scalars(str(logdir), tags=lambda t: t == "sparse", runs=lambda r: r == "b")
    assert _long(got) == _want(logdir, runs=lambda r: r == "b", tags=lambda t: t == "sparse")
    assert len(tblog.scalars(str(logdir), tags="nothing-matches")) == 0


def test_filters_apply_before_decoding(logdir, monkeypatch):
    """A run the filter rejects is never read; a rejected tag's values are never decoded."""
    from tblog.core import storage
    from tblog.core.read import values

    read = []
    orig = storage.LocalStorage.open_read
    monkeypatch.setattr(
        storage.LocalStorage, "open_read", lambda self, p: read.append(p) or orig(self, p)
    )
    decoded = []
    orig_scalar = values.scalar_of
    monkeypatch.setattr(values, "scalar_of", lambda v: decoded.append(v.tag) or orig_scalar(v))
    tblog.scalars(str(logdir), runs="^b$", tags="^w$")
    assert read and all("/b/" in p for p in read)
    assert set(decoded) <= {"w"}


def test_pivot(logdir):
    wide = tblog.scalars(str(logdir), pivot=True)
    assert list(wide.columns) == ["run", "step", "acc/top1", "loss", "sparse"]
    want = _want(logdir)
    assert sorted(set(wide.run)) == sorted({r for r, _ in want})
    for (run, tag), series in want.items():
        rows = wide[wide.run == run]
        got = [(int(s), float(v)) for s, v in zip(rows.step, rows[tag], strict=True) if v == v]
        assert got == series, (run, tag)
    assert wide["sparse"].isna().sum() > 0  # steps without that tag: NaN


def test_histograms_columns(logdir):
    frame = tblog.histograms(str(logdir), runs="b")
    assert list(frame.columns) == ["run", "tag", "step", "wall_time", "edges", "counts"]
    acc = tb.accumulator(logdir / "b")
    want = acc.Tensors("w")
    assert frame.step.tolist() == [e.step for e in want]
    for edges, counts, e in zip(frame.edges, frame.counts, want, strict=True):
        arr = tb.array(e)
        assert edges.size == counts.size + 1
        np.testing.assert_allclose(counts, arr[:, 2])
        np.testing.assert_allclose(edges[:-1], arr[:, 0])


def test_memory_url_with_storage_options(logdir):
    import fsspec

    fs = fsspec.filesystem("memory")
    for path in logdir.rglob("*tfevents*"):
        rel = path.relative_to(logdir).as_posix()
        fs.pipe(f"/tblog-api-test/{rel}", path.read_bytes())
    got = tblog.scalars("memory://tblog-api-test", storage_options={"skip_instance_cache": True})
    assert _long(got) == _want(logdir)
    assert len(tblog.histograms("memory://tblog-api-test", storage_options={})) == len(
        tblog.histograms(str(logdir))
    )


def test_bad_input_names_the_argument(logdir, tmp_path):
    with pytest.raises(ValueError, match="tags"):
        tblog.scalars(str(logdir), tags="(")
    with pytest.raises(ValueError, match="runs"):
        tblog.histograms(str(logdir), runs="[")
    with pytest.raises(TypeError, match="tags"):
        tblog.scalars(str(logdir), tags=3)
    with pytest.raises(FileNotFoundError, match="logdir"):
        tblog.scalars(str(tmp_path / "missing"))
    assert len(tblog.hparams(str(logdir))) == 0  # no sessions: an empty table


def test_plugin_identity_from_first_value_naming_one(tmp_path):
    """A tag's plugin is that of its first value carrying metadata (or a legacy field that
    TensorBoard migrates), as TensorBoard's loader decides; points are judged by it."""
    from tblog.core.proto import summary_pb2
    from tblog.core.read.scan import load_runs
    from tblog.core.write.writer import EventWriter

    def value(summary, tag, plugin=None, simple=None, number=None):
        v = summary.value.add(tag=tag)
        if plugin:
            v.metadata.plugin_data.plugin_name = plugin
        if simple is not None:
            v.simple_value = simple
        if number is not None:
            v.tensor.dtype = 1
            v.tensor.float_val.append(number)

    w = EventWriter(str(tmp_path / "run"))
    for step in range(4):
        s = summary_pb2.Summary()
        value(s, "late_meta", plugin="scalars" if step == 2 else None, number=step)
        value(s, "legacy_first", plugin="histograms" if step else None, simple=None if step else 1.0,
              number=float(step) if step else None)  # fmt: skip
        value(s, "text_first", plugin="text" if step == 0 else "scalars", number=step)
        w.summary("", s, step, float(step))
    w.close()
    got = load_runs(str(tmp_path))["run"].series
    acc = tb.accumulator(tmp_path / "run")
    for tag in ("late_meta", "legacy_first", "text_first"):
        assert got[tag].plugin == acc.SummaryMetadata(tag).plugin_data.plugin_name, tag
        assert got[tag].steps.tolist() == [e.step for e in acc.Tensors(tag)], tag
    frame = tblog.scalars(str(tmp_path))
    assert set(frame.tag) == {"late_meta", "legacy_first"}  # text_first is a text tag


def test_numpy_fast_path_and_protobuf_path_agree(logdir, monkeypatch):
    """With the numpy scalar decoder matching nothing, every record takes the protobuf
    path: the same frame comes out."""
    from tblog.core.format import decode_scalars as decode

    fast = tblog.scalars(str(logdir))
    orig = decode.fast_scalars

    def nothing(buf, fr):
        out = orig(buf, fr)
        out.mask[:] = False
        return decode.FastScalars(out.mask, *(x[:0] for x in (out.idx, out.tag)), [],
                                  *(x[:0] for x in (out.step, out.wall, out.value, out.ident,
                                                    out.simple)))  # fmt: skip

    monkeypatch.setattr(decode, "fast_scalars", nothing)
    slow = tblog.scalars(str(logdir))
    assert fast.equals(slow)
    assert len(fast) > 0


def test_same_length_records_with_a_broken_varint_are_no_scalars(tmp_path):
    """Hundreds of equal-length records (the fast path's column read) whose checksums hold
    but whose step is a varint cut off by the record's end: not scalars, and no
    IndexError; the scalar beside them is read (TensorBoard's loader stops at such a record
    with a DecodeError)."""
    import struct

    from tblog.core.format import events
    from tblog.core.format.records import frame, frame_many
    from tblog.core.summaries import scalar

    # the step's varint runs to the record's end: 10 bytes, none of them its last
    broken = b"\x09" + struct.pack("<d", 1.7e9) + b"\x10" + b"\xff" * 10
    good = events.summary_event(scalar.scalar_pb("loss", 0.5), 3, 1.7e9)
    path = tmp_path / "events.out.tfevents.1700000000.host.1.0"
    path.write_bytes(
        frame(events.file_version_event(1.7e9)) + frame_many([broken] * 300) + frame(good)
    )
    frame_ = tblog.scalars(str(tmp_path))
    assert list(zip(frame_.tag, frame_.step, frame_.value, strict=True)) == [("loss", 3, 0.5)]
