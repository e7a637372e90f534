"""A YOLO-style TensorFlow training loop (GradientTape, a global step variable, several
loss terms, train and validation writers) checkpointed with ``tf.train.CheckpointManager``
through tblog's hook: kill it at any time, run it again, and it resumes from the latest
checkpoint while TensorBoard shows every curve, in both runs, continuing at that step.

The logging is TensorFlow's own ``tf.summary`` code; the one-line swap is the import::

    from tblog import summary            # was: summary = tf.summary

    python examples/tf_yolo_checkpoint.py --logdir runs/yolo --steps 120 --kill-at 80
    python examples/tf_yolo_checkpoint.py --logdir runs/yolo --steps 120   # resumes at 50

Every 50 steps ``manager.save(checkpoint_number=step)``; the hook records each save
(``checkpoint/step`` scalar, ``checkpoint/saved`` text) in the train run, and on restart
marks both runs so TensorBoard drops what the killed process logged after the checkpoint.
``--kill-at`` simulates a crash (SIGKILL, no cleanup) just before that step trains.
``--tf-summary`` logs with ``tf.summary`` itself (no resume marks), for comparison.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

print("loading TensorFlow ...", flush=True)  # its import takes seconds, ~10 on a busy machine
import tensorflow as tf  # noqa: E402

from tblog import summary  # noqa: E402  (the swap: TensorFlow's tutorial has `summary = tf.summary`)
from tblog.integrations.tensorflow import CheckpointHook  # noqa: E402

GRID, CLASSES, IMAGE = 4, 3, 16


def batch(step: int, size: int = 16) -> tuple[tf.Tensor, tf.Tensor]:
    """Images [size, 16, 16, 3] and targets [size, 4, 4, 5 + CLASSES] (box, objectness,
    one-hot class per grid cell), the same for a step in every run. Each 4x4-pixel cell is
    one colour plus noise, and its targets are a fixed function of that colour, so the model
    can learn them."""
    g = tf.random.Generator.from_seed(1000 + step)
    colour = g.uniform((size, GRID, GRID, 3))
    cell = IMAGE // GRID
    pixels = tf.repeat(tf.repeat(colour, cell, axis=1), cell, axis=2)
    images = pixels + g.normal((size, IMAGE, IMAGE, 3), stddev=0.05)
    boxes = tf.concat([colour, tf.reduce_mean(colour, -1, keepdims=True)], -1)
    obj = tf.cast(colour[..., :1] > 0.5, tf.float32)
    cls = tf.one_hot(tf.argmax(colour, -1), CLASSES)
    return images, tf.concat([boxes, obj, cls], axis=-1)


def build_model() -> tf.keras.Model:
    inputs = tf.keras.Input((IMAGE, IMAGE, 3))
    x = tf.keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = tf.keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    outputs = tf.keras.layers.Conv2D(5 + CLASSES, 1)(x)
    return tf.keras.Model(inputs, outputs)


def losses(pred: tf.Tensor, target: tf.Tensor) -> dict[str, tf.Tensor]:
    obj = target[..., 4:5]
    box = tf.reduce_mean(obj * tf.square(tf.sigmoid(pred[..., :4]) - target[..., :4])) * 5.0
    conf = tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=obj, logits=pred[..., 4:5])
    )
    prob = tf.reduce_mean(
        obj[..., 0]
        * tf.nn.softmax_cross_entropy_with_logits(labels=target[..., 5:], logits=pred[..., 5:])
    )
    return {"box_loss": box, "conf_loss": conf, "prob_loss": prob, "total_loss": box + conf + prob}


def learning_rate(step: int, total: int, warmup: int = 20, peak: float = 1e-2) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return 1e-5 + 0.5 * (peak - 1e-5) * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="runs/tf_yolo_checkpoint")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--save-every", type=int, default=50)
    parser.add_argument("--val-every", type=int, default=25)
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--print-losses", action="store_true", help="print every step's loss")
    parser.add_argument("--progress-secs", type=float, default=2.0, help="progress line interval")
    parser.add_argument(
        "--tf-summary",
        action="store_true",
        help="log with tf.summary instead, for comparison (no resume marks)",
    )
    args = parser.parse_args(argv)

    tf.keras.utils.set_random_seed(0)
    model = build_model()
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-3)
    global_steps = tf.Variable(0, trainable=False, dtype=tf.int64)

    api = tf.summary if args.tf_summary else summary
    train_writer = api.create_file_writer(os.path.join(args.logdir, "train"))
    val_writer = api.create_file_writer(os.path.join(args.logdir, "validation"))
    ckpt = tf.train.Checkpoint(step=global_steps, optimizer=optimizer, model=model)
    manager = tf.train.CheckpointManager(
        ckpt, os.path.join(args.logdir, "checkpoints"), max_to_keep=3
    )
    writers = None if args.tf_summary else [train_writer, val_writer]
    hook = CheckpointHook(manager, writers, save_interval_steps=args.save_every)

    start = hook.restore()  # the latest checkpoint, or None on the first run
    if start is not None:
        print(f"resumed from step {start} (global_steps={int(global_steps.numpy())})")
    start = start or 0

    @tf.function
    def train_step(images: tf.Tensor, target: tf.Tensor, lr: tf.Tensor) -> dict[str, tf.Tensor]:
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            terms = losses(model(images, training=True), target)
        grads = tape.gradient(terms["total_loss"], model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        global_steps.assign_add(1)
        return terms

    last_print = time.monotonic()
    for step in range(start, args.steps):
        hook.save(step)  # the state before step `step` trains; no-op off the interval
        if step == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        lr = learning_rate(step, args.steps)
        terms = train_step(*batch(step), tf.constant(lr, tf.float32))
        with train_writer.as_default(step=step):
            api.scalar("lr", lr)
            for name, value in terms.items():
                api.scalar(f"loss/{name}", value)
        if args.print_losses:
            print(f"step {step} total_loss {float(terms['total_loss']):.9g}", flush=True)
        elif step in (start, args.steps - 1) or time.monotonic() - last_print >= args.progress_secs:
            print(f"step {step + 1}/{args.steps} loss {float(terms['total_loss']):.4f}", flush=True)
            last_print = time.monotonic()
        if step % args.val_every == 0:
            images, target = batch(10**6 + step)
            val_terms = losses(model(images, training=False), target)
            with val_writer.as_default(step=step):
                for name, value in val_terms.items():
                    api.scalar(f"loss/{name}", value)
    train_writer.close()
    val_writer.close()


if __name__ == "__main__":
    main()
