"""The Keras ``CheckpointCallback``: this file is also the training script. It trains 12
epochs x 10 batches with saves every 50 iterations, SIGKILLs itself at iteration 80, and is
run again; TensorBoard's loaders must show one value per step, the resumed process must
reproduce the killed one's losses, and the checkpoint records must match the files.
Runs on the tensorflow backend (add torch with ``TBLOG_KERAS_BACKENDS=tensorflow,torch``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # Keras fits in subprocesses, SIGKILLed and resumed

STEPS_PER_EPOCH, EPOCHS, SAVE_FREQ, KILL_AT = 10, 12, 50, 80
STEPS = STEPS_PER_EPOCH * EPOCHS
MORE_EPOCHS = 2  # a second fit after the resumed one: its curves must not be marked again


def train(logdir: str, kill_at: int | None) -> None:
    """The training script (runs in a subprocess; KERAS_BACKEND chosen by the caller)."""
    import keras

    import tblog
    from tblog.integrations.keras.checkpoint import CheckpointCallback

    keras.utils.set_random_seed(0)
    rng = np.random.RandomState(0)
    x = rng.randn(STEPS_PER_EPOCH * 16, 6).astype("float32")
    y = np.sin(x.sum(axis=1, keepdims=True)).astype("float32")
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    train_writer = tblog.SummaryWriter(os.path.join(logdir, "train"))
    val_writer = tblog.SummaryWriter(os.path.join(logdir, "validation"))

    class Log(keras.callbacks.Callback):
        """Batch values at the index of the batch (iterations - 1), validation at the
        index of the epoch's last batch: a checkpoint of N iterations resumes at step N."""

        def iterations(self) -> int:
            return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

        def on_train_batch_begin(self, batch, logs=None):
            if self.iterations() == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        def on_train_batch_end(self, batch, logs=None):
            step = self.iterations() - 1
            train_writer.add_scalar("batch_loss", logs["loss"], step)
            print(f"step {step} loss {float(logs['loss']):.9g}", flush=True)

        def on_epoch_end(self, epoch, logs=None):
            val_writer.add_scalar("val_loss", logs["val_loss"], self.iterations() - 1)

    ckpt = CheckpointCallback(
        os.path.join(logdir, "checkpoints"), [train_writer, val_writer], save_freq=SAVE_FREQ
    )
    # tblog's own Keras callback in the same fit: its curves must continue too
    tbcb = tblog.TBCallback(os.path.join(logdir, "tb"), update_freq=1, write_graph=False)
    model.fit(
        x, y, batch_size=16, epochs=EPOCHS, shuffle=False, verbose=0,
        validation_data=(x[:32], y[:32]), callbacks=[Log(), tbcb, ckpt],
    )  # fmt: skip
    print(f"restored_step {ckpt.restored_step} initial_epoch {ckpt.initial_epoch}")
    if kill_at is None:  # training goes on in a second fit, with TBCallback alone
        model.fit(
            x, y, batch_size=16, epochs=EPOCHS + MORE_EPOCHS, initial_epoch=EPOCHS, shuffle=False,
            verbose=0, validation_data=(x[:32], y[:32]), callbacks=[tbcb],
        )  # fmt: skip
    train_writer.close()
    val_writer.close()


if __name__ == "__main__":
    train(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
    sys.exit(0)

import tb  # noqa: E402
from checkpoint_records import recorded_paths, texts  # noqa: E402

# The torch backend passes too but costs ~45 s more here: TBLOG_KERAS_BACKENDS=tensorflow,torch
BACKENDS = [
    b
    for b in os.environ.get("TBLOG_KERAS_BACKENDS", "tensorflow").split(",")
    if importlib.util.find_spec(b) is not None
]


def _run(logdir, backend, *extra):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), str(logdir), *extra],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    losses = {int(m[0]): float(m[1]) for m in re.findall(r"step (\d+) loss (\S+)", proc.stdout)}
    return proc, losses


@pytest.fixture(scope="module", params=BACKENDS)
def keras_run(request, tmp_path_factory):
    logdir = tmp_path_factory.mktemp(f"keras_{request.param}")
    crashed, lost = _run(logdir, request.param, str(KILL_AT))
    assert crashed.returncode == -9, crashed.stderr[-3000:]
    assert sorted(lost) == list(range(KILL_AT))
    resumed, kept = _run(logdir, request.param)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "restored_step 50 initial_epoch 5" in resumed.stdout
    return logdir, lost, kept


