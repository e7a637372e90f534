"""Run every ``benchmarks/bench_*.py``, each in its own process, and print their tables.

Usage: ``python benchmarks/run_all.py [--quick] [names...]`` where a name selects scripts
whose file name contains it (``core``, ``keras``, ...). Extra flags after ``--`` are passed
to every script. The output is Markdown, ready to paste into the README.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _util import ENV, machine  # noqa: E402


def scripts(names: list[str]) -> list[Path]:
    """The benchmark scripts to run, in name order, filtered by ``names`` when given."""
    found = sorted(HERE.glob("bench_*.py"))
    if names:
        found = [p for p in found if any(n in p.stem for n in names)]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("names", nargs="*", help="run only scripts whose name contains one")
    args, extra = parser.parse_known_args(argv)
    flags = (["--quick"] if args.quick else []) + [a for a in extra if a != "--"]
    selected = scripts(args.names)
    if not selected:
        print("no benchmark scripts matched", file=sys.stderr)
        return 2
    print(f"# tblog benchmarks ({machine()}, {time.strftime('%Y-%m-%d %H:%M')})\n", flush=True)
    failed = 0
    for path in selected:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(path), *flags], env=ENV, capture_output=True, text=True
        )
        out = proc.stdout.rstrip()
        print(out + "\n" if out else f"## {path.stem}\n", flush=True)
        if proc.returncode != 0:
            failed += 1
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            print(f"({path.name} failed with exit code {proc.returncode}:)\n\n```\n{tail}\n```\n")
        print(f"_{path.name}: {time.perf_counter() - start:.0f} s_\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
