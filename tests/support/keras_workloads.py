"""Keras workloads for ``test_keras.py``, each run in a subprocess with ``KERAS_BACKEND``
set (torch and jax with TensorFlow made unimportable): ``python
tests/support/keras_workloads.py <workload> <out dir>``. Each writes TBCallback logs and Keras' own record of the fit
(``History``, ``evaluate``, the weights) under ``<out dir>``. Imports no TensorBoard.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from paths import EXAMPLES, SRC

EPOCHS = 2
UPDATE_FREQ = 4  # 6 batches per epoch: not a multiple, the case where Keras 3.15 drops epochs
BATCH = 16
TRAIN = 96  # 6 batches per epoch with validation_split=0.2 of 120 samples
SAMPLES = 120


class _BlockTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """A ``sys.meta_path`` finder that makes ``import tensorflow`` fail as if it were not
    installed (``ModuleNotFoundError``); ``find_spec`` probes still work."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name == "tensorflow" or name.startswith("tensorflow."):
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec: Any) -> None:
        raise ModuleNotFoundError(f"No module named {spec.name!r} (blocked in this test)")

    def exec_module(self, module: Any) -> None:
        raise ModuleNotFoundError(f"No module named {module.__name__!r} (blocked in this test)")


def _data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data[:SAMPLES] / 16.0).astype("float32")
    y = digits.target[:SAMPLES].astype("int32")
    return x, y


def _model(keras: Any) -> Any:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,), name="pixels")
    hidden = keras.layers.Dense(32, activation="relu", name="fc1")(inputs)
    dropped = keras.layers.Dropout(0.1, name="drop")(hidden)
    skip = keras.layers.Dense(32, name="skip")(inputs)
    merged = keras.layers.Add(name="merge")([dropped, skip])
    outputs = keras.layers.Dense(10, name="fc2")(merged)
    model = keras.Model(inputs, outputs, name="digits")
    model.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _fit(out: Path, extra_callbacks: list[Any] | None = None) -> None:
    """Fit + evaluate with TBCallback into ``out/logs``; Keras' own record into ``out``."""
    import keras

    import tblog

    x, y = _data()
    model = _model(keras)
    callback = tblog.TBCallback(
        out / "logs",
        histogram_freq=1,
        write_images=True,
        update_freq=UPDATE_FREQ,
        write_steps_per_second=True,
    )
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=EPOCHS,
        validation_split=0.2,
        verbose=0,
        shuffle=False,
        callbacks=[callback, *(extra_callbacks or [])],
    )
    evaluation = model.evaluate(
        x, y, batch_size=BATCH, verbose=0, return_dict=True, callbacks=[callback]
    )
    weights = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
    np.savez(out / "weights.npz", **{k.replace("/", "__"): v for k, v in weights.items()})
    record = {
        "history": history.history,
        "evaluate": evaluation,
        "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "backend": keras.backend.backend(),
        "tensorflow_loaded": "tensorflow" in sys.modules,
    }
    (out / "record.json").write_text(json.dumps(record))
    # Non-chief worker of a multi-worker cluster: writes nothing.
    os.environ["TF_CONFIG"] = json.dumps(
        {
            "cluster": {"worker": ["localhost:1", "localhost:2"]},
            "task": {"type": "worker", "index": 1},
        }
    )
    model.fit(
        x, y, epochs=1, verbose=0, callbacks=[tblog.TBCallback(out / "worker1", histogram_freq=1)]
    )
    del os.environ["TF_CONFIG"]


