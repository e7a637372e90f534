"""A tiny, seeded accelerate loop (linear regression on CPU) for the accelerate adapter's
tests. ``python accelerate_workload.py LOGGING_DIR CKPT_ROOT [kill_at]`` runs it with
tblog's tracker, saving state every 3 steps, and SIGKILLs itself after logging ``kill_at``."""

from __future__ import annotations

import os
import sys
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, set_seed

STEPS = 10
CONFIG = {"lr": 0.1, "batch_size": 4, "optimizer": "sgd"}


def run(
    log_with: Any,
    project_dir: str,
    *,
    ckpt_root: str | None = None,
    resume_step: int = 0,
    kill_at: int | None = None,
) -> Accelerator:
    """Steps ``resume_step + 1 .. STEPS``, from ``ckpt_root/step_<resume_step>`` if > 0."""
    set_seed(0)
    accelerator = Accelerator(
        log_with=log_with,
        project_config=ProjectConfiguration(project_dir=project_dir, logging_dir=project_dir),
        cpu=True,
    )
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=CONFIG["lr"])
    g = torch.Generator().manual_seed(1)
    x = torch.randn(STEPS * 4, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(STEPS * 4, 1, generator=g)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.init_trackers("run", config=CONFIG)
    if resume_step:
        assert ckpt_root is not None
        accelerator.load_state(os.path.join(ckpt_root, f"step_{resume_step}"))
    for step in range(resume_step + 1, STEPS + 1):
        xb, yb = x[(step - 1) * 4 : step * 4], y[(step - 1) * 4 : step * 4]
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        values: dict[str, Any] = {"loss": loss.detach(), "pair": {"a": float(step), "b": -step}}
        if step == 1:
            values["note"] = "first step"
        accelerator.log(values, step=step)
        if ckpt_root is not None and step % 3 == 0:
            accelerator.save_state(os.path.join(ckpt_root, f"step_{step}"))
        if step == kill_at:
            os.kill(os.getpid(), 9)
    accelerator.end_training()
    return accelerator


if __name__ == "__main__":
    from tblog.integrations.accelerate import TensorBoardTracker

    logging_dir, ckpt_root = sys.argv[1], sys.argv[2]
    kill_at = int(sys.argv[3]) if len(sys.argv) > 3 else None
    run(TensorBoardTracker("run", logging_dir), logging_dir, ckpt_root=ckpt_root, kill_at=kill_at)
