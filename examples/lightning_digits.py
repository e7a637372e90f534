"""A LightningModule on scikit-learn's 8x8 digits, logged with ``tblog.TBLogger`` (a
drop-in for Lightning's ``TensorBoardLogger``) and checkpointed with ``ModelCheckpoint``::

    python examples/lightning_digits.py --save-dir runs/lightning_digits
    python examples/lightning_digits.py --save-dir runs/lightning_digits --resume
    tensorboard --logdir runs/lightning_digits

Each run gets ``<save-dir>/lightning_logs/version_<N>/`` with the event file, ``hparams.yaml``
and ``checkpoints/``. ``--resume`` continues the newest version from its ``last.ckpt`` in the
same directory: TensorBoard shows one curve, the restore marked in ``checkpoint/restored``.
The HPARAMS tab lists every version with its hyperparameters and final metrics.
"""

from __future__ import annotations

import argparse
import glob
import os
from typing import Any


def latest_checkpoint(save_dir: str) -> str | None:
    """``last.ckpt`` of the highest ``version_<N>`` under ``<save_dir>/lightning_logs``."""
    found = glob.glob(
        os.path.join(save_dir, "lightning_logs", "version_*", "checkpoints", "last.ckpt")
    )
    if not found:
        return None
    return max(found, key=lambda p: int(p.split("version_")[-1].split(os.sep)[0]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save-dir", default=os.path.join("runs", "lightning_digits"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--resume", action="store_true", help="continue the newest version")
    args = parser.parse_args(argv)

    print("loading lightning and torch ...", flush=True)
    import lightning.pytorch as L
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint
    from torch import nn
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset

    import tblog

    print("loading scikit-learn's digits ...", flush=True)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    class DigitsClassifier(L.LightningModule):
        def __init__(self, lr: float, hidden: int) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(
                nn.Flatten(),
                nn.Linear(64, hidden),
                nn.ReLU(),
                nn.Dropout(0.1),
                nn.Linear(hidden, 10),
            )
            self.example_input_array = torch.zeros(1, 8, 8)  # for log_graph

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def _step(self, batch: Any, stage: str) -> torch.Tensor:
            x, y = batch
            logits = self(x)
            loss = F.cross_entropy(logits, y)
            acc = (logits.argmax(1) == y).float().mean()
            on_step = stage == "train"
            self.log(f"{stage}/loss", loss, on_step=on_step, on_epoch=True, prog_bar=True)
            self.log(f"{stage}/acc", acc, on_step=on_step, on_epoch=True)
            return loss

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return self._step(batch, "train")

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self._step(batch, "val")

        def on_train_epoch_end(self) -> None:
            # Anything TensorBoard takes, through the logger's SummaryWriter.
            for name, param in self.named_parameters():
                self.logger.experiment.add_histogram(
                    f"parameters/{name}", param, self.current_epoch
                )

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)

    class PrintEpochs(L.Callback):
        """One line per epoch, in place of the progress bar (which is silent in a pipe)."""

        def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            shown = ("train/loss_epoch", "val/loss", "val/acc")
            metrics = trainer.callback_metrics
            text = ", ".join(f"{k} {float(metrics[k]):.3f}" for k in shown if k in metrics)
            print(f"epoch {trainer.current_epoch}: {text}", flush=True)

    torch.set_num_threads(1)  # a model this small trains fastest on one thread
    digits = load_digits()
    images = torch.tensor(digits.images / 16.0, dtype=torch.float32)
    x_train, x_val, y_train, y_val = train_test_split(
        images, torch.tensor(digits.target), test_size=0.2, random_state=0
    )
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)
    val = DataLoader(TensorDataset(x_val, y_val), batch_size=256)

    ckpt_path = latest_checkpoint(args.save_dir) if args.resume else None
    if args.resume and ckpt_path is None:
        print(f"nothing to resume under {args.save_dir}: starting a new version")

    L.seed_everything(0, workers=True)
    # version=None: a new version_<N>, or the checkpoint's own version when resuming.
    logger = tblog.TBLogger(args.save_dir, log_graph=True)
    checkpoint = ModelCheckpoint(monitor="val/loss", save_top_k=2, save_last=True)
    trainer = L.Trainer(
        max_epochs=args.epochs,
        logger=logger,
        callbacks=[checkpoint, PrintEpochs()],
        log_every_n_steps=5,
        enable_model_summary=False,
        enable_progress_bar=False,
        accelerator="cpu",
        devices=1,
    )
    print(f"training for {args.epochs} epochs on {len(x_train)} digits", flush=True)
    trainer.fit(DigitsClassifier(args.lr, args.hidden), train, val, ckpt_path=ckpt_path)
    print(f"logged to {logger.log_dir}; best checkpoint {checkpoint.best_model_path}")
    print(f"view with: tensorboard --logdir {args.save_dir}", flush=True)


if __name__ == "__main__":
    main()
