import math

import pytest

from tblog.core.format import events
from tblog.core.proto import event_pb2
from tblog.core.summaries import scalar


def _proto_scalar_event(tag, value, step, wall, with_metadata):
    event = event_pb2.Event(wall_time=wall, step=step)
    summary = scalar.scalar_pb(tag, value)
    if not with_metadata:
        summary.value[0].ClearField("metadata")
    event.summary.CopyFrom(summary)
    return event.SerializeToString()


@pytest.mark.parametrize("tag", ["loss", "a/b/c", "ü" * 70, "x" * 300])
@pytest.mark.parametrize("step", [0, 1, 127, 128, 2**40, -1, -(2**40)])
@pytest.mark.parametrize("value", [0.0, 0.5, -3.25e-7, float("inf"), float("nan")])
def test_fast_scalar_bytes_equal_protobuf(tag, step, value):
    enc = events.ScalarEncoder()
    wall = 1700000001.25
    first = enc.encode(tag, value, step, wall)
    second = enc.encode(tag, value, step, wall)
    expected_first = _proto_scalar_event(tag, value, step, wall, True)
    expected_second = _proto_scalar_event(tag, value, step, wall, False)
    if math.isnan(value):  # NaN payload bits may differ; compare parsed structure
        a, b = event_pb2.Event(), event_pb2.Event()
        a.ParseFromString(first)
        b.ParseFromString(expected_first)
        assert math.isnan(a.summary.value[0].tensor.float_val[0])
        assert len(first) == len(expected_first)
    else:
        assert first == expected_first
        assert second == expected_second


def test_observed_simple_event_layout():
    # docs/event-format.md §1 [OBS]: a legacy simple_value event, built with our protos.
    event = event_pb2.Event(wall_time=1700000001.0, step=3)
    event.summary.value.add(tag="loss", simple_value=0.5)
    assert event.SerializeToString().hex() == "0900004040fc54d94110032a0d0a0b0a046c6f7373150000003f"
