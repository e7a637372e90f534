"""The fast paths change nothing TensorBoard can see.

- The batch scalar encoder writes, record for record, the bytes protobuf serialises for
  the same events (random tags, steps incl. negative and 2**63-1, values incl. NaN/inf).
- Files written through the batched writer hold canonical records only, and TensorBoard's
  loaders read the same runs/tags/steps/values as from torch.utils.tensorboard.
- The queue is bounded (structural: it never holds more than ``max_pending`` items, the
  caller waits instead) and nothing is dropped; a failing item costs only itself.
"""

from __future__ import annotations

import math
import struct
import threading
import time

import numpy as np
import pytest
import tb
from hypothesis import given, settings
from hypothesis import strategies as st

import tblog
from tblog.core.format import events, records
from tblog.core.proto import event_pb2
from tblog.core.summaries import scalar
from tblog.core.write.writer import EventWriter

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
WALLS = st.one_of(
    st.floats(min_value=1e9, max_value=2e9), st.sampled_from([0.0, -0.0, 1.0, 1700000000.0])
)
TAGS = st.text(min_size=1, max_size=40).filter(lambda t: "\0" not in t)


def _proto_event(tag: str, value: float, step: int, wall: float, first: bool) -> bytes:
    """What protobuf serialises for one scalar event (metadata on the tag's first value)."""
    event = event_pb2.Event(wall_time=wall, step=step)
    summary = scalar.scalar_pb("x", value)
    summary.value[0].tag = tag  # as given: the encoder takes tags the front-ends cleaned
    if not first:
        summary.value[0].ClearField("metadata")
    event.summary.CopyFrom(summary)
    return event.SerializeToString()


def _same_bytes(ours: bytes, theirs: bytes) -> bool:
    """Equal bytes, except that a NaN may carry another payload (float32 NaN bits differ)."""
    if ours == theirs:
        return True
    a, b = event_pb2.Event.FromString(ours), event_pb2.Event.FromString(theirs)
    va, vb = a.summary.value[0].tensor.float_val[0], b.summary.value[0].tensor.float_val[0]
    return len(ours) == len(theirs) and math.isnan(va) and math.isnan(vb)


def _per_tag(data: list[bytes]) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for d in data:
        out.setdefault(event_pb2.Event.FromString(d).summary.value[0].tag, []).append(d)
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), FLOATS, INT64, WALLS), min_size=1, max_size=80),
    st.lists(TAGS, min_size=6, max_size=6, unique=True),
    st.booleans(),
)
def test_batch_encoder_equals_protobuf(items, tag_names, sorted_steps):
    if sorted_steps:  # the common case: steps grow, so the vectorised path is taken
        steps = sorted(min(abs(s), 2**63 - 1) for _, _, s, _ in items)
        items = [(t, v, s, w) for (t, v, _, w), s in zip(items, steps, strict=True)]
    tags = [tag_names[t] for t, _, _, _ in items]
    values = np.array([v for _, v, _, _ in items], dtype=np.float64)
    steps_a = np.array([s for _, _, s, _ in items], dtype=np.int64)
    walls = np.array([w for _, _, _, w in items], dtype=np.float64)
    enc = events.ScalarEncoder()
    blob = enc.frames(tags, values, steps_a, walls)
    got = [data for _, data in records.iter_records(blob)]  # checks both CRCs of each record
    seen: set[str] = set()
    expected = []
    for tag, (_, v, s, w) in zip(tags, items, strict=True):
        expected.append(_proto_event(tag, v, s, w, tag not in seen))
        seen.add(tag)
    # Each tag's records are exactly protobuf's, in order; tags may be grouped.
    got_by_tag, expected_by_tag = _per_tag(got), _per_tag(expected)
    assert got_by_tag.keys() == expected_by_tag.keys()
    for tag, exp in expected_by_tag.items():
        assert len(got_by_tag[tag]) == len(exp)
        assert all(_same_bytes(a, b) for a, b in zip(got_by_tag[tag], exp, strict=True)), tag
    # A second batch of the same tags carries no metadata.
    again = enc.frames(tags[:1], values[:1], steps_a[:1], walls[:1])
    (data,) = [d for _, d in records.iter_records(again)]
    assert _same_bytes(data, _proto_event(tags[0], items[0][1], items[0][2], items[0][3], False))


