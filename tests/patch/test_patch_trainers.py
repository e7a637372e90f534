"""The proof of patch mode on trainers' own TensorBoard integrations, applied as a user applies
it (``python -m tblog run script``): a small seeded workload per client (transformers' Trainer
with ``report_to="tensorboard"``, accelerate's ``log_with="tensorboard"`` tracker, Ignite's
``TensorboardLogger``) shows TensorBoard the same runs, tags, steps and values with and without
tblog (wall-clock timing tags and time-named hparams runs aside)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
import tb
from google.protobuf import json_format
from lightning_logs import session_groups
from paths import SRC, pythonpath

pytestmark = pytest.mark.slow

TRANSFORMERS = """
import sys
import torch
from transformers import (BertConfig, BertForSequenceClassification, Trainer,
                          TrainerCallback, TrainingArguments, set_seed)
from transformers.integrations import TensorBoardCallback

class Data(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 99, (n, 8), generator=g)
        self.labels = torch.randint(0, 2, (n,), generator=g)
    def __len__(self):
        return len(self.ids)
    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.labels[i]}

class Report(TrainerCallback):  # runs after TensorBoardCallback, whose writer is open then
    def __init__(self):
        self.trainer = None
    def on_log(self, args, state, control, **kwargs):
        if self.trainer is not None:
            cb = next(c for c in self.trainer.callback_handler.callbacks
                      if isinstance(c, TensorBoardCallback))
            print("WRITER", type(cb.tb_writer).__module__, flush=True)
            self.trainer = None

set_seed(0)
model = BertForSequenceClassification(BertConfig(
    hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
    vocab_size=99))
args = TrainingArguments(
    output_dir="hf_out", max_steps=8, per_device_train_batch_size=8,
    per_device_eval_batch_size=16, eval_strategy="steps", eval_steps=4, logging_steps=1,
    save_strategy="no", report_to="tensorboard", seed=0, use_cpu=True,
    dataloader_num_workers=0, disable_tqdm=True)
report = Report()
trainer = Trainer(model=model, args=args, train_dataset=Data(64, 1),
                  eval_dataset=Data(32, 2), callbacks=[report])
report.trainer = trainer
trainer.train()
"""

ACCELERATE = """
import sys
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

set_seed(0)
accelerator = Accelerator(log_with="tensorboard", project_dir=sys.argv[1], cpu=True)
accelerator.init_trackers("run", config={"lr": 0.1, "batch_size": 4, "optimizer": "sgd"})
print("WRITER", type(accelerator.get_tracker("tensorboard", unwrap=True)).__module__)
model = torch.nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
g = torch.Generator().manual_seed(1)
x = torch.randn(24, 3, generator=g)
y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
model, optimizer = accelerator.prepare(model, optimizer)
for step in range(6):
    xb, yb = x[step * 4:(step + 1) * 4], y[step * 4:(step + 1) * 4]
    loss = torch.nn.functional.mse_loss(model(xb), yb)
    accelerator.backward(loss)
    optimizer.step()
    optimizer.zero_grad()
    accelerator.log({"train/loss": loss.item(), "lr": 0.1,
                     "pair": {"a": float(step), "b": -float(step)},
                     "note": f"step {step}"}, step=step)
accelerator.end_training()
"""

IGNITE = """
import sys
import torch
from ignite.engine import Events, create_supervised_evaluator, create_supervised_trainer
from ignite.handlers.tensorboard_logger import (OptimizerParamsHandler, OutputHandler,
                                                 TensorboardLogger)
from ignite.metrics import Loss
from ignite.utils import manual_seed

