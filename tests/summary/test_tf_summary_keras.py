"""Summaries written from inside a Keras model (a layer's ``call()``) during ``fit`` land in
the callback's train and validation runs: with ``tf.summary`` on the TensorFlow backend, as
``keras.callbacks.TensorBoard`` makes them (the anchor, compared through TensorBoard's
loaders), and with ``tblog.summary`` on every backend.

Each workload runs in a subprocess (``python tests/summary/test_tf_summary_keras.py BACKEND
CALLBACK API OUT``) with ``KERAS_BACKEND`` set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # Keras fits in subprocesses

BATCHES, EPOCHS, VAL_BATCHES = 4, 2, 2


def _workload(callback_kind: str, api_name: str, out: str) -> None:
    import keras
    import numpy as np

    if api_name in ("tf", "tf_eager"):
        import tensorflow as tf

        summary = tf.summary
        mean = tf.reduce_mean
    else:
        import tblog.summary as summary

        mean = keras.ops.mean

    class Probe(keras.layers.Layer):
        def call(self, x):
            summary.scalar("probe/mean", mean(x))
            with summary.record_if(True):
                summary.histogram("probe/values", x)
            return x

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), Probe()])
    model.compile("sgd", "mse", run_eagerly=api_name != "tf")
    rng = np.random.default_rng(0)
    x, y = rng.random((8 * BATCHES, 3), dtype=np.float32), rng.random((8 * BATCHES, 2))
    vx, vy = x[: 8 * VAL_BATCHES], y[: 8 * VAL_BATCHES]
    import tblog

    if callback_kind == "keras":
        callbacks = [keras.callbacks.TensorBoard(out, update_freq=1, write_graph=False)]
    elif callback_kind == "both":  # ours first: Keras' pushes and pops must still pair
        callbacks = [
            tblog.TBCallback(os.path.join(out, "ours"), update_freq=1, write_graph=False),
            keras.callbacks.TensorBoard(os.path.join(out, "keras"), update_freq=1),
        ]
    else:
        callbacks = [tblog.TBCallback(out, update_freq=1, write_graph=False)]
    # outside fit there is no default writer: nothing is written
    assert not summary.scalar("outside", 1.0, step=0)
    model.fit(
        x, y, batch_size=8, epochs=EPOCHS, validation_data=(vx, vy), callbacks=callbacks, verbose=0
    )
    if callback_kind != "both":  # (then Keras' last pop restores our writer as the default)
        assert not summary.scalar("outside", 1.0, step=0)


if __name__ == "__main__":
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    _workload(sys.argv[2], sys.argv[3], sys.argv[4])
    sys.exit(0)


import tb  # noqa: E402
from paths import SUPPORT, pythonpath  # noqa: E402


def _run(backend: str, callback: str, api: str, out: Path) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = pythonpath(SUPPORT)
    proc = subprocess.run(
        [sys.executable, __file__, backend, callback, api, str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    mux = tb.multiplexer(str(out))
    shown = {}
    for plugin in ("scalars", "histograms"):
        for run, tags in mux.PluginRunToTagToContent(plugin).items():
            for tag in tags:
                if "probe/" in tag:  # under the layers' name scopes on TensorFlow
                    shown[(run, tag)] = [(e.step, tb.array(e)) for e in mux.Tensors(run, tag)]
    return shown


def _event_files(run_dir: Path) -> list[str]:
    return [n for n in os.listdir(run_dir) if "tfevents" in n]


def _steps(shown: dict, scoped: bool = True) -> dict:
    """``{(run, tag): steps}``; ``scoped=False`` drops the name-scope prefix of the tags."""
    return {
        (run, tag if scoped else tag[tag.rindex("probe/") :]): [s for s, _ in series]
        for (run, tag), series in shown.items()
    }


def test_tf_summary_in_a_layer_lands_as_with_keras_callback(tmp_path):
    pytest.importorskip("tensorflow")
    anchor = _run("tensorflow", "keras", "tf", tmp_path / "keras")
    ours = _run("tensorflow", "tblog", "tf", tmp_path / "tblog")
    assert {run for run, _ in anchor} == {"train", "validation"}
    assert _steps(ours) == _steps(anchor)
    for key, series in anchor.items():
        for (_, a), (_, b) in zip(series, ours[key], strict=True):
            assert a.shape == b.shape and (a == b).all(), key
    for run in ("train", "validation"):  # one file per run: the tf.summary events were copied
        assert len(_event_files(tmp_path / "tblog" / run)) == 1


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_tblog_summary_in_a_layer_lands_in_the_runs(tmp_path, backend):
    """tblog.summary on any backend takes the steps tf.summary takes under Keras' callback
    (an eager model, so that the step is read at every call)."""
    pytest.importorskip(backend)
    pytest.importorskip("tensorflow")
    anchor = _run("tensorflow", "keras", "tf_eager", tmp_path / "keras")
    ours = _run(backend, "tblog", "tblog", tmp_path / "tblog")
    scoped = backend == "tensorflow"  # tf.name_scope prefixes only where TensorFlow runs
    assert _steps(anchor) and _steps(ours, scoped) == _steps(anchor, scoped)
    train = [s for (run, tag), s in _steps(ours, False).items() if tag == "probe/mean"]
    assert train[0] == list(range(1, BATCHES * EPOCHS + 1))


def test_beside_keras_callback_tf_summary_lands_in_its_runs(tmp_path):
    pytest.importorskip("tensorflow")
    shown = _run("tensorflow", "both", "tf", tmp_path)
    runs = {run for run, _ in shown}
    assert runs == {"keras/train", "keras/validation"}  # Keras' writer is the default
    assert len(_event_files(tmp_path / "ours" / "train")) == 1


def test_default_tf_writer_reads_tensorflows_state(tmp_path):
    """The one private TensorFlow name used (checked against TensorFlow 2.21)."""
    tf = pytest.importorskip("tensorflow")
    from tblog.integrations.keras._tf_writers import default_tf_writer

    writer = tf.summary.create_file_writer(str(tmp_path))
    assert default_tf_writer() is None
    with writer.as_default():
        assert default_tf_writer() is writer
    assert default_tf_writer() is None
