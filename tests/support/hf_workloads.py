"""A tiny, seeded transformers Trainer workload (random BERT, synthetic data, CPU) for the
transformers adapter's tests; ``python hf_workloads.py OUTPUT_DIR [kill_at]`` runs it with
tblog's callback (and SIGKILLs itself after logging step ``kill_at``)."""

from __future__ import annotations

import os
import sys
from typing import Any

import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

MAX_STEPS = 10


class Synthetic(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """``n`` token sequences with binary labels, the same for a seed."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 99, (n, 8), generator=g)
        self.labels = torch.randint(0, 2, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def trainer(output_dir: str, callbacks: list[Any], report_to: str = "none", **kw: Any) -> Trainer:
    set_seed(0)
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        vocab_size=99,
    )
    args = TrainingArguments(
        output_dir=output_dir,
        max_steps=MAX_STEPS,
        logging_steps=1,
        eval_strategy="steps",
        eval_steps=4,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        report_to=report_to,
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        **{"save_strategy": "no", **kw},
    )
    return Trainer(
        model=BertForSequenceClassification(config),
        args=args,
        train_dataset=Synthetic(64, 1),
        eval_dataset=Synthetic(16, 2),
        callbacks=callbacks,
    )


class KillAt(TrainerCallback):  # type: ignore[misc]
    """SIGKILL this process once step ``step`` is logged (after the callbacks before it)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step and "loss" in (kwargs.get("logs") or {}):
            os.kill(os.getpid(), 9)


if __name__ == "__main__":
    from tblog.integrations.transformers import TensorBoardCallback

    kill = [KillAt(int(sys.argv[2]))] if len(sys.argv) > 2 else []
    trainer(
        sys.argv[1], [TensorBoardCallback(), *kill], save_strategy="steps", save_steps=3
    ).train()
