"""A LightningModule whose logged values say which rank and batch made them (importable by
``ddp_spawn`` workers)."""

from __future__ import annotations

from typing import Any

import torch
from lightning_support import Digits


class RankDigits(Digits):  # type: ignore[misc]
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss: torch.Tensor = super().training_step(batch, batch_idx)
        self.log("rank/id", float(100 * self.global_rank + batch_idx))
        return loss