def test_batch_encoder_large_batch_many_tags_equals_protobuf():
    rng = np.random.default_rng(7)
    n = 20000
    names = [f"layer{i}/{'w' * (i % 9)}/norm" for i in range(40)]
    names += ["ü" * 2100, "ü" * 2100 + "x", "y" * 4096]  # records longer than 4096 bytes
    tags = [names[i] for i in rng.integers(0, len(names), n)]
    steps = np.sort(rng.integers(0, 2**20, n)).astype(np.int64)
    values = rng.standard_normal(n) * 10.0 ** rng.integers(-40, 40, n)
    values[rng.integers(0, n, 50)] = np.inf
    walls = 1.7e9 + np.cumsum(rng.random(n))
    blob = events.ScalarEncoder().frames(tags, values, steps, walls)
    got = _per_tag([d for _, d in records.iter_records(blob)])
    seen: set[str] = set()
    expected: list[bytes] = []
    for i, tag in enumerate(tags):
        expected.append(_proto_event(tag, values[i], int(steps[i]), walls[i], tag not in seen))
        seen.add(tag)
    assert got == _per_tag(expected)


def test_crc_shift_tables_match_bytewise_crc():
    from tblog.core.format import crc32c

    rng = np.random.default_rng(3)
    for length in (1, 9, 57, 300):
        base = bytes(rng.integers(0, 256, length, dtype=np.uint8))
        table = crc32c.shift_table(length)
        for _ in range(20):
            pos, byte = int(rng.integers(0, length)), int(rng.integers(0, 256))
            changed = bytearray(base)
            changed[pos] ^= byte
            want = crc32c.crc32c(bytes(changed))
            got = crc32c.crc32c(base) ^ int(table[length - 1 - pos][byte])
            assert got == want
    masked = crc32c.mask_array(np.array([crc32c.crc32c(b"123456789")], dtype=np.uint32))
    assert int(masked[0]) == crc32c.masked_crc32c(b"123456789")


def _event_file(run_dir) -> bytes:
    (path,) = [p for p in run_dir.iterdir() if "tfevents" in p.name]
    return path.read_bytes()