manual_seed(0)
model = torch.nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
g = torch.Generator().manual_seed(1)
x = torch.randn(32, 3, generator=g)
y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
data = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8)]
loss_fn = torch.nn.MSELoss()
trainer = create_supervised_trainer(model, optimizer, loss_fn)
evaluator = create_supervised_evaluator(model, metrics={"mse": Loss(loss_fn)})
trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: evaluator.run(data))
tb_logger = TensorboardLogger(log_dir=sys.argv[1])
print("WRITER", type(tb_logger.writer).__module__)
tb_logger.attach_output_handler(trainer, event_name=Events.ITERATION_COMPLETED, tag="training",
                                output_transform=lambda loss: {"batchloss": loss})
tb_logger.attach_output_handler(evaluator, event_name=Events.EPOCH_COMPLETED, tag="validation",
                                metric_names=["mse"], global_step_transform=lambda e, n:
                                trainer.state.epoch)
tb_logger.attach(trainer, log_handler=OptimizerParamsHandler(optimizer),
                 event_name=Events.ITERATION_STARTED)
trainer.run(data, max_epochs=3)
tb_logger.close()
"""

TIMING = re.compile(r"(runtime|_per_second)$")  # wall-clock measures: train_runtime, eval/runtime
TIME_RUN = re.compile(r"\d{9,}\.\d+")  # add_hparams without run_name: a run named by time.time()


def _run(tmp_path, source, name, patched):
    script = tmp_path / f"{name}_workload.py"  # not a module's own name: it would shadow it
    script.write_text(textwrap.dedent(source))
    logdir = tmp_path / ("patched" if patched else "plain") / name
    cmd = [sys.executable, *(["-m", "tblog", "run"] if patched else []), str(script), str(logdir)]
    env = {
        **os.environ,
        "PYTHONPATH": pythonpath(SRC),
        "TENSORBOARD_LOGGING_DIR": str(logdir),  # transformers' TensorBoardCallback
        "CUDA_VISIBLE_DEVICES": "",
    }
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    module = out.stdout.split("WRITER ")[1].split()[0]
    assert module.startswith("tblog.") == patched, module  # the patch did (not) apply
    return logdir


def _view(logdir):
    """What TensorBoard shows: ``{(plugin, run, tag): [(step, value)]}`` for scalars and texts
    (texts as flat string lists, run names made by the time normalised, wall-clock timing tags
    left out)."""
    mux = tb.multiplexer(str(logdir))
    out = {}
    for plugin in ("scalars", "text"):
        for run, tags in mux.PluginRunToTagToContent(plugin).items():
            for tag in tags:
                if TIMING.search(tag):
                    continue
                points = []
                for e in mux.Tensors(run, tag):
                    value = tb.array(e)
                    if plugin == "scalars":
                        points.append((e.step, pytest.approx(float(value.item()), rel=1e-5)))
                    else:  # rank 0 in tblog, [1] in torch: README "Known differences"
                        points.append((e.step, value.reshape(-1).tolist()))
                out[(plugin, TIME_RUN.sub("<time>", run), tag)] = points
    groups = [
        {k: (v.WhichOneof("kind"), json_format.MessageToDict(v)) for k, v in g.hparams.items()}
        for g in session_groups(str(logdir)).session_groups
    ]
    return out, groups


@pytest.mark.parametrize(
    "name, source, module",
    [
        ("hf", TRANSFORMERS, "transformers"),
        ("acc", ACCELERATE, "accelerate"),
        ("ign", IGNITE, "ignite"),
    ],
    ids=["transformers-trainer", "accelerate-tracker", "ignite-tensorboard-logger"],
)
def test_same_dashboard_with_and_without_the_patch(tmp_path, name, source, module):
    pytest.importorskip("torch")
    pytest.importorskip(module)
    plain = _view(_run(tmp_path, source, name, patched=False))
    ours = _view(_run(tmp_path, source, name, patched=True))
    assert any(k[0] == "scalars" for k in plain[0]), "the workload logged no scalars"
    assert sorted(ours[0]) == sorted(plain[0])
    for key, points in plain[0].items():
        assert ours[0][key] == points, key
    assert ours[1] == plain[1]  # the HParams dashboard (accelerate's config)