def test_keras_resume_reproduces_and_continues(keras_run):
    logdir, lost, kept = keras_run
    assert sorted(kept) == list(range(50, STEPS))
    np.testing.assert_allclose(
        [kept[s] for s in range(50, KILL_AT)], [lost[s] for s in range(50, KILL_AT)], rtol=1e-5
    )
    got = tb.mux_scalars(logdir)
    assert [s for s, _ in got[("train", "batch_loss")]] == list(range(STEPS))
    truth = [lost[s] if s < 50 else kept[s] for s in range(STEPS)]
    np.testing.assert_allclose([v for _, v in got[("train", "batch_loss")]], truth, rtol=1e-6)
    val_steps = list(range(STEPS_PER_EPOCH - 1, STEPS, STEPS_PER_EPOCH))
    assert [s for s, _ in got[("validation", "val_loss")]] == val_steps


def test_tbcallback_curves_continue_after_resume(keras_run):
    """TBCallback logs epoch_* at the epoch and batch_*/evaluation_* at the iteration in the
    same runs; after the restore at iteration 50 (epoch 5) both axes continue, once each,
    with the crashed process's history up to the checkpoint kept — in both loaders. A later
    fit without a restore continues them again, without dropping anything."""
    from tbserver import TensorBoardServer

    logdir, lost, kept = keras_run
    truth = {s + 1: (lost[s] if s < 50 else kept[s]) for s in range(STEPS)}
    epochs, total = EPOCHS + MORE_EPOCHS, STEPS + MORE_EPOCHS * STEPS_PER_EPOCH
    expected_steps = {
        ("train", "batch_loss"): list(range(1, total + 1)),
        ("train", "epoch_loss"): list(range(epochs)),
        ("validation", "epoch_loss"): list(range(epochs)),
        ("validation", "evaluation_loss_vs_iterations"): list(
            range(STEPS_PER_EPOCH, total + 1, STEPS_PER_EPOCH)
        ),
    }
    py = tb.mux_scalars(logdir / "tb")
    for key, steps in expected_steps.items():
        assert [s for s, _ in py[key]] == steps, key
    np.testing.assert_allclose(
        [v for _, v in py[("train", "batch_loss")]][:STEPS],
        [truth[s] for s in range(1, STEPS + 1)],
        rtol=1e-6,
    )
    with TensorBoardServer(logdir / "tb", load_fast=True) as server:
        for (run, tag), steps in expected_steps.items():
            server.wait_for(
                lambda run=run, tag=tag, steps=steps: (
                    [s for s, _ in server.scalars(run, tag)] == steps
                )
            )
            rs = server.scalars(run, tag)
            py_values = [v for _, v in py[(run, tag)]]
            np.testing.assert_allclose([v for _, v in rs], py_values, rtol=1e-6)


def _step_of(name):
    return int(re.match(r"ckpt-(\d+)\.weights\.h5\Z", name).group(1))


def test_keras_checkpoint_records_match_files(keras_run):
    logdir, _, _ = keras_run
    ckdir = logdir / "checkpoints"
    names = sorted(os.listdir(ckdir), key=_step_of)
    assert names == ["ckpt-0.weights.h5", "ckpt-50.weights.h5", "ckpt-100.weights.h5"]
    train = logdir / "train"
    assert tb.scalar_series(train, "checkpoint/step") == [(0, 0.0), (50, 50.0), (100, 100.0)]
    paths = recorded_paths(train)
    assert {s: os.path.basename(p[-1]) for s, p in paths.items()} == {_step_of(n): n for n in names}
    assert [s for s, _ in texts(train, "checkpoint/restored")] == [50]
    saved = dict(texts(train, "checkpoint/saved"))
    assert "loss=" in saved[100]  # the batch logs of the save are recorded


def test_bad_save_freq():
    pytest.importorskip("keras")
    from tblog.integrations.keras.checkpoint import CheckpointCallback

    for bad in (0, "batch", 2.5, True):
        with pytest.raises(ValueError, match="save_freq"):
            CheckpointCallback("unused", save_freq=bad)


def test_save_freq_with_several_batches_per_call(tmp_path):
    """steps_per_execution > 1: Keras reports every k-th batch; a save is made at the first
    report at or past each multiple of save_freq."""
    pytest.importorskip("keras")
    from tblog.integrations.keras.checkpoint import CheckpointCallback

    class Optimizer:
        iterations, built = 0, True

    class Model:
        optimizer, trainable_variables = Optimizer(), []

        def save_weights(self, path):
            with open(path, "wb") as f:
                f.write(str(self.optimizer.iterations).encode())

    model = Model()
    cb = CheckpointCallback(tmp_path, save_freq=50)
    cb.set_model(model)
    cb.set_params({"epochs": 1})
    cb.on_train_begin()
    for it in range(3, 121, 3):
        model.optimizer.iterations = it
        cb.on_train_batch_end(it - 1)
    assert cb.manager.steps == [0, 51, 102]
    assert (tmp_path / "ckpt-51.weights.h5").read_text() == "51"
