"""A plain PyTorch training loop with ``tblog.CheckpointManager``: kill it at any time, run
it again, and it resumes from the latest checkpoint while TensorBoard shows every curve
continuing at the checkpoint's step, one value per step (no ``purge_step`` by hand).

    python examples/torch_checkpoint_loop.py --logdir runs/ckpt_demo --steps 120
    python examples/torch_checkpoint_loop.py --logdir runs/ckpt_demo --steps 120 --kill-at 80
    python examples/torch_checkpoint_loop.py --logdir runs/ckpt_demo --steps 120   # resumes at 50

The model is a small MLP classifying scikit-learn's 8x8 digits. ``--kill-at`` simulates a
crash (SIGKILL, no cleanup) just before that step trains.
"""

from __future__ import annotations

import argparse
import os
import signal

print("loading torch and scikit-learn ...", flush=True)  # imports take seconds on a busy machine

import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import tblog  # noqa: E402

BATCH = 64


def load_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Digits as [N, 64] floats in [0, 1] and int64 labels: 1400 to train, the rest to validate."""
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.int64)
    return x[:1400], y[:1400], x[1400:], y[1400:]


def batch(step: int, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The minibatch of one step (drawn from the step number, so a resumed run sees what a
    full run sees)."""
    g = torch.Generator().manual_seed(1000 + step)
    idx = torch.randperm(len(x), generator=g)[:BATCH]
    return x[idx], y[idx]


def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Validation loss and accuracy of the model as it is now."""
    with torch.no_grad():
        logits = model(x)
    return {
        "val_loss": torch.nn.functional.cross_entropy(logits, y).item(),
        "val_acc": (logits.argmax(1) == y).float().mean().item(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", default="runs/torch_checkpoint_loop")
    parser.add_argument("--ckpt-dir", default=None, help="default: <logdir>/checkpoints")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--save-every", type=int, default=50)
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--print-every", type=int, default=10, help="steps between progress lines")
    parser.add_argument(
        "--torch-writer",
        action="store_true",
        help="log with torch.utils.tensorboard instead, for comparison (no resume marks)",
    )
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # a model this small trains fastest on one thread
    torch.manual_seed(0)
    x_train, y_train, x_val, y_val = load_data()
    print(f"training an MLP on {len(x_train)} digits for {args.steps} steps", flush=True)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10))
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
        print(f"resumed from step {start}", flush=True)

    for step in range(start, args.steps):
        # The checkpoint of step N holds the state before step N trains (a no-op at the
        # step just restored, and at steps that are not multiples of --save-every). Its
        # record shows that state's validation metrics, measured only when it is saved.
        if manager.should_save(step):
            metrics = evaluate(model, x_val, y_val)
            manager.save(
                step,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                },
                metrics=metrics,
            )
            print(
                f"step {step}: checkpoint saved (val_loss {metrics['val_loss']:.3f}, "
                f"val_acc {metrics['val_acc']:.3f})",
                flush=True,
            )
        if step == args.kill_at:
            print(f"step {step}: SIGKILL (a simulated crash)", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        x, y = batch(step, x_train, y_train)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        scheduler.step()

        writer.add_scalar("train/loss", loss, step)
        writer.add_scalar("train/lr", scheduler.get_last_lr()[0], step)
        writer.add_scalars("norms", {"grad": grad_norm, "weight": model[0].weight.norm()}, step)
        if step % args.print_every == 0 or step == args.steps - 1:
            print(f"step {step}: train/loss {loss.item():.3f}", flush=True)
    writer.close()
    final = evaluate(model, x_val, y_val)
    print(
        f"done: val_loss {final['val_loss']:.3f}, val_acc {final['val_acc']:.3f}; "
        f"view with: tensorboard --logdir {args.logdir}",
        flush=True,
    )


if __name__ == "__main__":
    main()
