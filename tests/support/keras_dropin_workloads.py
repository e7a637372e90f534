"""Keras' own uses of ``keras.callbacks.TensorBoard``, run unchanged against the anchor and
against ``tblog.TBCallback`` for ``test_keras_dropin.py``:
``python tests/support/keras_dropin_workloads.py <out dir> [case...]`` with ``KERAS_BACKEND``
set.

Each case is written once, against a ``TensorBoard`` name, as the code in Keras' test file
(``keras/src/callbacks/tensorboard_test.py``), Keras' docstring of the callback and issue
#13 are written. It runs with ``TensorBoard`` bound to the anchor (``keras``), to
``TBCallback(..., keras_tag_names=True)`` (``tblog``) and, for the cases in
``WITH_DEFAULT``, to plain ``TBCallback`` (``default``), each into ``<out>/<case>/<impl>``.
The working directory is ``<out>/cwd``, so nothing is found by accident relative to it. What each run raised, warned and recorded
goes to ``<out>/<case>/<impl>/record.json``. Imports no TensorBoard.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from paths import SRC


def _model(keras: Any, compile_model: bool = True) -> Any:
    """Keras' test model: ``TestTensorBoardV2._get_model``."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.layers.Input((10, 10, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    if compile_model:
        model.compile("sgd", "mse")
    return model


def _xy() -> tuple[np.ndarray, np.ndarray]:
    return np.ones((10, 10, 10, 1)), np.ones((10, 1))


