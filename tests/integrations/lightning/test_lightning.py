"""tblog.TBLogger against Lightning's TensorBoardLogger, read back through TensorBoard."""

from __future__ import annotations

import os
import shutil
import threading

import lightning.pytorch as L
import numpy as np
import pytest
import tb
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from lightning_logs import session_groups, session_hparams, texts, tree
from lightning_support import QUIET, Digits, DigitsBody, fit, loader
from paths import EXAMPLES

import tblog


# ---------------------------------------------------------------------------- differential
@pytest.mark.slow
def test_fit_matches_tensorboard_logger(tmp_path):
    """Same module, same seeds: TensorBoard sees the same runs, tags, steps, values and files."""
    ref_dir, our_dir = str(tmp_path / "ref"), str(tmp_path / "ours")
    runs = {}
    for save_dir, make in ((ref_dir, TensorBoardLogger), (our_dir, tblog.TBLogger)):
        logger = make(save_dir, log_graph=True)
        ckpt = ModelCheckpoint(monitor="val/loss", save_top_k=-1)
        trainer = fit(logger, callbacks=[ckpt])
        runs[save_dir] = (logger, trainer, ckpt)
        assert (
            trainer.log_dir
            == logger.log_dir
            == os.path.join(save_dir, "lightning_logs", "version_0")
        )

    ref_logger, _, _ = runs[ref_dir]
    ours, _, ckpt = runs[our_dir]
    assert isinstance(ours.experiment, tblog.SummaryWriter)
    assert tree(ref_dir) == tree(our_dir)
    with (
        open(os.path.join(ref_logger.log_dir, "hparams.yaml")) as f1,
        open(os.path.join(ours.log_dir, "hparams.yaml")) as f2,
    ):
        assert f1.read() == f2.read()

    ref, got = tb.mux_scalars(ref_dir), tb.mux_scalars(our_dir)
    extra = {key for key in got if key not in ref}
    assert {tag for _, tag in extra} == {"checkpoint/step"}
    assert set(ref) <= set(got)
    assert {tag for _, tag in ref} >= {
        "train/loss",
        "train/acc_step",
        "train/acc_epoch",
        "val/loss",
        "epoch",
        "hp_metric",
    }
    for key, series in ref.items():
        steps, values = zip(*series, strict=True)
        got_steps, got_values = zip(*got[key], strict=True)
        assert got_steps == steps, key
        np.testing.assert_allclose(got_values, values, rtol=1e-6, err_msg=str(key))

    assert session_hparams(ours.log_dir) == session_hparams(ref_logger.log_dir)
    assert tb.accumulator(ours.log_dir).Graph().node  # log_graph went through add_graph

    # Checkpoint records: one per file on disk, with the monitored score ModelCheckpoint kept.
    ckpt_dir = os.path.join(ours.log_dir, "checkpoints")
    on_disk = sorted(os.listdir(ckpt_dir))
    records = texts(ours.log_dir, "checkpoint/saved/text_summary")
    assert len(records) == len(on_disk) == 2
    for (step, text), name in zip(records, on_disk, strict=True):
        path = os.path.join(ckpt_dir, name)
        assert path in text and f"step={step}." in name
        score = float(ckpt.best_k_models[path])
        assert f"val/loss={score:.6g}" in text
    assert [s for s, _ in got[("lightning_logs/version_0", "checkpoint/step")]] == [
        s for s, _ in records
    ]


