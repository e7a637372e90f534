"""A training loop for the kill-and-resume tests: run it, SIGKILL it, run it again.

    python tests/support/resume_workload.py LOGDIR CKDIR --hook manager|tf --order log-save|save-log
        [--kill-at K] [--attempt A]

Every step logs, in the main run: ``loss`` (a tblog tensor scalar), ``legacy`` (a
``simple_value`` scalar, torch's legacy encoding), ``hist``, ``img`` and ``note`` (text);
attempt 0 also logs ``crash_only`` (never logged again after the resume). A ``val`` writer
logs ``val_loss`` at multiples of 3. Values are ``step + 1000 * attempt``.

``log-save``: log step s, then save the checkpoint of s (every 5 steps); a resume starts
at N + 1. ``save-log``: save the checkpoint of s (the state before s), then log s; a resume
runs N again. With ``--hook tf``, the order of TensorFlow's checkpoint tutorial for
log-save (train, ``ckpt.step.assign_add(1)``, log, save: steps from 1). ``--kill-at K``:
flush, then SIGKILL before step K logs.
"""

from __future__ import annotations

import argparse
import os
import pickle
import signal
import sys
import time

import numpy as np

import tblog
from tblog.core.proto import summary_pb2

EVERY = 5


def log(writer, val, step, attempt):
    value = float(step + 1000 * attempt)
    writer.add_scalar("loss", value, step)
    legacy = summary_pb2.Summary()
    legacy.value.add(tag="legacy", simple_value=value)
    writer.writer.summary("", legacy, step, time.time())
    writer.add_histogram("hist", np.arange(4.0) + value, step)
    writer.add_image("img", np.full((1, 2, 2), step % 250, np.uint8), step)
    writer.add_text("note", f"step {step} attempt {attempt}", step)
    if attempt == 0:
        writer.add_scalar("crash_only", value, step)
    if step % 3 == 0:
        val.add_scalar("val_loss", value, step)


def maybe_kill(step, kill_at, writers):
    if kill_at is not None and step == kill_at:
        for w in writers:
            w.flush()
        os.kill(os.getpid(), signal.SIGKILL)


class ManagerHook:
    def __init__(self, ckdir, writers):
        def save_fn(state, path):
            with open(path, "wb") as f:
                pickle.dump(state, f)

        def load_fn(path):
            with open(path, "rb") as f:
                return pickle.load(f)

        self.m = tblog.CheckpointManager(
            ckdir, max_to_keep=3, writer=writers, save_fn=save_fn, load_fn=load_fn
        )

    def restore(self):
        got = self.m.restore()
        return None if got is None else got[0]

    def save(self, step):
        self.m.save(step, {"step": step})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("logdir")
    p.add_argument("ckdir")
    p.add_argument("--hook", default="manager")
    p.add_argument("--order", default="log-save")
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--kill-at", type=int, default=None)
    p.add_argument("--attempt", type=int, default=0)
    a = p.parse_args()
    writer = tblog.SummaryWriter(a.logdir)
    val = tblog.SummaryWriter(os.path.join(a.logdir, "val"))
    writers = [writer, val]
    if a.hook == "tf":
        run_tf(a, writer, val, writers)
    else:
        hook = ManagerHook(a.ckdir, writers)
        restored = hook.restore()
        if a.order == "log-save":
            start = 0 if restored is None else restored + 1
            for step in range(start, a.steps):
                maybe_kill(step, a.kill_at, writers)
                log(writer, val, step, a.attempt)
                if step % EVERY == 0:
                    hook.save(step)
        else:
            start = 0 if restored is None else restored
            for step in range(start, a.steps):
                maybe_kill(step, a.kill_at, writers)
                if step % EVERY == 0:
                    hook.save(step)  # skipped at the step just restored
                log(writer, val, step, a.attempt)
        print("restored", restored)
    writer.close()
    val.close()


def run_tf(a, writer, val, writers):
    import tensorflow as tf

    from tblog.integrations.tensorflow import CheckpointHook

    ckpt = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64))
    hook = CheckpointHook(tf.train.CheckpointManager(ckpt, a.ckdir, max_to_keep=3), writers)
    restored = hook.restore()
    if a.order == "log-save":  # the tutorial: train, step += 1, log, save
        while int(ckpt.step) < a.steps - 1:
            maybe_kill(int(ckpt.step) + 1, a.kill_at, writers)
            ckpt.step.assign_add(1)
            step = ckpt.step  # a tf.Variable as the step
            log(writer, val, int(step), a.attempt)
            if int(step) % EVERY == 0:
                hook.save(step)
    else:
        start = 0 if restored is None else restored
        for step in range(start, a.steps):
            maybe_kill(step, a.kill_at, writers)
            ckpt.step.assign(step)
            if step % EVERY == 0:
                hook.save(step)
            log(writer, val, step, a.attempt)
    print("restored", restored)


if __name__ == "__main__":
    sys.exit(main())