# Each case: (keras, TensorBoard, logdir, record) -> None, as Keras' tests call it.
def basic(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    model = _model(keras)
    x, y = _xy()
    model.fit(x, y, batch_size=2, epochs=2, validation_data=(x, y), callbacks=[TensorBoard(logdir)])


def across_invocations(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    model = _model(keras)
    x, y = _xy()
    tb_cbk = TensorBoard(logdir)
    for _ in (1, 2):
        model.fit(x, y, batch_size=2, epochs=2, validation_data=(x, y), callbacks=[tb_cbk])


def batch_metrics(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    model = _model(keras)
    x, y = _xy()
    tb_cbk = TensorBoard(logdir, update_freq=1)
    model.fit(x, y, batch_size=2, epochs=2, validation_data=(x, y), callbacks=[tb_cbk])


def learning_rate_schedules(
    keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]
) -> None:
    model = _model(keras, compile_model=False)
    opt = keras.optimizers.SGD(keras.optimizers.schedules.CosineDecay(0.01, 1))
    model.compile(opt, "mse")
    x, y = _xy()
    model.fit(x, y, batch_size=2, epochs=2, callbacks=[TensorBoard(logdir)])


def custom_summary(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    """Keras' test_custom_summary: a layer writing its own summary with tf.summary.write."""
    import tensorflow.summary as summary
    from tensorflow.compat.v1 import SummaryMetadata

    def scalar_v2_mock(name: str, data: Any, step: Any = None) -> None:
        metadata = SummaryMetadata()
        metadata.plugin_data.plugin_name = "scalars"
        with summary.experimental.summary_scope(name, "scalar_summary", values=[data, step]) as (
            tag,
            _,
        ):
            tensor = keras.ops.convert_to_tensor(data, dtype="float32")
            summary.write(tag=tag, tensor=tensor, step=step, metadata=metadata)

    class LayerWithSummary(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            scalar_v2_mock("custom_summary", keras.ops.sum(x))
            return x

    model = keras.Sequential([keras.layers.Input((5,)), LayerWithSummary()])
    model.compile("sgd", "mse", jit_compile=False)  # summary ops not compatible with XLA
    tb_cbk = TensorBoard(logdir, update_freq=1)
    x, y = np.ones((10, 5)), np.ones((10, 5))
    model.fit(x, y, batch_size=2, validation_data=(x, y), callbacks=[tb_cbk])


def global_step(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    model = _model(keras, compile_model=False)
    opt = keras.optimizers.SGD(keras.optimizers.schedules.CosineDecay(0.01, 1))
    model.compile(opt, "mse")
    x, y = _xy()
    tb_cbk = TensorBoard(logdir, update_freq=1, profile_batch=0, write_steps_per_second=True)
    model.fit(x, y, batch_size=2, epochs=2, verbose=0, callbacks=[tb_cbk])


def weight_histograms(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    model = _model(keras)
    x, y = _xy()
    tb_cbk = TensorBoard(logdir, histogram_freq=1)
    model.fit(x, y, batch_size=2, epochs=2, validation_data=(x, y), callbacks=[tb_cbk])


def weight_images(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    x, y = np.ones((10, 10, 10, 1)), np.ones((10, 1))
    tb_cbk = TensorBoard(logdir, histogram_freq=1, write_images=True)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.layers.Input((10, 10, 1)),
            keras.layers.Conv2D(3, 10),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile("sgd", "mse")
    model.fit(x, y, batch_size=2, epochs=2, validation_data=(x, y), callbacks=[tb_cbk])


def _embedding_model(keras: Any) -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.layers.Input((10,)),
            keras.layers.Embedding(10, 10, name="test_embedding"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return model


def projector_missing_metadata(
    keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]
) -> None:
    """Keras' test_TensorBoard_projector_callback: metadata.tsv is never written."""
    model = _embedding_model(keras)
    x, y = np.ones((10, 10)), np.ones((10, 10))
    tb_cbk = TensorBoard(
        logdir, embeddings_freq=1, embeddings_metadata={"test_embedding": "metadata.tsv"}
    )
    model.fit(x, y, batch_size=2, epochs=2, validation_data=(x, y), callbacks=[tb_cbk])


def projector_metadata(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    """The labels file written into log_dir and named relative to it (as the Projector
    reads a ProjectorConfig's metadata_path)."""
    model = _embedding_model(keras)
    os.makedirs(logdir, exist_ok=True)
    with open(os.path.join(logdir, "metadata.tsv"), "w") as f:
        f.write("".join(f"word{i}\n" for i in range(10)))
    x, y = np.arange(100).reshape(10, 10) % 10, np.ones((10, 10))
    tb_cbk = TensorBoard(logdir, embeddings_freq=1, embeddings_metadata="metadata.tsv")
    model.fit(x, y, batch_size=2, epochs=2, callbacks=[tb_cbk])
    table = keras.ops.convert_to_numpy(model.get_layer("test_embedding").embeddings)
    record["embeddings"] = table.tolist()


def no_graph(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    """Issue #13 item 3: write_graph=False."""
    model = _model(keras)
    x, y = _xy()
    model.fit(x, y, batch_size=2, epochs=2, callbacks=[TensorBoard(logdir, write_graph=False)])


def write_model(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    """Keras' fitModelAndAssertKerasModelWritten on a Functional model."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input([10, 10, 1])
    h = keras.layers.Conv2D(8, (3, 3), activation="relu")(inputs)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(1)(h)
    model = keras.Model(inputs=inputs, outputs=[h])
    model.compile("sgd", "mse")
    x, y = _xy()
    tb_cbk = TensorBoard(logdir, write_graph=True, profile_batch=0)
    model.fit(x, y, batch_size=2, epochs=3, validation_data=(x, y), callbacks=[tb_cbk])
    record["layers"] = [layer.name for layer in model.layers]


def auto_trace(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    """Keras' test_TensorBoard_auto_trace (tensorflow and jax backends)."""
    model = _model(keras, compile_model=False)
    x, y = _xy()
    tb_cbk = TensorBoard(logdir, histogram_freq=1, profile_batch=1, write_graph=False)
    model.compile("sgd", "mse")
    model.fit(x, y, batch_size=2, epochs=2, validation_data=(x, y), callbacks=[tb_cbk])


def profile_range(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    """The docstring's profiling example: a range of batches (tensorflow backend)."""
    model = _model(keras)
    x, y = np.ones((60, 10, 10, 1)), np.ones((60, 1))
    tensorboard_callback = TensorBoard(log_dir=logdir, profile_batch=(10, 20))
    model.fit(x, y, batch_size=2, epochs=2, callbacks=[tensorboard_callback])


def non_blocking(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    """Keras' test_TensorBoard_non_blocking: no blocking ``.numpy()`` on logged tensors."""
    model = keras.Sequential([keras.layers.Dense(1)])
    model.optimizer = keras.optimizers.Adam()
    tb = TensorBoard(logdir)
    cb_list = keras.callbacks.CallbackList([tb], model=model, epochs=1, steps=100, verbose=0)
    tensor = keras.ops.convert_to_tensor(1.0)

    def mock_numpy() -> None:
        raise RuntimeError("TensorBoard is causing a blocking NumPy conversion.")

    tensor.numpy = mock_numpy
    logs = {"metric": tensor}
    cb_list.on_train_begin(logs)
    cb_list.on_epoch_begin(0, logs)
    cb_list.on_train_batch_begin(0, logs)
    cb_list.on_train_batch_end(0, logs)
    cb_list.on_epoch_end(0, logs)
    cb_list.on_train_end(logs)
    cb_list.on_test_begin(logs)
    cb_list.on_test_batch_begin(0, logs)
    cb_list.on_test_batch_end(0, logs)
    cb_list.on_test_end(logs)


def docstring_basic(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    """The docstring's first example, with its relative ``./logs``."""
    model = _model(keras)
    x_train, y_train = _xy()
    os.makedirs(logdir, exist_ok=True)
    os.chdir(logdir)
    try:
        tensorboard_callback = TensorBoard(log_dir="./logs")
        model.fit(x_train, y_train, epochs=2, callbacks=[tensorboard_callback])
    finally:
        os.chdir(Path(logdir).parent.parent / "cwd")


def nested_histograms(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    """Issue #13 item 8 on a subclassed model holding a Sequential and a layer of layers:
    ``<model>/<layer>/<weight>`` tags."""

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
            self.enc = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(3)])
            self.block = Block()
            self.head = keras.layers.Dense(1)

        def call(self, x: Any) -> Any:
            return self.head(self.block(self.enc(x)))

    keras.utils.set_random_seed(0)
    model = Net()
    model.compile("sgd", "mse")
    x, y = np.ones((8, 4)), np.zeros((8, 1))
    model.fit(x, y, epochs=2, verbose=0, callbacks=[TensorBoard(logdir, histogram_freq=1)])


def docstring_subclassed(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    """The docstring's custom batch-level summaries in a subclassed Model (tensorflow)."""
    import tensorflow as tf

    class MyModel(keras.Model):
        def build(self, _: Any) -> None:
            self.dense = keras.layers.Dense(10)

        def call(self, x: Any) -> Any:
            outputs = self.dense(x)
            tf.summary.histogram("outputs", outputs)
            return outputs

    keras.utils.set_random_seed(0)
    model = MyModel()
    model.compile("sgd", "mse")
    x_train, y_train = np.ones((8, 10)), np.ones((8, 10))
    tb_callback = TensorBoard(logdir, update_freq=1)
    model.fit(x_train, y_train, callbacks=[tb_callback])


def docstring_functional(keras: Any, TensorBoard: Any, logdir: str, record: dict[str, Any]) -> None:
    """The docstring's custom batch-level summaries in a Functional model (tensorflow)."""
    import tensorflow as tf

    def my_summary(x: Any) -> Any:
        tf.summary.histogram("x", x)
        return x

    keras.utils.set_random_seed(0)
    inputs = keras.Input((10,))
    x = keras.layers.Dense(10)(inputs)
    outputs = keras.layers.Lambda(my_summary)(x)
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "mse")
    x_train, y_train = np.ones((8, 10)), np.ones((8, 10))
    tb_callback = TensorBoard(logdir, update_freq=1)
    model.fit(x_train, y_train, callbacks=[tb_callback])


CASES: dict[str, Callable[..., None]] = {
    f.__name__: f
    for f in (
        basic,
        across_invocations,
        batch_metrics,
        learning_rate_schedules,
        global_step,
        weight_histograms,
        weight_images,
        projector_missing_metadata,
        projector_metadata,
        no_graph,
        write_model,
        auto_trace,
        profile_range,
        non_blocking,
        docstring_basic,
        nested_histograms,
        docstring_subclassed,
        docstring_functional,
        custom_summary,
    )
}
# Where Keras' own test runs each case (the anchor's limits, not ours).
ONLY = {
    "auto_trace": ("tensorflow", "jax"),
    "profile_range": ("tensorflow",),
    "non_blocking": ("tensorflow", "jax"),
    "docstring_subclassed": ("tensorflow",),
    "docstring_functional": ("tensorflow",),
    "custom_summary": ("tensorflow",),
}
# The cases also run with plain TBCallback (our own tags): the ones whose output the tests
# read for it.
WITH_DEFAULT = {
    "basic",
    "weight_histograms",
    "weight_images",
    "nested_histograms",
    "projector_missing_metadata",
    "projector_metadata",
    "no_graph",
    "auto_trace",
    "profile_range",
    "non_blocking",
}
# Tags the cases' own tf.summary calls write (issue #13 item 5: tf.summary's default writer
# during fit, not this callback's).
TF_SUMMARY_TAGS = {
    "docstring_subclassed": "outputs",
    "docstring_functional": "x",
    "custom_summary": "custom_summary",
}


def _impls(keras: Any) -> dict[str, Any]:
    import tblog

    return {
        "keras": keras.callbacks.TensorBoard,
        "tblog": functools.partial(tblog.TBCallback, keras_tag_names=True),
        "default": tblog.TBCallback,
    }


def main(out: Path, only: list[str]) -> None:
    import keras

    backend = keras.backend.backend()
    (out / "cwd").mkdir(parents=True, exist_ok=True)
    os.chdir(out / "cwd")
    for name, case in CASES.items():
        if backend not in ONLY.get(name, (backend,)) or (only and name not in only):
            continue
        for impl, TensorBoard in _impls(keras).items():
            if impl == "default" and name not in WITH_DEFAULT:
                continue
            logdir = out / name / impl
            record: dict[str, Any] = {"backend": backend}
            keras.backend.clear_session()  # the same automatic layer names for every impl
            gc.collect()  # nothing of the previous run's left to run in this one's trace
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    case(keras, TensorBoard, str(logdir), record)
                except Exception as exc:  # noqa: BLE001 - recorded for the test to judge
                    record["error"] = f"{type(exc).__name__}: {exc}"
                    record["traceback"] = traceback.format_exc()
            record["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
            logdir.mkdir(parents=True, exist_ok=True)
            (logdir / "record.json").write_text(json.dumps(record))


if __name__ == "__main__":
    sys.path.insert(0, str(SRC))
    main(Path(sys.argv[1]).resolve(), sys.argv[2:])
