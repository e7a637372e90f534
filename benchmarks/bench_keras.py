"""Per-epoch cost of weight histograms: ``keras.callbacks.TensorBoard`` vs ``tblog.TBCallback``.

A ~10M-parameter MLP, ``histogram_freq=1``. After one warm-up fit with each callback, the
callback's ``on_epoch_end`` (epoch scalars + a histogram of every weight) is timed over
``--repeats`` epochs, including the flush that puts the data on disk. Usage::

    KERAS_BACKEND=tensorflow python benchmarks/bench_keras.py [--repeats 5]

On the torch and jax backends only TBCallback is timed (Keras' callback needs TensorFlow).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

import tblog


def build_model(width: int = 2048) -> Any:
    """784 -> width -> width -> width -> 10 dense layers (about 10.0M parameters at 2048)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(width, activation="relu", name="fc1"),
            keras.layers.Dense(width, activation="relu", name="fc2"),
            keras.layers.Dense(width, activation="relu", name="fc3"),
            keras.layers.Dense(10, name="out"),
        ]
    )
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def time_epoch_end(model: Any, callback: Any, repeats: int) -> list[float]:
    """Seconds per ``on_epoch_end`` call (+ flush) after a one-epoch warm-up fit."""
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    y = np.zeros(64, dtype=np.int32)
    model.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[callback])
    callback.set_model(model)
    callback.on_train_begin()
    logs = {"loss": 1.0}
    times = []
    for epoch in range(repeats):
        start = time.perf_counter()
        callback.on_epoch_end(epoch, logs)
        for writer in getattr(callback, "_writers", {}).values():
            writer.flush()
        times.append(time.perf_counter() - start)
    callback.on_train_end()
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--width", type=int, default=2048)
    args = parser.parse_args(argv)
    model = build_model(args.width)
    backend = keras.backend.backend()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ours = time_epoch_end(
            model, tblog.TBCallback(os.path.join(tmp, "tblog"), histogram_freq=1), args.repeats
        )
        if backend == "tensorflow":
            theirs = time_epoch_end(
                model,
                keras.callbacks.TensorBoard(os.path.join(tmp, "keras"), histogram_freq=1),
                args.repeats,
            )
            rows.append(("keras.callbacks.TensorBoard", theirs))
        rows.append(("tblog.TBCallback", ours))
    print(
        f"\nbackend={backend}  parameters={model.count_params():,}  "
        f"weights={len(model.weights)}  repeats={args.repeats}  (on_epoch_end + flush)"
    )
    print(f"{'callback':<30}{'median ms':>12}{'min ms':>12}{'max ms':>12}")
    for name, times in rows:
        ms = [t * 1000 for t in times]
        print(f"{name:<30}{statistics.median(ms):>12.1f}{min(ms):>12.1f}{max(ms):>12.1f}")
    if len(rows) == 2:
        ratio = statistics.median(rows[0][1]) / statistics.median(rows[1][1])
        print(f"{'overhead ratio (keras / tblog)':<30}{ratio:>12.1f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
