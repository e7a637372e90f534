import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tblog.core.format import crc32c, records


def test_crc32c_check_values():
    assert crc32c.crc32c(b"123456789") == 0xE3069283
    assert crc32c.masked_crc32c(b"123456789") == 0xC78AB0E5
    assert crc32c.masked_crc32c(bytes.fromhex("1a11") + b"CRC test, one two") == 0x5794D08A


@given(st.binary(max_size=300))
def test_python_fallback_matches_c(data):
    assert crc32c.crc32c_python(data) == crc32c.crc32c(data)


def test_full_record_matches_observed_bytes():
    # Event{wall_time=1.7e9, file_version="brain.Event:2"} (docs/event-format.md §1, [OBS]).
    payload = bytes.fromhex("0900000040fc54d9411a0d627261696e2e4576656e743a32")
    expected = bytes.fromhex("1800000000000000a37f4b22" + payload.hex() + "eced8f9d")
    assert records.frame(payload) == expected


def test_truncated_tail_is_skipped_and_corruption_raises():
    blob = records.frame_many([b"a" * 5, b"b" * 7])
    assert [d for _, d in records.iter_records(blob)] == [b"a" * 5, b"b" * 7]
    assert [d for _, d in records.iter_records(blob[:-3])] == [b"a" * 5]
    bad = bytearray(blob)
    bad[13] ^= 0xFF
    with pytest.raises(records.DataLossError):
        list(records.iter_records(bytes(bad)))
    bad_len = bytearray(blob)
    bad_len[0:8] = struct.pack("<Q", 99)
    with pytest.raises(records.DataLossError):
        list(records.iter_records(bytes(bad_len)))
