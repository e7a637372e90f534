"""Fuzzing the reader: on any bytes it yields what TensorBoard's loader yields (the clean
prefix of a damaged file, with a ``tblog.DataLossWarning``) and raises nothing."""

from __future__ import annotations

import os
import tempfile
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.backend.event_processing import event_file_loader

import tblog

_BASE = tempfile.mkdtemp(prefix="tblog-fuzz-")


def _valid_file() -> bytes:
    path = os.path.join(_BASE, "valid")
    with tblog.SummaryWriter(path) as w:
        for i in range(30):
            w.add_scalar("loss", 1.0 / (i + 1), i)
            w.add_text("note", f"step {i}", i)
    (name,) = [n for n in os.listdir(path) if "tfevents" in n]
    with open(os.path.join(path, name), "rb") as f:
        return f.read()


VALID = _valid_file()


def _read_all(data: bytes) -> list:
    d = tempfile.mkdtemp(dir=_BASE)
    with open(os.path.join(d, "events.out.tfevents.1.fuzz"), "wb") as f:
        f.write(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tblog.DataLossWarning)
        return list(tblog.read(d))


def _tensorboard_events(data: bytes) -> list:
    d = tempfile.mkdtemp(dir=_BASE)
    path = os.path.join(d, "events.out.tfevents.1.fuzz")
    with open(path, "wb") as f:
        f.write(data)
    return list(event_file_loader.LegacyEventFileLoader(path).Load())


fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(data):
    _read_all(data)  # any exception propagates and fails the test


@fuzz
@given(st.integers(min_value=0, max_value=len(VALID)))
def test_truncation_yields_exactly_the_complete_prefix(cut):
    ours = [e.SerializeToString() for _, e in _read_all(VALID[:cut])]
    theirs = [e.SerializeToString() for e in _tensorboard_events(VALID[:cut])]
    assert ours == theirs
    # file_version + START + 30 scalars + 30 texts when nothing is cut
    assert cut < len(VALID) or len(ours) == 2 + 2 * 30


@fuzz
@given(st.integers(min_value=0, max_value=len(VALID) - 1), st.integers(min_value=1, max_value=255))
def test_corruption_yields_what_tensorboard_yields(pos, flip):
    data = bytearray(VALID)
    data[pos] ^= flip
    d = tempfile.mkdtemp(dir=_BASE)
    with open(os.path.join(d, "events.out.tfevents.1.fuzz"), "wb") as f:
        f.write(bytes(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", tblog.DataLossWarning)
        got = [e.SerializeToString() for _, e in tblog.read(d)]
    assert got == [e.SerializeToString() for e in _tensorboard_events(bytes(data))]
    # the damage is named, with its file and byte offset, when it cost records
    intact = [e.SerializeToString() for e in _tensorboard_events(VALID)]
    if len(got) < len(intact):
        assert any("fuzz" in str(w.message) and "byte" in str(w.message) for w in caught)
