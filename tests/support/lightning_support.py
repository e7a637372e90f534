"""Shared pieces of the Lightning tests: a tiny LightningModule on scikit-learn digits.

No tests here; the module lives in its own importable file so that ``ddp_spawn`` workers
and the SIGKILL subprocess of the resume test can import the same model.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as L
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

QUIET: dict[str, Any] = {
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "accelerator": "cpu",
    "devices": 1,
    "log_every_n_steps": 1,
    "deterministic": True,
}


def digits(n: int = 256) -> TensorDataset:
    x, y = load_digits(return_X_y=True)
    return TensorDataset(torch.tensor(x[:n] / 16.0, dtype=torch.float32), torch.tensor(y[:n]))


def loader(n: int = 256, batch_size: int = 64) -> DataLoader:
    return DataLoader(digits(n), batch_size=batch_size, shuffle=False)


class DigitsBody:
    """A digits classifier; mix it into a LightningModule of either package."""

    def __init__(self, lr: float = 0.2, hidden: int = 16, opt: dict | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
        self.example_input_array = torch.zeros(2, 64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.log("train/loss", loss)
        acc = (logits.argmax(1) == y).float().mean()
        self.log("train/acc", acc, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val/loss", F.cross_entropy(logits, y))
        self.log("val/acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        momentum = (self.hparams.opt or {}).get("momentum", 0.0)
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=momentum)


class Digits(DigitsBody, L.LightningModule):
    pass


def fit(
    logger: Any,
    *,
    max_epochs: int = 2,
    callbacks: list | None = None,
    validate: bool = True,
    ckpt_path: str | None = None,
    model: Any = None,
    **kwargs: Any,
) -> Any:
    """Train ``Digits`` for ``max_epochs`` on 256 digits (4 batches an epoch); returns the trainer."""
    L.seed_everything(0, workers=True)
    model = model if model is not None else Digits(opt={"momentum": 0.5, "nesterov": False})
    trainer = L.Trainer(
        logger=logger,
        max_epochs=max_epochs,
        callbacks=callbacks or [],
        enable_checkpointing=bool(callbacks),
        **{**QUIET, **kwargs},
    )
    trainer.fit(model, loader(), loader(128) if validate else None, ckpt_path=ckpt_path)
    return trainer