def test_logger_api_without_trainer_matches(tmp_path):
    """name / version / sub_dir / prefix / log_hyperparams / add_scalars, called directly."""
    dirs = {}
    for key, make in (("ref", TensorBoardLogger), ("ours", tblog.TBLogger)):
        save_dir = str(tmp_path / key)
        logger = make(save_dir, name="exp", version="custom", sub_dir="sub", prefix="p")
        assert logger.log_dir == os.path.join(save_dir, "exp", "custom", "sub")
        assert (logger.name, logger.version, logger.root_dir) == (
            "exp",
            "custom",
            os.path.join(save_dir, "exp"),
        )
        logger.log_hyperparams(
            {"lr": 0.1, "net": {"width": 8, "act": "relu"}, "flag": True}, {"score": 0.5}
        )
        for step in range(3):
            logger.log_metrics({"loss": 1.0 / (step + 1), "t": torch.tensor(step * 2.5)}, step)
        logger.log_metrics({"pair": {"a": 1.0, "b": 2.0}}, 3)
        logger.finalize("success")
        dirs[key] = (save_dir, logger.log_dir)
    (ref_root, ref_log), (our_root, our_log) = dirs["ref"], dirs["ours"]
    assert tree(ref_root) == tree(our_root)
    assert tb.mux_scalars(our_root) == tb.mux_scalars(ref_root)
    assert (
        session_hparams(our_log)
        == session_hparams(ref_log)
        == {
            "lr": ("number_value", 0.1),
            "net/width": ("number_value", 8.0),
            "net/act": ("string_value", "relu"),
            "flag": ("number_value", 1.0),  # torch records bools as numbers
        }
    )


@pytest.mark.slow
def test_hparams_tab_lists_each_run_with_its_logged_metrics(tmp_path):
    save_dir = str(tmp_path)
    loggers = []
    for lr in (0.05, 0.3):
        logger = tblog.TBLogger(save_dir)
        fit(logger, max_epochs=1, model=Digits(lr=lr, opt={"momentum": 0.9}))
        loggers.append(logger)
    groups = session_groups(os.path.join(save_dir, "lightning_logs")).session_groups
    assert len(groups) == 2
    by_name = {g.name: g for g in groups}
    for logger, lr in zip(loggers, (0.05, 0.3), strict=True):
        group = by_name[f"version_{logger.version}"]
        assert group.hparams["lr"].number_value == pytest.approx(lr)
        assert group.hparams["opt/momentum"].number_value == pytest.approx(0.9)
        assert group.hparams["hidden"].number_value == 16
        metrics = {m.name.tag: m for m in group.metric_values}
        assert {"hp_metric", "train/loss", "val/loss", "val/acc"} <= set(metrics)
        for tag in ("train/loss", "val/loss", "hp_metric"):
            last_step, last_value = tb.scalar_series(logger.log_dir, tag)[-1]
            assert metrics[tag].value == pytest.approx(last_value, rel=1e-6)
            assert metrics[tag].training_step == last_step
    assert loggers[0].version == 0 and loggers[1].version == 1


