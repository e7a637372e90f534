"""``tblog.summary.audio`` quantizes samples as ``tf.audio.encode_wav`` does: a sample that
falls halfway between two int16 levels rounds away from zero (C's ``roundf``), not to even
(found by the CLU differential test: one sample in 400 was one level off)."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from tblog.core.summaries.tf_style import to_pcm16_tf


def test_halves_round_away_from_zero_as_tensorflow():
    tf = pytest.importorskip("tensorflow")
    levels = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 27078.5, -27078.5, 100.25, -7.75])
    clip = (levels / 32768.0).astype(np.float32)[:, None]
    with wave.open(io.BytesIO(tf.audio.encode_wav(clip, 8000).numpy())) as w:
        want = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert to_pcm16_tf(clip).reshape(-1).tolist() == want.tolist()
    assert want.tolist()[:3] == [1, 2, 3]  # not 0, 2, 2 (half to even)
