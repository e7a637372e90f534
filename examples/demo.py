"""The main demo: a real (small) training run per framework, all logging to ./runs.

    python examples/demo.py            # every framework that is installed
    python examples/demo.py --only torch keras

Each example is a stand-alone script in this folder; this runs them one after another
(each in its own process, as a user would), says how long each took (wall clock and CPU
time: the machine may be shared) and then how to open TensorBoard.
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
    (
        "torch",
        ("torch", "sklearn", "matplotlib"),
        "torch_tutorial.py",
        ["--logdir", "runs/torch_tutorial"],
        False,
    ),
    (
        "keras",
        ("keras", "torch", "sklearn"),
        "keras_digits.py",
        ["--logdir", "runs/keras_digits", "--backend", "torch"],
        False,
    ),
    (
        "lightning",
        ("lightning", "torch", "sklearn"),
        "lightning_digits.py",
        ["--save-dir", "runs/lightning_digits"],
        False,
    ),
    (
        "torch-checkpoint",
        ("torch", "sklearn"),
        "torch_checkpoint_loop.py",
        ["--logdir", "runs/torch_checkpoint_loop", "--kill-at", "80"],
        True,
    ),
    (
        "torch-checkpoint",
        ("torch", "sklearn"),
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


def command(script: str, script_args: list[str]) -> list[str]:
    """The command line that runs one example."""
    return [sys.executable, os.path.join(HERE, script), *script_args]


def child_env() -> dict[str, str]:
    """The environment the examples run in: TensorFlow's C++ log quieted."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run(cmd: list[str], env: dict[str, str]) -> tuple[int, float]:
    """Run ``cmd`` to its end; return its exit code (negative: killed by that signal) and
    the CPU seconds it used (user + system, its own children included)."""
    proc = subprocess.Popen(cmd, env=env)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        nargs="*",
        help="demo names to run (numpy torch keras lightning torch-checkpoint tensorflow)",
    )
    args = parser.parse_args(argv)
    env = child_env()
    failed = []
    total_start, total_cpu = time.monotonic(), 0.0
    for name, needs, script, script_args, expect_kill in DEMOS:
        if args.only and name not in args.only:
            continue
        missing = [m for m in needs if importlib.util.find_spec(m) is None]
        if missing:
            print(f"-- {name}: skipped ({', '.join(missing)} not installed)", flush=True)
            continue
        note = (
            " (stops itself with SIGKILL at step 80; the next run resumes it)"
            if expect_kill
            else ""
        )
        print(f"-- {name}: examples/{script} {' '.join(script_args)}{note}", flush=True)
        start = time.monotonic()
        code, cpu = run(command(script, script_args), env)
        total_cpu += cpu
        if code != 0 and not (expect_kill and code == -9):
            failed.append(name)
            print(f"   {name} failed with exit code {code}", flush=True)
        else:
            print(f"   done in {time.monotonic() - start:.1f} s ({cpu:.1f} s CPU)", flush=True)
    print()
    print(f"All of it took {time.monotonic() - total_start:.1f} s ({total_cpu:.1f} s CPU).")
    print("Everything was logged under ./runs. Open it in TensorBoard with either of:")
    print("    tensorboard --logdir runs")
    print("    tblog board runs        # also prints the ssh -L line for a remote machine")
    print("or look at it from the terminal:  tblog ls runs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
