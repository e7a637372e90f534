"""The main demo: a real (small) training run per framework, all logging to ./runs.

    python examples/demo.py            # every framework that is installed
    python examples/demo.py --only torch keras

Each example is a stand-alone script in this folder; this runs them one after another
(each in its own process, as a user would) and then says how to open TensorBoard.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (name, needs, script, args, expect_kill): expect_kill runs that stop themselves with
# SIGKILL mid-training, to show that the next run resumes the same curves.
DEMOS: list[tuple[str, tuple[str, ...], str, list[str], bool]] = [
    ("numpy", ("numpy",), "quickstart.py", ["--logdir", "runs/quickstart"], False),
    ("torch", ("torch",), "torch_tutorial.py", ["--logdir", "runs/torch_tutorial"], False),
    (
        "keras",
        ("keras",),
        "keras_digits.py",
        ["--logdir", "runs/keras_digits", "--backend", "torch"],
        False,
    ),
    (
        "lightning",
        ("lightning",),
        "lightning_digits.py",
        ["--save-dir", "runs/lightning_digits"],
        False,
    ),
    (
        "torch-checkpoint",
        ("torch",),
        "torch_checkpoint_loop.py",
        ["--logdir", "runs/torch_checkpoint_loop", "--kill-at", "80"],
        True,
    ),
    (
        "torch-checkpoint",
        ("torch",),
        "torch_checkpoint_loop.py",
        ["--logdir", "runs/torch_checkpoint_loop"],
        False,
    ),
    (
        "tensorflow",
        ("tensorflow",),
        "tf_yolo_checkpoint.py",
        ["--logdir", "runs/tf_yolo_checkpoint"],
        False,
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        nargs="*",
        help="demo names to run (numpy torch keras lightning torch-checkpoint tensorflow)",
    )
    args = parser.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    failed = []
    for name, needs, script, script_args, expect_kill in DEMOS:
        if args.only and name not in args.only:
            continue
        missing = [m for m in needs if importlib.util.find_spec(m) is None]
        if missing:
            print(f"-- {name}: skipped ({', '.join(missing)} not installed)")
            continue
        note = (
            " (stops itself with SIGKILL at step 80; the next run resumes it)"
            if expect_kill
            else ""
        )
        print(f"-- {name}: examples/{script} {' '.join(script_args)}{note}", flush=True)
        start = time.monotonic()
        code = subprocess.call([sys.executable, os.path.join(HERE, script), *script_args], env=env)
        if code != 0 and not (expect_kill and code == -9):
            failed.append(name)
            print(f"   {name} failed with exit code {code}")
        else:
            print(f"   done in {time.monotonic() - start:.1f} s")
    print()
    print("Everything was logged under ./runs. Open it in TensorBoard with either of:")
    print("    tensorboard --logdir runs")
    print("    tblog board runs        # also prints the ssh -L line for a remote machine")
    print("or look at it from the terminal:  tblog ls runs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