# ---------------------------------------------------------------------------- versions
def test_versions_are_claimed_atomically(tmp_path):
    save_dir = str(tmp_path)
    n = 12
    barrier = threading.Barrier(n)
    versions: list[object] = []

    def claim() -> None:
        logger = tblog.TBLogger(save_dir)
        barrier.wait()
        versions.append(logger.version)

    threads = [threading.Thread(target=claim) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(versions) == list(range(n))  # type: ignore[type-var]
    assert sorted(os.listdir(os.path.join(save_dir, "lightning_logs"))) == sorted(
        f"version_{i}" for i in range(n)
    )


def test_next_version_matches_tensorboard_logger(tmp_path):
    root = tmp_path / "lightning_logs"
    for name in ("version_0", "version_3", "version_x", "other"):
        (root / name).mkdir(parents=True)
    (root / "version_9").write_text("a file, not a run")
    expected = TensorBoardLogger(str(tmp_path)).version  # lists only; ours then claims it
    assert tblog.TBLogger(str(tmp_path)).version == expected == 4
    assert (root / "version_4").is_dir()
    assert tblog.TBLogger(str(tmp_path), version=2).log_dir.endswith("version_2")
    assert tblog.TBLogger(str(tmp_path), name="").root_dir == os.path.join(str(tmp_path), "")


# ---------------------------------------------------------------------------- other packages / inputs
@pytest.mark.slow
def test_pytorch_lightning_trainer_accepts_it(tmp_path):
    import pytorch_lightning as PL

    logger = tblog.TBLogger(str(tmp_path))
    model = type("PLDigits", (DigitsBody, PL.LightningModule), {})()
    trainer = PL.Trainer(logger=logger, max_epochs=1, enable_checkpointing=False, **QUIET)
    trainer.fit(model, loader(128))
    assert trainer.log_dir == logger.log_dir
    series = tb.scalar_series(logger.log_dir, "train/loss")
    assert [s for s, _ in series] == [0, 1]
    assert os.path.isfile(os.path.join(logger.log_dir, "hparams.yaml"))


def test_tensor_metrics_are_not_read_on_the_calling_thread(tmp_path, monkeypatch):
    logger = tblog.TBLogger(str(tmp_path))
    logger.experiment  # noqa: B018 - open the writer before patching
    reads: list[str] = []
    item, to_float = torch.Tensor.item, torch.Tensor.__float__

    def spy(fn):
        def wrapped(self, *a):
            reads.append(threading.current_thread().name)
            return fn(self, *a)

        return wrapped

    monkeypatch.setattr(torch.Tensor, "item", spy(item))
    monkeypatch.setattr(torch.Tensor, "__float__", spy(to_float))
    values = [torch.tensor(0.25 * i) for i in range(4)]
    for step, value in enumerate(values):
        logger.log_metrics({"a": value, "b": value * 2, "c": float(step)}, step)
    for value in values:
        value.add_(100.0)  # changed after logging: the logged values are the call-time ones
    main = threading.current_thread().name
    assert [name for name in reads if name == main] == []
    logger.finalize("success")
    assert tb.scalar_series(logger.log_dir, "a") == [(i, 0.25 * i) for i in range(4)]
    assert tb.scalar_series(logger.log_dir, "b") == [(i, 0.5 * i) for i in range(4)]


def test_bad_inputs_raise(tmp_path):
    with pytest.raises(TypeError, match="save_dir"):
        tblog.TBLogger(3)
    with pytest.raises(TypeError, match="version"):
        tblog.TBLogger(str(tmp_path), version=1.5)
    with pytest.raises(TypeError, match="writer keyword"):
        tblog.TBLogger(str(tmp_path), flush_sec=3)
    logger = tblog.TBLogger(str(tmp_path))
    with pytest.raises(ValueError, match="metric 'x'"):
        logger.log_metrics({"x": "not a number"}, 0)
    with pytest.raises(ValueError, match="metric 'y'"):
        logger.log_metrics({"y": torch.ones(3)}, 0)
    logger.finalize("success")


def test_import_is_lazy():
    import subprocess
    import sys

    code = (
        "import sys, tblog.integrations.lightning as m\n"
        "print(sorted(k for k in ('lightning', 'pytorch_lightning', 'torch') if k in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_trainer_run_twice_reuses_the_version(tmp_path):
    """fit then validate with one logger: one version directory, data from both calls."""
    logger = tblog.TBLogger(str(tmp_path))
    trainer = fit(logger, max_epochs=1)
    model = trainer.lightning_module
    L.Trainer(logger=logger, **QUIET).validate(model, loader(128), verbose=False)
    assert os.listdir(os.path.join(str(tmp_path), "lightning_logs")) == ["version_0"]
    assert len(tb.scalar_series(logger.log_dir, "val/loss")) == 2
    assert [v for _, v in tb.scalar_series(logger.log_dir, "hp_metric")] == [-1.0]


@pytest.mark.slow
def test_example_runs_and_resumes(tmp_path):
    """examples/lightning_digits.py: a run, then --resume continues the same version."""
    import importlib.util

    path = str(EXAMPLES / "lightning_digits.py")
    spec = importlib.util.spec_from_file_location("lightning_digits", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    save_dir = str(tmp_path)
    example.main(["--save-dir", save_dir, "--epochs", "1", "--hidden", "8"])
    example.main(["--save-dir", save_dir, "--epochs", "2", "--hidden", "8", "--resume"])
    run_dir = os.path.join(save_dir, "lightning_logs", "version_0")
    assert os.listdir(os.path.dirname(run_dir)) == ["version_0"]
    val = tb.scalar_series(run_dir, "val/loss")
    assert len(val) == 2 and val[0][0] < val[1][0]
    restored = tb.accumulator(run_dir).Tensors("checkpoint/restored/text_summary")
    assert [e.step for e in restored] == [val[0][0] + 1]
    assert "parameters/net.1.weight" in tb.plugin_tags(run_dir, "histograms")


def test_checkpoint_save_makes_the_log_durable(tmp_path):
    """What was logged before a checkpoint is on disk when ``after_save_checkpoint`` returns."""

    class SavedCheckpoint:  # the ModelCheckpoint attributes the logger reads
        monitor = "val/loss"
        _last_global_step_saved = 5

        def __init__(self, path: str) -> None:
            self._last_checkpoint_saved = path
            self.best_k_models = {path: torch.tensor(0.125)}

    logger = tblog.TBLogger(str(tmp_path), flush_secs=3600)
    for step in range(5):
        logger.log_metrics({"val/loss": 1.0 / (step + 1)}, step)
    path = os.path.join(logger.log_dir, "checkpoints", "epoch=0-step=5.ckpt")
    logger.after_save_checkpoint(SavedCheckpoint(path))
    snapshot = str(tmp_path / "snapshot")
    shutil.copytree(logger.log_dir, snapshot)  # the files as they are when the call returns
    assert [s for s, _ in tb.scalar_series(snapshot, "val/loss")] == [0, 1, 2, 3, 4]
    assert texts(snapshot, "checkpoint/saved/text_summary") == [
        (5, f"step 5: `{path}` (val/loss=0.125)")
    ]
    logger.finalize("success")


def test_hyperparameters_logged_last_are_written_at_exit(tmp_path):
    """``log_hyperparams`` and nothing after it, not even ``finalize``: the session and
    ``hp_metric`` are in the run once the process has exited."""
    _run(
        "logger = tblog.TBLogger(sys.argv[1])\n"
        "logger.log_metrics({'loss': 0.5}, 0)\n"
        "logger.log_hyperparams({'lr': 0.1, 'act': 'relu'})\n",
        tmp_path,
    )
    run_dir = str(tmp_path / "lightning_logs" / "version_0")
    assert session_hparams(run_dir) == {
        "lr": ("number_value", 0.1),
        "act": ("string_value", "relu"),
    }
    assert tb.scalar_series(run_dir, "hp_metric") == [(0, -1.0)]


def test_a_version_claimed_and_never_used_is_gone_at_exit(tmp_path):
    """``logger.version`` (or ``trainer.log_dir``) read in a process that then logs nothing
    (a ``ddp_spawn`` parent after the fit) claims a directory; it goes at exit, empty."""
    out = _run(
        "idle, used = tblog.TBLogger(sys.argv[1]), tblog.TBLogger(sys.argv[1])\n"
        "print(idle.version, used.version)\n"
        "used.log_metrics({'loss': 0.5}, 0)\n",
        tmp_path,
    )
    assert out.split() == ["0", "1"]
    assert os.listdir(tmp_path / "lightning_logs") == ["version_1"]
    assert tb.scalar_series(str(tmp_path / "lightning_logs" / "version_1"), "loss") == [(0, 0.5)]


def _run(script: str, logdir) -> str:
    """Run ``import sys, tblog`` + ``script`` in a fresh interpreter with ``logdir`` as its
    argument (the interpreter exits: exit hooks run); its standard output."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import sys, tblog\n" + script, str(logdir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