def test_written_file_holds_only_canonical_records(tmp_path):
    """Every record the writer wrote re-serialises to itself (protobuf's exact bytes)."""
    rng = np.random.default_rng(1)
    with tblog.SummaryWriter(tmp_path) as w:
        for i in range(30000):
            w.add_scalar(f"tag{i % 7}", float(rng.standard_normal()), i // 3)
            if i % 5000 == 0:
                w.add_text("note", f"at {i}", i)
    data = [d for _, d in records.iter_records(_event_file(tmp_path))]
    scalars = 0
    for d in data:
        event = event_pb2.Event.FromString(d)
        assert event.SerializeToString() == d
        scalars += event.HasField("summary") and event.summary.value[0].tag.startswith("tag")
    assert scalars == 30000


def _workload(w, n: int) -> None:
    rng = np.random.default_rng(5)
    values = rng.standard_normal(n) * 1e3
    values[::97] = np.nan
    values[::101] = -np.inf
    for i in range(n):
        w.add_scalar(("train/loss", "train/acc", "lr", "x" * 150)[i % 4], float(values[i]), i // 4)
    w.add_scalars("group", {"a": 1.5, "b": -2.0}, 7)
    w.add_scalar("late", 3.0, -5)


def _all_scalars(logdir) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """Every point of every scalar series under ``logdir`` (no reservoir sampling)."""
    out = {}
    for run_dir in sorted({p.parent for p in logdir.rglob("*tfevents*")}):
        run = str(run_dir.relative_to(logdir))
        for tag in tb.plugin_tags(str(run_dir), "scalars"):
            out[(run, tag)] = tb.scalar_series(str(run_dir), tag)
    return out


def test_scalars_match_torch_through_tensorboard(tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    with tblog.SummaryWriter(ours) as w:
        _workload(w, 6000)
    tw = torch_tb.SummaryWriter(str(theirs))
    _workload(tw, 6000)
    tw.close()
    a, b = _all_scalars(ours), _all_scalars(theirs)
    assert a.keys() == b.keys()
    assert len(a[(".", "train/loss")]) == 1500
    for key in b:
        sa, sb = a[key], b[key]
        assert [s for s, _ in sa] == [s for s, _ in sb], key
        assert np.array_equal(
            np.array([v for _, v in sa]), np.array([v for _, v in sb]), equal_nan=True
        ), key


def test_flush_makes_everything_queued_before_it_visible(tmp_path):
    w = tblog.SummaryWriter(tmp_path)
    for i in range(50000):
        w.add_scalar("x", float(i), i)
    w.flush()
    series = tb.scalar_series(str(tmp_path), "x")
    assert [s for s, _ in series] == list(range(50000))
    assert all(v == float(s) for s, v in series)
    w.close()


def test_queue_is_bounded_and_nothing_is_dropped(tmp_path):
    max_pending, n = 256, 5000
    w = EventWriter(str(tmp_path), max_queue=16, max_pending=max_pending)
    gate = threading.Event()
    w.call(gate.wait)  # the writer thread blocks here until we open the gate
    seen_max = 0
    done = threading.Event()

    def produce() -> None:
        for i in range(n):
            w.scalar("", "x", float(i), i, 1.7e9 + i)
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    deadline = time.monotonic() + 5
    while len(w._queue) < max_pending and time.monotonic() < deadline:
        seen_max = max(seen_max, len(w._queue))
        time.sleep(0.001)
    for _ in range(200):  # the producer is held back while the writer is blocked
        seen_max = max(seen_max, len(w._queue))
        time.sleep(0.001)
    assert not done.is_set()
    assert seen_max == max_pending
    gate.set()
    while not done.is_set():
        seen_max = max(seen_max, len(w._queue))
        time.sleep(0.0005)
    producer.join()
    w.close()
    assert seen_max <= max_pending
    assert [s for s, _ in tb.scalar_series(str(tmp_path), "x")] == list(range(n))


class _Boom:
    def tblog_resolve(self) -> float:
        raise RuntimeError("cannot resolve")


def test_failing_value_costs_only_itself(tmp_path):
    w = EventWriter(str(tmp_path))
    for i in range(3000):
        w.scalar("", "x", _Boom() if i == 1234 else float(i), i, 1.7e9 + i)
    with pytest.raises(RuntimeError, match="cannot resolve"):
        w.flush()
    w.close()
    steps = [s for s, _ in tb.scalar_series(str(tmp_path), "x")]
    assert steps == [i for i in range(3000) if i != 1234]


def test_unencodable_tag_raises_at_the_call_and_costs_only_itself(tmp_path):
    w = tblog.SummaryWriter(tmp_path)
    for i in range(2000):
        if i % 500 == 7:
            with pytest.raises(ValueError, match=r"tag .*UTF-8"):
                w.add_scalar("bad\ud800", float(i), i)
        else:
            w.add_scalar("x", float(i), i)
    w.flush()
    w.add_scalar("x", -1.0, 5000)
    w.close()
    steps = [s for s, _ in tb.scalar_series(str(tmp_path), "x")]
    assert steps == [i for i in range(2000) if i % 500 != 7] + [5000]


def test_unencodable_tag_queued_directly_costs_only_its_scalars(tmp_path):
    w = EventWriter(str(tmp_path))
    for i in range(2000):
        w.scalar("", "bad\ud800" if i % 500 == 7 else "x", float(i), i, 1.7e9 + i)
    with pytest.raises(UnicodeEncodeError):
        w.flush()
    w.close()
    steps = [s for s, _ in tb.scalar_series(str(tmp_path), "x")]
    assert steps == [i for i in range(2000) if i % 500 != 7]


def test_restart_inside_a_batch_purges_in_order(tmp_path):
    """A START between scalars of one batch stays between them (PY loader purges)."""
    w = EventWriter(str(tmp_path), max_queue=1 << 20)
    for i in range(100):
        w.scalar("", "x", float(i), i, 1.7e9 + i)
    w.restart(50)
    for i in range(50, 60):
        w.scalar("", "x", -float(i), i, 1.8e9 + i)
    w.close()
    series = tb.scalar_series(str(tmp_path), "x")
    assert [s for s, _ in series] == list(range(60))
    assert [v for _, v in series][50:] == [-float(i) for i in range(50, 60)]


def test_fast_path_needs_no_protobuf(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, tblog\n"
        f"w = tblog.SummaryWriter({str(tmp_path)!r})\n"
        "for i in range(10000): w.add_scalar('x', i * 0.5, i)\n"
        "w.close()\n"
        "print('google.protobuf' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert len(tb.scalar_series(str(tmp_path), "x")) == 10000


def test_values_beyond_float32_round_like_protobuf():
    enc = events.ScalarEncoder()
    for value in (1e300, -1e300, 3.4028235e38 * (1 + 1e-9), 1e-50, -0.0):
        ours = enc.encode("v", value, 1, 1.7e9)
        assert ours == _proto_event("v", value, 1, 1.7e9, first=value == 1e300)
    assert struct.unpack("<f", enc.encode("v", 1e300, 1, 1.7e9)[-4:])[0] == math.inf


@pytest.mark.parametrize("wall", [0.0, -0.0, 1.0, 1700000000.0, 1799999999.123456])
@pytest.mark.parametrize("step", [0, 1, 300, -1, 2**63 - 1])
def test_protobuf_free_builders_equal_protobuf(wall, step):
    version = event_pb2.Event(wall_time=wall, file_version="brain.Event:2")
    version.source_metadata.writer = "tblog"
    assert events.file_version_event(wall) == version.SerializeToString()
    start = event_pb2.Event(wall_time=wall, step=step)
    start.session_log.status = event_pb2.SessionLog.START
    assert events.session_start_event(step, wall) == start.SerializeToString()


def _edge_cases(rng: np.random.Generator, edges: np.ndarray) -> list[np.ndarray]:
    on_edges = edges.astype(np.float32)
    tiny = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40, 1e-300, -1e-300])
    return [
        rng.standard_normal(1000).astype(np.float32),
        rng.standard_normal(300_000).astype(np.float16),
        (rng.standard_normal(600_001) * 1e22).astype(np.float32),  # several sort chunks
        rng.standard_normal(70_000) * 1e-13,
        rng.integers(-(10**6), 10**6, 90_000),
        np.array([True, False, True]),
        on_edges,
        np.nextafter(on_edges, np.float32(np.inf)),
        np.nextafter(on_edges, np.float32(-np.inf)),
        edges.copy(),
        np.nextafter(edges, np.inf),
        np.nextafter(edges, -np.inf),
        tiny,  # zeros of both signs, subnormals
        tiny.astype(np.float32),
        np.array([3.0e38, -3.0e38, 1e200, -1e200, 7.0]),  # beyond the edges
        np.array([3.0e38, -3.0e38], dtype=np.float32),
        rng.standard_normal(5).astype(np.float32)[::2],  # a strided view
    ]


@pytest.fixture(params=["native", "numpy"])
def counting(request, monkeypatch):
    """The counting module, with its native counter (built at install) or without it."""
    from tblog.core.summaries import _counting

    if request.param == "numpy":
        monkeypatch.setattr(_counting, "_native", None)
    return _counting


def test_tensorflow_edges_fit_the_native_table():
    """TensorBoard's edges hold one key per 16-bit prefix, in float32 and float64, so the
    default histogram always takes the native one-pass counter."""
    from tblog.core.summaries import _counting

    for dtype in (np.float32, np.float64):
        assert _counting._native_tables(np.dtype(dtype), _counting_edges()) is not None
    dense = np.linspace(1.0, 1.001, 50)
    assert _counting._native_tables(np.dtype(np.float32), dense) is None


def _counting_edges() -> np.ndarray:
    from tblog.core.summaries import histogram

    return histogram.tensorflow_edges()


@pytest.mark.parametrize(
    "edges",
    [
        "tensorflow",
        np.array([-3.0, -1.0, 0.0, 0.5, 2.0]),
        np.array([0.1, 0.1, 0.3]),  # a zero-width bucket: not table-able
        np.array([-0.0, 1.0]),
        np.linspace(1.0, 1.001, 50),  # many edges per 16-bit prefix: the numpy way
        np.array([-1e30, 1e30]),  # beyond float32: keys round to infinity
    ],
    ids=["tensorflow", "few", "repeated", "negzero", "dense", "huge"],
)
def test_histogram_counts_equal_numpy(counting, edges):
    """Fixed-edge counting (native or sorted chunks) counts exactly as np.histogram in
    float64, and finds the exact min and max."""
    edges = _counting_edges() if isinstance(edges, str) else edges
    rng = np.random.default_rng(11)
    for x in _edge_cases(rng, edges):
        flat = x.reshape(-1)
        flat = flat.astype(np.uint8) if flat.dtype.kind == "b" else flat
        want = np.histogram(x.astype(np.float64), bins=edges)[0]
        got, vmin, vmax = counting.edge_counts(flat, edges)
        assert np.array_equal(got, want), (edges.size, x.dtype, x.size)
        assert (vmin, vmax) == (float(x.min()), float(x.max()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", ["nan", "-nan", "inf", "-inf"])
def test_histogram_counting_reports_non_finite(counting, dtype, bad):
    """NaN of either sign and infinities come back as non-finite min/max, and
    histogram_pb raises."""
    from tblog.core.summaries import histogram

    x = np.random.default_rng(3).standard_normal(1001).astype(dtype)
    x[500] = np.copysign(float(bad.lstrip("-")), -1.0 if bad.startswith("-") else 1.0)
    assert np.signbit(x[500]) == bad.startswith("-")
    _, vmin, vmax = counting.edge_counts(x, _counting_edges())
    assert not (math.isfinite(vmin) and math.isfinite(vmax))
    with pytest.raises(ValueError, match="finite"):
        histogram.histogram_pb("h", x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_histogram_threaded_counts_equal_numpy(monkeypatch, counting, dtype):
    """Inputs split across threads count, and find min/max, exactly as one pass does."""
    from tblog.core.summaries import histogram

    monkeypatch.setattr(counting, "_PARALLEL_MIN", 1000)
    monkeypatch.setattr(counting, "_SORT_CHUNK", 777)
    rng = np.random.default_rng(13)
    x = (rng.standard_normal(50_001) * 50).astype(dtype)
    edges = histogram.tensorflow_edges()
    got, vmin, vmax = counting.edge_counts(x, edges)
    assert np.array_equal(got, np.histogram(x.astype(np.float64), bins=edges)[0])
    assert (vmin, vmax) == (float(x.min()), float(x.max()))
    if dtype is not np.int32:
        x[-3] = np.nan  # in the last thread's share
        with pytest.raises(ValueError, match="finite"):
            histogram.histogram_pb("h", x)


def test_histogram_matches_torch_through_tensorboard(tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    rng = np.random.default_rng(12)
    from tblog.core.summaries import histogram

    edges = histogram.tensorflow_edges()
    x = np.concatenate(
        [rng.standard_normal(600_000), edges[::7], np.nextafter(edges[::5], 0)]
    ).astype(np.float32)
    with tblog.SummaryWriter(tmp_path / "ours") as w:
        w.add_histogram("h", x, 1)
        w.add_histogram("h", x[:1000] * 3, 2)
    tw = torch_tb.SummaryWriter(str(tmp_path / "theirs"))
    tw.add_histogram("h", x, 1)
    tw.add_histogram("h", x[:1000] * 3, 2)
    tw.close()
    ours = tb.accumulator(str(tmp_path / "ours")).Tensors("h")
    theirs = tb.accumulator(str(tmp_path / "theirs")).Tensors("h")
    assert [e.step for e in ours] == [e.step for e in theirs] == [1, 2]
    for a, b in zip(ours, theirs, strict=True):  # the loader turns torch's into float32
        want = tb.array(b)
        assert np.array_equal(tb.array(a).astype(want.dtype), want)


def test_threaded_histogram_in_a_forked_child(tmp_path):
    """The counting pool is per process: a child forked after the parent used it still counts
    (a parent's pool has no worker threads in the child and would hang)."""
    import multiprocessing

    from tblog.core.summaries import _counting, histogram

    x = np.random.default_rng(5).standard_normal(_counting._PARALLEL_MIN + 3).astype(np.float32)
    want = histogram.histogram_pb("h", x).SerializeToString()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_child_histogram, (x,)).get(timeout=15)
    assert got == want


def _child_histogram(x):
    from tblog.core.summaries import histogram

    return histogram.histogram_pb("h", x).SerializeToString()


def test_short_scalar_runs_are_encoded_without_numpy(tmp_path, monkeypatch):
    """Scalars between summaries (a few per step) are framed one by one: the numpy batch
    encoder is for long runs only (its calls give the GIL away to a busy caller thread).
    Both paths write what TensorBoard reads as the same series."""
    runs: list[int] = []
    original = events.ScalarEncoder.frame_parts

    def spy(self, tags, *columns):
        runs.append(len(tags))
        return original(self, tags, *columns)

    monkeypatch.setattr(events.ScalarEncoder, "frame_parts", spy)
    with tblog.SummaryWriter(tmp_path, max_queue=100_000) as w:
        for i in range(200):
            w.add_scalar("x", i * 0.5, i)
            w.add_scalar("y", -i, i)
            w.add_text("t", f"step {i}", i)
        w.flush()
        assert runs == []
        for i in range(200, 1200):
            w.add_scalar("x", i * 0.5, i)
            w.add_scalar("y", -i, i)
        w.flush()
        assert runs and min(runs) >= 64
    assert tb.scalar_series(str(tmp_path), "x") == [(i, i * 0.5) for i in range(1200)]
    assert tb.scalar_series(str(tmp_path), "y") == [(i, float(-i)) for i in range(1200)]
