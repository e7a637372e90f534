"""A plain PyTorch training loop with ``tblog.CheckpointManager``: kill it at any time, run
it again, and it resumes from the latest checkpoint while TensorBoard shows every curve
continuing at the checkpoint's step, one value per step (no ``purge_step`` by hand).

    python examples/torch_checkpoint_loop.py --logdir runs/ckpt_demo --steps 120
    python examples/torch_checkpoint_loop.py --logdir runs/ckpt_demo --steps 120 --kill-at 80
    python examples/torch_checkpoint_loop.py --logdir runs/ckpt_demo --steps 120   # resumes at 50

``--kill-at`` simulates a crash (SIGKILL, no cleanup) just before that step trains.
"""

from __future__ import annotations

import argparse
import os
import signal

import torch

import tblog


def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The data of one step (deterministic, so a resumed run sees what a full run sees)."""
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(64, 8, generator=g)
    y = x.sum(dim=1, keepdim=True).sin() + 0.05 * torch.randn(64, 1, generator=g)
    return x, y


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="runs/torch_checkpoint_loop")
    parser.add_argument("--ckpt-dir", default=None, help="default: <logdir>/checkpoints")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--save-every", type=int, default=50)
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument(
        "--torch-writer",
        action="store_true",
        help="log with torch.utils.tensorboard instead, for comparison (no resume marks)",
    )
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=40, gamma=0.5)

    if args.torch_writer:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(args.logdir)
    else:
        writer = tblog.SummaryWriter(args.logdir)  # the same API
    manager = tblog.CheckpointManager(
        args.ckpt_dir or os.path.join(args.logdir, "checkpoints"),
        max_to_keep=3,
        save_interval_steps=args.save_every,
        writer=None if args.torch_writer else writer,
    )
    start = 0
    restored = manager.restore()  # None on the first run
    if restored is not None:
        start, state = restored
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        print(f"resumed from step {start}")

    loss_value = float("nan")
    for step in range(start, args.steps):
        # The checkpoint of step N holds the state before step N trains (a no-op at the
        # step just restored, and at steps that are not multiples of --save-every).
        manager.save(
            step,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
            },
            metrics={"loss": loss_value},
        )
        if step == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

        x, y = batch(step)
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        scheduler.step()
        loss_value = loss.item()

        writer.add_scalar("train/loss", loss, step)
        writer.add_scalar("train/lr", scheduler.get_last_lr()[0], step)
        writer.add_scalars("norms", {"grad": grad_norm, "weight": model[0].weight.norm()}, step)
    writer.close()


if __name__ == "__main__":
    main()
