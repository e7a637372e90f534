"""Run a script as the ranks of a torch.distributed group (gloo, CPU, loopback only).

Each rank is a ``python -c`` subprocess with ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/
``MASTER_PORT`` set; the script calls ``dist.init_process_group("gloo")`` itself (or not).
``PRELUDE`` gives scripts ``rank``, ``world``, ``out`` (a directory) and ``report(obj)``
(writes ``out/rank_<r>.json``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

PRELUDE = textwrap.dedent(
    """
    import json, os, sys, time
    rank, world, out = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), sys.argv[1]

    def report(obj):
        with open(os.path.join(out, f"rank_{rank}.json.tmp"), "w") as f:
            json.dump(obj, f)
        os.replace(os.path.join(out, f"rank_{rank}.json.tmp"), os.path.join(out, f"rank_{rank}.json"))

    def wait_for(path, limit=120.0):
        end = time.monotonic() + limit  # a guard against a hang, not a timing assert
        while not os.path.exists(path):
            if time.monotonic() > end:
                report({"error": f"rank {rank}: {path} never appeared"})
                os._exit(3)
            time.sleep(0.01)
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_ranks(
    script: str, world: int, out: Path, *args: str, timeout: float = 300
) -> tuple[list[int], list[str], dict[int, Any]]:
    """Run ``PRELUDE + script`` as ``world`` ranks; ``(return codes, outputs, reports)``."""
    out.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(free_port()),
        WORLD_SIZE=str(world),
        OMP_NUM_THREADS="1",
    )
    code = PRELUDE + textwrap.dedent(script)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(out), *args],
            env=dict(env, RANK=str(rank), LOCAL_RANK=str(rank)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(world)
    ]
    outputs = []
    for p in procs:
        try:
            outputs.append(p.communicate(timeout=timeout)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            outputs.append(p.communicate()[0])
    reports = {}
    for rank in range(world):
        path = out / f"rank_{rank}.json"
        if path.exists():
            reports[rank] = json.loads(path.read_text())
    return [p.returncode for p in procs], outputs, reports
