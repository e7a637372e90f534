"""The classifier of TensorFlow's "Get started with TensorBoard" tutorial, on scikit-learn's
8x8 digits, logged with ``tblog.TBCallback`` (``histogram_freq=1``). Any Keras backend::

    python examples/keras_digits.py --backend torch --logdir logs/digits
    tensorboard --logdir logs/digits

TensorFlow is needed only for ``--backend tensorflow``.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["tensorflow", "torch", "jax"], default=None)
    parser.add_argument("--logdir", default=os.path.join("logs", "keras_digits"))
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args(argv)
    if args.backend:
        if "keras" in sys.modules:
            raise RuntimeError("--backend must be chosen before keras is imported")
        os.environ["KERAS_BACKEND"] = args.backend

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    print(f"loading keras ({backend} backend) and scikit-learn ...", flush=True)
    import keras

    print("loading scikit-learn's digits ...", flush=True)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    import tblog

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")  # [N, 8, 8] in [0, 1]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.2, random_state=0
    )

    print(f"{len(x_train)} training digits, {len(x_test)} validation digits", flush=True)

    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(1)  # a model this small trains fastest on one thread
    # Keras imports TensorFlow here (to seed it too) whenever it is installed, whatever the
    # backend: a few more seconds.
    print("seeding Python, NumPy, the backend (and TensorFlow if installed) ...", flush=True)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8), name="image"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(512, activation="relu", name="fc1"),
            keras.layers.Dropout(0.2, name="dropout"),
            keras.layers.Dense(10, activation="softmax", name="fc2"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    callback = tblog.TBCallback(log_dir=args.logdir, histogram_freq=1)
    print(f"training for {args.epochs} epochs, logging to {args.logdir}", flush=True)
    model.fit(
        x_train,
        y_train,
        epochs=args.epochs,
        validation_data=(x_test, y_test),
        callbacks=[callback],
        verbose=2,
    )
    print(
        f"backend={keras.backend.backend()}: logs in {args.logdir} (tensorboard --logdir {args.logdir})",
        flush=True,
    )


if __name__ == "__main__":
    main()