def _embeddings(out: Path) -> None:
    import keras

    import tblog

    keras.utils.set_random_seed(0)
    tokens = np.random.default_rng(0).integers(0, 12, size=(32, 5))
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Embedding(12, 4, name="words"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile("sgd", "mse")
    labels = out / "labels.tsv"
    labels.write_text("".join(f"token{i}\n" for i in range(12)))
    model.fit(
        tokens,
        np.zeros((32, 1)),
        epochs=EPOCHS,
        verbose=0,
        callbacks=[
            tblog.TBCallback(out / "emb", embeddings_freq=1, embeddings_metadata=str(labels))
        ],
    )
    np.save(out / "words.npy", keras.ops.convert_to_numpy(model.get_layer("words").embeddings))


def _subclassed(out: Path) -> None:
    """A subclassed model (attributes, a list of blocks, a residual op) on this backend."""
    import keras

    import tblog

    class Block(keras.layers.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.fc = keras.layers.Dense(3)
            self.norm = keras.layers.LayerNormalization()

        def call(self, x: Any) -> Any:
            return self.norm(self.fc(x)) + x

    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.enc = keras.layers.Dense(3)
            self.blocks = [Block(), Block()]
            self.head = keras.layers.Dense(2)

        def call(self, x: Any) -> Any:
            x = self.enc(x)
            for block in self.blocks:
                x = block(x)
            return self.head(x)

    keras.utils.set_random_seed(0)
    model = Net()
    model.compile("sgd", "mse")
    callback = tblog.TBCallback(out / "sub", histogram_freq=1)
    model.fit(np.ones((8, 4)), np.zeros((8, 2)), epochs=1, verbose=0, callbacks=[callback])


def _nonfinite(out: Path) -> None:
    """A weight holding NaN/inf gets no histogram (TensorBoard cannot show one); the others do."""
    import keras

    import tblog

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    model.compile("sgd", "mse")
    kernel = np.ones((3, 2), dtype="float32")
    kernel[0, 0] = np.nan
    kernel[1, 1] = np.inf
    model.get_layer("d").kernel.assign(kernel)
    callback = tblog.TBCallback(out / "nonfinite", histogram_freq=1, write_graph=False)
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_end(0, {"loss": 1.5})
    callback.on_train_end()


def _fit_more(out: Path) -> None:
    """The torch/jax workload: the common fit, a subclassed model, (torch) embeddings."""
    import keras

    _fit(out)
    _subclassed(out)
    _nonfinite(out)
    if keras.backend.backend() == "torch":
        _embeddings(out)
        import runpy

        example = runpy.run_path(str(EXAMPLES / "keras_digits.py"))
        example["main"](["--logdir", str(out / "example"), "--epochs", "1"])


def _tensorflow(out: Path) -> None:
    """Our callback beside keras.callbacks.TensorBoard in the same fit (differential)."""
    import keras

    import tblog

    _fit(
        out,
        [
            keras.callbacks.TensorBoard(
                str(out / "keras"),
                histogram_freq=1,
                update_freq=UPDATE_FREQ,
                write_steps_per_second=True,
                write_images=True,
            ),
            tblog.TBCallback(
                out / "ours_keras_names",
                histogram_freq=1,
                update_freq=UPDATE_FREQ,
                write_steps_per_second=True,
                write_images=True,
                keras_tag_names=True,
            ),
            tblog.TBCallback(out / "profile", write_graph=False, profile_batch=(2, 3)),
        ],
    )


def _mirrored(out: Path) -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    import keras

    import tblog

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x, y = _data()
    with strategy.scope():
        model = _model(keras)
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=EPOCHS,
        validation_split=0.2,
        verbose=0,
        shuffle=False,
        callbacks=[tblog.TBCallback(out / "logs", histogram_freq=1)],
    )
    record = {"history": history.history, "replicas": strategy.num_replicas_in_sync}
    (out / "record.json").write_text(json.dumps(record))


WORKLOADS = {"fit": _fit_more, "tensorflow": _tensorflow, "mirrored": _mirrored}


def _main(argv: list[str]) -> None:
    workload, out = argv[0], Path(argv[1])
    if os.environ.get("KERAS_BACKEND") != "tensorflow":
        sys.meta_path.insert(0, _BlockTensorFlow())
    WORKLOADS[workload](out)
    if os.environ.get("KERAS_BACKEND") != "tensorflow":
        assert "tensorflow" not in sys.modules, "tensorflow was imported"


if __name__ == "__main__":
    sys.path.insert(0, str(SRC))
    _main(sys.argv[1:])
