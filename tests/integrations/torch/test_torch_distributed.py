"""rank_zero_only under torch.distributed: a 2-process gloo group on CPU, one log dir."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest
import tb

pytestmark = pytest.mark.slow  # a 2-process torch.distributed group

CHILD = textwrap.dedent(
    """
    import os, sys
    import torch
    import torch.distributed as dist
    import tblog

    class Untouchable(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if getattr(func, "__name__", "") not in ("__get__", "__set__"):
                raise AssertionError(f"rank {os.environ['RANK']} touched a tensor: {func}")
            return super().__torch_function__(func, types, args, kwargs or {})

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    only0 = tblog.SummaryWriter(sys.argv[1])  # rank_zero_only=True is the default
    every = tblog.SummaryWriter(sys.argv[2], rank_zero_only=False)
    for step in range(3):
        value = torch.tensor(10.0 * (rank + 1) + step)
        only0.add_scalar("value", value, step)
        every.add_scalar("value", value, step)
    only0.add_histogram("w", torch.arange(10.0) * (rank + 1), 0)
    if rank:
        # On other ranks the calls return without looking at their inputs.
        bad = torch.zeros(3, 8, 8).as_subclass(Untouchable)
        only0.add_image("img", bad, 0)
        only0.add_histogram("w", bad, 1)
        only0.add_scalar("value", bad, 5)
        only0.add_graph(torch.nn.Linear(2, 2), bad)
        assert only0.writer is None
    dist.barrier()
    only0.close()
    every.close()
    dist.destroy_process_group()
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _event_files(logdir):
    return [os.path.join(d, f) for d, _, fs in os.walk(logdir) for f in fs if "tfevents" in f]


def test_only_rank_zero_writes(tmp_path):
    only0, every = tmp_path / "only0", tmp_path / "every"
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE="2")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(only0), str(every)],
            env=dict(env, RANK=str(rank), LOCAL_RANK=str(rank)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(2)
    ]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert len(_event_files(only0)) == 1
    assert tb.scalar_series(str(only0), "value") == [(0, 10.0), (1, 11.0), (2, 12.0)]
    hist = tb.accumulator(str(only0)).Tensors("w")
    assert [e.step for e in hist] == [0]
    assert tb.array(hist[0])[:, 1].max() == 9.0  # rank 0's values (rank 1's reach 18)
    # Without rank_zero_only both processes write their own file.
    assert len(_event_files(every)) == 2
    values = sorted(v for _, v in tb.mux_scalars(str(every))[(".", "value")])
    assert values == [10.0, 11.0, 12.0, 20.0, 21.0, 22.0]
