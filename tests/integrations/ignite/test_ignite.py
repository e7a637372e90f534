"""``tblog.integrations.ignite.TensorboardLogger`` against Ignite's own ``TensorboardLogger``.

The same seeded Ignite trainer (a tiny torch model on synthetic data, an evaluator, every
TensorBoard handler Ignite ships and ``global_step_transform``) runs once with Ignite's
logger and once with ours; TensorBoard's loaders must see the same runs, tags, steps and
values (scalars through the multiplexer, histograms through the accumulator).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tb
import torch
from ignite.engine import Events, create_supervised_evaluator, create_supervised_trainer
from ignite.handlers import tensorboard_logger as ignite_tb
from ignite.metrics import Loss, MeanSquaredError

from tblog.integrations import ignite as ours
from tblog.writer.summary_writer import SummaryWriter


def _train(logger_cls: type, logdir: Path, handlers: Any) -> None:
    """Three epochs of a seeded regression with ``handlers`` (the module that holds the
    handler classes) attached to a ``logger_cls(log_dir=logdir)``."""
    torch.manual_seed(0)
    x = torch.randn(48, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(48, 1)
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 48, 8)]
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    loss_fn = torch.nn.MSELoss()
    trainer = create_supervised_trainer(model, opt, loss_fn)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda _: sched.step())
    evaluator = create_supervised_evaluator(
        model, metrics={"mse": MeanSquaredError(), "loss": Loss(loss_fn)}
    )
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda _: evaluator.run(batches[:2]))

    logger = logger_cls(log_dir=str(logdir))
    logger.attach_output_handler(
        trainer,
        event_name=Events.ITERATION_COMPLETED,
        tag="training",
        output_transform=lambda loss: {"loss": loss, "scaled": {"x2": 2 * loss}},
    )
    logger.attach_output_handler(
        evaluator,
        event_name=Events.EPOCH_COMPLETED,
        tag="validation",
        metric_names="all",
        global_step_transform=handlers.global_step_from_engine(trainer),
    )
    logger.attach(
        evaluator,
        log_handler=handlers.OutputHandler(
            tag="shifted",
            metric_names=["mse"],
            global_step_transform=lambda *_: 100 + trainer.state.iteration,
        ),
        event_name=Events.COMPLETED,
    )
    logger.attach_opt_params_handler(
        trainer, event_name=Events.ITERATION_STARTED, optimizer=opt, param_name="lr"
    )
    logger.attach(
        trainer,
        log_handler=handlers.OptimizerParamsHandler(opt, param_name="momentum", tag="opt"),
        event_name=Events.EPOCH_STARTED,
    )
    every2 = Events.ITERATION_COMPLETED(every=2)
    logger.attach(trainer, handlers.WeightsScalarHandler(model), every2)
    logger.attach(
        trainer, handlers.WeightsScalarHandler(model, reduction=torch.mean, tag="m"), every2
    )
    logger.attach(trainer, handlers.GradsScalarHandler(model, reduction=torch.norm), every2)
    logger.attach(trainer, handlers.WeightsHistHandler(model), Events.EPOCH_COMPLETED)
    logger.attach(
        trainer,
        handlers.GradsHistHandler(model, tag="g", whitelist=["0.weight"]),
        Events.EPOCH_COMPLETED,
    )
    trainer.run(batches, max_epochs=3)
    logger.close()


def _histograms(logdir: Path) -> dict[str, list[tuple[int, np.ndarray]]]:
    acc = tb.accumulator(str(logdir))
    return {
        tag: [(e.step, tb.array(e)) for e in acc.Tensors(tag)]
        for tag in acc.PluginTagToContent("histograms")
    }


@pytest.mark.slow
def test_trainer_with_every_handler_matches_ignites_logger(tmp_path):
    _train(ignite_tb.TensorboardLogger, tmp_path / "ref", ignite_tb)
    _train(ours.TensorboardLogger, tmp_path / "ours", ours)

    ref, got = tb.mux_scalars(str(tmp_path / "ref")), tb.mux_scalars(str(tmp_path / "ours"))
    assert sorted(got) == sorted(ref)
    tags = {tag for _, tag in ref}
    for tag in (
        "training/loss",
        "training/scaled/x2",
        "validation/mse",
        "validation/loss",
        "shifted/mse",
        "lr/group_0",
        "opt/momentum/group_0",
        "weights_norm/0/weight",
        "m/weights_mean/2/bias",
        "grads_norm/2/weight",
    ):
        assert tag in tags
    for key in ref:
        assert [s for s, _ in got[key]] == [s for s, _ in ref[key]], key
        assert [v for _, v in got[key]] == pytest.approx([v for _, v in ref[key]], rel=1e-6), key
    assert [s for s, _ in ref[(".", "validation/mse")]] == [1, 2, 3]  # trainer epochs
    assert [s for s, _ in ref[(".", "shifted/mse")]] == [106, 112, 118]
    assert len({v for _, v in ref[(".", "lr/group_0")]}) > 1  # the schedule moved

    ref_h, got_h = _histograms(tmp_path / "ref"), _histograms(tmp_path / "ours")
    assert (
        sorted(ref_h)
        == sorted(got_h)
        == sorted(
            [
                "weights/0/weight",
                "weights/0/bias",
                "weights/2/weight",
                "weights/2/bias",
                "g/grads/0/weight",
            ]
        )
    )
    for tag, series in ref_h.items():
        assert [s for s, _ in got_h[tag]] == [s for s, _ in series] == [1, 2, 3]
        for (_, want), (_, have) in zip(series, got_h[tag], strict=True):
            np.testing.assert_allclose(have, want, rtol=1e-6, err_msg=tag)


def test_logger_is_ignites_with_a_tblog_writer(tmp_path):
    logger = ours.TensorboardLogger(logdir=str(tmp_path), flush_secs=5)
    assert isinstance(logger, ignite_tb.TensorboardLogger)
    assert isinstance(logger.writer, SummaryWriter)
    assert logger.get_logdir() == str(tmp_path)  # forwarded to the writer, as Ignite does
    # Ignite's handlers accept it (they refuse any logger that is not Ignite's class)
    engine = create_supervised_trainer(torch.nn.Linear(1, 1), None, None)  # type: ignore[arg-type]
    engine.state.iteration = 3
    handler = ours.OutputHandler(tag="t", state_attributes=["alpha"])
    engine.state.alpha = 0.25
    handler(engine, logger, Events.ITERATION_COMPLETED)
    logger.close()
    assert tb.scalar_series(str(tmp_path), "t/alpha") == [(3, 0.25)]
    with pytest.raises(TypeError, match="once"):
        ours.TensorboardLogger(str(tmp_path), logdir=str(tmp_path))


def test_import_is_lazy():
    code = (
        "import sys, tblog.integrations.ignite as m; "
        "assert 'ignite' not in sys.modules and 'torch' not in sys.modules; "
        "m.TensorboardLogger; assert 'ignite' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
