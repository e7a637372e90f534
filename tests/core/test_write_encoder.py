"""The pure batch encoder (``tblog.core.write.encoder``), without a thread or a writer:
queued items in, framed bytes per run out, decoded with TensorBoard's protobuf classes."""

from __future__ import annotations

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2

from tblog.core.format import events, records
from tblog.core.write import encoder
from tblog.core.write.encoder import SIMPLE_VALUE, TENSOR, EventItem, RestartItem, SummaryItem


class _Run:
    def __init__(self, metadata_every: bool = False) -> None:
        self.pending: list = []
        self._encoders: dict = {}
        self._every = metadata_every

    def encoder(self, encoding):
        if encoding not in self._encoders:
            self._encoders[encoding] = events.ScalarEncoder(encoding, metadata_every=self._every)
        return self._encoders[encoding]


class _Runs:
    def __init__(self, metadata_every: bool = False) -> None:
        self.runs: dict[str, _Run] = {}
        self.restarts: list[int] = []
        self._every = metadata_every

    def get(self, run):
        return self.runs.setdefault(run, _Run(self._every))

    def restart(self, step, wall_time):
        self.restarts.append(step)
        for r in self.runs.values():
            r.pending.append(records.frame(events.session_start_event(step, wall_time)))


def _events(run: _Run) -> list[event_pb2.Event]:
    data = b"".join(bytes(p) for p in run.pending)
    return [event_pb2.Event.FromString(d) for _, d in records.iter_records(data)]


@pytest.mark.parametrize("n", [10, 5000])  # one by one, and the numpy batch encoder
def test_scalars_per_run_and_encoding(n):
    items = []
    for i in range(n):
        run = "" if i % 3 else "sub"
        items.append((run, f"t{i % 4}", float(i), i, 1.7e9 + i, SIMPLE_VALUE if i % 2 else TENSOR))
    runs = _Runs()
    assert encoder.encode(items, runs) == []
    assert set(runs.runs) == {"", "sub"}
    got = {}
    for name, r in runs.runs.items():
        for e in _events(r):
            (v,) = e.summary.value
            kind = v.WhichOneof("value")
            value = v.simple_value if kind == "simple_value" else v.tensor.float_val[0]
            got[(name, v.tag, e.step)] = (kind, value, e.wall_time)
    want = {
        ("" if i % 3 else "sub", f"t{i % 4}", i): (
            "simple_value" if i % 2 else "tensor",
            float(i),
            1.7e9 + i,
        )
        for i in range(n)
    }
    assert got == want


def test_simple_value_bytes_equal_protobuf():
    runs = _Runs()
    encoder.encode([("", "loss", 0.25, 7, 1.5e9, SIMPLE_VALUE)], runs)
    want = event_pb2.Event(wall_time=1.5e9, step=7)
    want.summary.value.add(tag="loss", simple_value=0.25)
    (data,) = [d for _, d in records.iter_records(bytes(runs.get("").pending[0]))]
    assert data == want.SerializeToString()


@pytest.mark.parametrize("n", [5, 3000])
def test_metadata_on_every_event_when_asked(n):
    items = [("", f"t{i % 3}", float(i), i, 1.7e9 + i, TENSOR) for i in range(n)]
    for every in (False, True):
        runs = _Runs(metadata_every=every)
        encoder.encode(items, runs)
        evs = _events(runs.get(""))
        with_meta = [e.summary.value[0].HasField("metadata") for e in evs]
        assert len(evs) == n
        assert sum(with_meta) == (n if every else 3)
        for e in evs:
            v = e.summary.value[0]
            if v.HasField("metadata"):
                assert v.metadata.plugin_data.plugin_name == "scalars"
                assert v.metadata.data_class == 1


class _Boom:
    def tblog_resolve(self):
        raise RuntimeError("no value")


def test_failing_items_are_dropped_alone_and_returned():
    from tblog.core.proto import summary_pb2

    summary = summary_pb2.Summary()
    summary.value.add(tag="s", simple_value=1.0)
    items = [("", "x", float(i), i, 1.0 + i, SIMPLE_VALUE) for i in range(200)]
    items[50] = ("", "x", _Boom(), 50, 51.0, SIMPLE_VALUE)
    items.insert(100, SummaryItem("", summary, 3, 2.0))
    items.insert(101, EventItem("other", events.session_start_event(9, 3.0)))
    items.insert(102, RestartItem(150, 4.0))
    runs = _Runs()
    errors = encoder.encode(items, runs)
    assert [str(e) for e in errors] == ["no value"]
    assert runs.restarts == [150]
    evs = _events(runs.get(""))
    scalar_steps = [e.step for e in evs if e.summary.value and e.summary.value[0].tag == "x"]
    assert scalar_steps == [i for i in range(200) if i != 50]
    kinds = [e.WhichOneof("what") for e in evs]
    # the summary and the START keep their places between the scalars
    assert kinds.index("session_log") > [e.step for e in evs].index(99)
    assert [e.step for e in _events(runs.get("other"))] == [9, 150]  # the START: every run


def test_barriers_are_not_accepted():
    runs = _Runs()
    (error,) = encoder.encode([encoder.FlushItem(), ("", "x", 1.0, 0, 1.0, TENSOR)], runs)
    assert isinstance(error, TypeError) and "FlushItem" in str(error)
    assert len(_events(runs.get(""))) == 1


def test_steps_not_int64_fall_back_and_are_reported():
    items = [("", "x", float(i), i, 1.0, SIMPLE_VALUE) for i in range(100)]
    items[10] = ("", "x", 1.0, 2**64 + 5, 1.0, SIMPLE_VALUE)
    runs = _Runs()
    errors = encoder.encode(items, runs)
    assert len(errors) == 1
    assert [e.step for e in _events(runs.get(""))] == [i for i in range(100) if i != 10]


def test_batch_values_beyond_float32_round_like_protobuf():
    values = np.array([1e39, -1e39, 3.4e38, 1e-46])
    items = [("", "x", float(v), i, 1.0, SIMPLE_VALUE) for i, v in enumerate(values)] * 40
    runs = _Runs()
    encoder.encode(items, runs)
    got = [e.summary.value[0].simple_value for e in _events(runs.get(""))][:4]
    want = []
    for v in values:
        e = event_pb2.Event()
        e.summary.value.add(simple_value=float(v))
        want.append(event_pb2.Event.FromString(e.SerializeToString()).summary.value[0].simple_value)
    assert got == want
