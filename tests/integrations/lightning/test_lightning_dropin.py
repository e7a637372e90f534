"""Code written for Lightning's ``TensorBoardLogger`` runs unchanged on ``tblog.TBLogger``.

Lightning's own tests of the logger (``tests/tests_pytorch/loggers/test_tensorboard.py``, as
of Lightning 2.6) are ported here, parametrized over both classes, and each workload's
output is compared as TensorBoard reads it (``tests/support/tb.py``). Then the issue #13 cases:
hyperparameters in every form Lightning takes (OmegaConf, dataclasses, Namespace,
mappings), subclasses that override the path properties, and the graph warnings.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import types
import warnings
from argparse import Namespace
from typing import Any
from unittest import mock

import lightning.pytorch as L
import numpy as np
import pytest
import tb
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.loggers import TensorBoardLogger
from lightning_logs import session_groups, tree
from lightning_logs import session_hparams as session
from lightning_support import Digits, fit
from omegaconf import OmegaConf

import tblog

BOTH = pytest.mark.parametrize("Logger", [TensorBoardLogger, tblog.TBLogger], ids=["ref", "ours"])
BORING = {"enable_progress_bar": False, "enable_model_summary": False, "accelerator": "cpu"}


def both_loggers(tmp_path, work, **kwargs: Any) -> dict[str, Any]:
    """Run ``work(logger)`` on a TensorBoardLogger and a TBLogger made with ``kwargs``;
    ``{"ref": logger, "ours": logger}`` (saved under ``tmp_path/ref`` and ``tmp_path/ours``)."""
    out = {}
    for key, make in (("ref", TensorBoardLogger), ("ours", tblog.TBLogger)):
        logger = make(str(tmp_path / key), **kwargs)
        work(logger)
        out[key] = logger
    return out


def _comparable(value: Any) -> Any:
    """``value`` with tensors and arrays as lists (their pickles hold storage ids)."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return (type(value).__name__, value.tolist())
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_comparable(v) for v in value]
    if isinstance(value, Namespace):
        return ("Namespace", _comparable(vars(value)))
    return value


def assert_same_yaml(ref_dir: str, our_dir: str) -> None:
    """The two runs' ``hparams.yaml`` load (as Lightning's ``load_hparams_from_yaml`` would,
    with the unsafe loader) to the same values."""
    loaded = []
    for run_dir in (ref_dir, our_dir):
        with open(os.path.join(run_dir, "hparams.yaml")) as f:
            loaded.append(_comparable(yaml.load(f, Loader=yaml.UnsafeLoader)))
    assert loaded[1] == loaded[0]
    assert loaded[0]


def assert_same_scalars(ref_root: str, our_root: str, *, once_per_step: bool = False) -> None:
    """The same runs, scalar tags, steps and values; ours may add ``checkpoint/step`` (the
    saves ``after_save_checkpoint`` records), TensorBoardLogger's has none.
    ``once_per_step``: the reference's repeats of a step count once (a second
    ``log_hyperparams`` adds no second ``hp_metric`` point with tblog: hparams never bend a
    curve, issue #16)."""
    ref = tb.mux_scalars(ref_root)
    ours = {k: v for k, v in tb.mux_scalars(our_root).items() if k[1] != "checkpoint/step"}
    if once_per_step:
        ref = {k: list(dict(v).items()) for k, v in ref.items()}
    assert set(ours) == set(ref)
    for key, series in ref.items():
        assert [s for s, _ in ours[key]] == [s for s, _ in series], key
        np.testing.assert_allclose([v for _, v in ours[key]], [v for _, v in series], rtol=1e-6)


# ============================================================================ ported
# Each test below is the Lightning test of the same name (``test_tensorboard_*``), run on
# both loggers; where Lightning only checks that a call does not fail, the output is compared.


@pytest.mark.slow
@BOTH
def test_hparams_reload(tmp_path, Logger):
    class CustomModel(BoringModel):
        def __init__(self, b1: float = 0.5, b2: float = 0.999) -> None:
            super().__init__()
            self.save_hyperparameters()

    trainer = L.Trainer(max_steps=1, default_root_dir=tmp_path, logger=Logger(tmp_path), **BORING)
    assert trainer.log_dir == trainer.logger.log_dir
    trainer.fit(CustomModel())
    assert trainer.log_dir == trainer.logger.log_dir
    with open(os.path.join(trainer.log_dir, "hparams.yaml")) as file:
        assert yaml.safe_load(file) == {"b1": 0.5, "b2": 0.999}
    assert len(os.listdir(os.path.join(trainer.log_dir, "checkpoints"))) == 1
    assert session(trainer.log_dir) == {"b1": ("number_value", 0.5), "b2": ("number_value", 0.999)}


@BOTH
def test_automatic_versioning(tmp_path, Logger):
    root_dir = tmp_path / "tb_versioning"
    for name in ("version_0", "version_1", "version_nonumber", "other"):
        (root_dir / name).mkdir(parents=True)
    assert Logger(save_dir=tmp_path, name="tb_versioning").version == 2


@BOTH
def test_manual_versioning(tmp_path, Logger):
    for n in range(3):
        (tmp_path / "tb_versioning" / f"version_{n}").mkdir(parents=True)
    logger = Logger(save_dir=tmp_path, name="tb_versioning", version=1)
    assert logger.version == 1
    assert logger.log_dir == os.path.join(tmp_path, "tb_versioning", "version_1")


def test_named_version(tmp_path):
    def work(logger):
        (tmp_path / logger.save_dir / "tb_versioning").mkdir(parents=True)
        logger.log_hyperparams({"a": 1, "b": 2, 123: 3, 3.5: 4, 5j: 5})  # forces a write
        logger.finalize("interrupted")  # "success" writes hparams.yaml: OmegaConf rejects 5j

    loggers = both_loggers(tmp_path, work, name="tb_versioning", version="2020-02-05-162402")
    for logger in loggers.values():
        assert logger.version == "2020-02-05-162402"
        assert os.listdir(os.path.join(logger.save_dir, "tb_versioning")) == [logger.version]
        assert os.listdir(logger.log_dir)
    ref, ours = loggers["ref"], loggers["ours"]
    assert session(ours.log_dir) == session(ref.log_dir)
    assert set(session(ours.log_dir)) == {"a", "b", "123", "3.5", "5j"}
    assert_same_scalars(ref.save_dir, ours.save_dir)


@pytest.mark.parametrize("name", ["", None])
@BOTH
def test_no_name(tmp_path, Logger, name):
    logger = Logger(save_dir=tmp_path, name=name)
    logger.log_hyperparams({"a": 1, "b": 2, 123: 3, 3.5: 4, 5j: 5})  # forces a write
    logger.finalize("interrupted")
    assert os.path.normpath(logger.root_dir) == str(tmp_path)
    assert os.listdir(tmp_path / "version_0")
    assert session(logger.log_dir)["5j"] == ("number_value", 5.0)


@pytest.mark.slow
@BOTH
def test_log_sub_dir(tmp_path, Logger):
    """Lightning's ``test_tensorboard_log_sub_dir``: a subclass fixing ``version`` and ``name``."""

    class TestLogger(Logger):
        @property
        def version(self):
            return "version"

        @property
        def name(self):
            return "name"

    trainer_args = {"default_root_dir": tmp_path, "max_steps": 1, **BORING}
    save_dir = tmp_path / "logs"
    trainer = L.Trainer(**trainer_args, logger=TestLogger(save_dir))
    assert trainer.logger.log_dir == os.path.join(save_dir, "name", "version")
    trainer = L.Trainer(**trainer_args, logger=TestLogger(save_dir, sub_dir="sub_dir"))
    assert trainer.logger.log_dir == os.path.join(save_dir, "name", "version", "sub_dir")
    explicit = os.path.expanduser("~/tmp")
    trainer = L.Trainer(**trainer_args, logger=TestLogger("~/tmp", sub_dir="sub_dir"))
    assert trainer.logger.log_dir == os.path.join(explicit, "name", "version", "sub_dir")
    with mock.patch.dict(os.environ, {"TEST_ENV_DIR": "some_directory"}):
        trainer = L.Trainer(**trainer_args, logger=TestLogger("$TEST_ENV_DIR/tmp", sub_dir="sub"))
        assert trainer.logger.log_dir == os.path.join(
            "some_directory/tmp", "name", "version", "sub"
        )


@pytest.mark.parametrize("step_idx", [10, None])
def test_log_metrics(tmp_path, step_idx):
    metrics = {
        "float": 0.3,
        "int": 1,
        "FloatTensor": torch.tensor(0.1),
        "IntTensor": torch.tensor(1),
    }

    def work(logger):
        logger.log_metrics(metrics, step_idx)
        logger.finalize("success")

    loggers = both_loggers(tmp_path, work)
    assert_same_scalars(loggers["ref"].save_dir, loggers["ours"].save_dir)
    assert {tag for _, tag in tb.mux_scalars(loggers["ours"].save_dir)} == set(metrics)


def _mixed_hparams() -> dict[str, Any]:
    """Lightning's test hyperparameters (with zeros for its uninitialized tensor and array,
    whose ``str`` would differ between the two runs)."""
    return {
        "float": 0.3,
        "int": 1,
        "string": "abc",
        "bool": True,
        "dict": {"a": {"b": "c"}},
        "list": [1, 2, 3],
        "namespace": Namespace(foo=Namespace(bar="buzz")),
        "layer": torch.nn.BatchNorm1d,
        "tensor": torch.zeros(2, 2, 2),
        "array": np.zeros([2, 2, 2]),
    }


def test_log_hyperparams(tmp_path):
    def work(logger):
        logger.log_hyperparams(_mixed_hparams())
        logger.finalize("success")

    loggers = both_loggers(tmp_path, work)
    ref, ours = loggers["ref"], loggers["ours"]
    assert session(ours.log_dir) == session(ref.log_dir)
    assert session(ours.log_dir)["namespace/foo/bar"] == ("string_value", "buzz")
    assert_same_scalars(ref.save_dir, ours.save_dir)  # hp_metric = -1
    assert_same_yaml(ref.log_dir, ours.log_dir)


def test_log_hparams_and_metrics(tmp_path):
    def work(logger):
        logger.log_hyperparams(_mixed_hparams(), {"abc": torch.tensor([0.54])})
        logger.finalize("success")

    loggers = both_loggers(tmp_path, work, default_hp_metric=False)
    ref, ours = loggers["ref"], loggers["ours"]
    assert session(ours.log_dir) == session(ref.log_dir)
    assert_same_scalars(ref.save_dir, ours.save_dir)
    assert {tag for _, tag in tb.mux_scalars(ours.save_dir)} == {"abc"}


def test_log_omegaconf_hparams_and_metrics(tmp_path):
    config = {
        "float": 0.3,
        "int": 1,
        "string": "abc",
        "bool": True,
        "dict": {"a": {"b": "c"}},
        "list": [1, 2, 3],
    }

    def work(logger):
        logger.log_hyperparams(OmegaConf.create(config), {"abc": torch.tensor([0.54])})
        logger.finalize("success")

    loggers = both_loggers(tmp_path, work, default_hp_metric=False)
    ref, ours = loggers["ref"], loggers["ours"]
    assert session(ours.log_dir) == session(ref.log_dir)
    assert session(ours.log_dir)["dict/a/b"] == ("string_value", "c")
    assert_same_scalars(ref.save_dir, ours.save_dir)
    assert OmegaConf.to_container(ours.hparams) == config


@pytest.mark.parametrize("source", ["attribute", "argument", "neither"])
def test_log_graph(tmp_path, source):
    """``model.example_input_array`` or ``input_array``: the same operations in the Graphs
    dashboard; neither: no graph (and the warning) from both."""

    def work(logger):
        model = BoringModel()
        input_array = torch.rand(2, 32) if source == "argument" else None
        if source == "attribute":
            model.example_input_array = torch.rand(2, 32)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            logger.log_graph(model, input_array)
        logger.warned = [str(w.message) for w in caught if "computational graph" in str(w.message)]
        logger.finalize("success")

    loggers = both_loggers(tmp_path, work, log_graph=True)
    assert loggers["ours"].warned == loggers["ref"].warned
    if source == "neither":
        assert len(loggers["ours"].warned) == 1
        for logger in loggers.values():
            with pytest.raises(ValueError, match="no graph"):
                tb.accumulator(logger.log_dir).Graph()
        return
    graphs = {key: tb.accumulator(logger.log_dir).Graph() for key, logger in loggers.items()}
    ops = {key: {n.op for n in g.node if n.op.startswith("aten::")} for key, g in graphs.items()}
    assert ops["ours"] == ops["ref"]
    assert "aten::linear" in ops["ours"]


@BOTH
def test_log_graph_warning_no_example_input_array(tmp_path, Logger):
    model = BoringModel()
    model.example_input_array = None
    logger = Logger(tmp_path, log_graph=True)
    with pytest.warns(
        UserWarning,
        match="Could not log computational graph to TensorBoard: The `model.example_input_array` .* was not given",
    ):
        logger.log_graph(model)
    model.example_input_array = {"x": 1, "y": 2}
    with pytest.warns(
        UserWarning,
        match="Could not log computational graph to TensorBoard: .* can't be traced by TensorBoard",
    ):
        logger.log_graph(model)


@pytest.mark.slow
def test_with_accumulated_gradients(tmp_path):
    """Lightning's test patches ``log_metrics``; here the steps are read back from the files."""

    class TestModel(BoringModel):
        def __init__(self) -> None:
            super().__init__()
            self.indexes: list[int] = []

        def training_step(self, *args):
            self.log("foo", 1, on_step=True, on_epoch=True)
            connector = self.trainer._logger_connector
            if not self.trainer.fit_loop._should_accumulate() and connector.should_update_logs:
                self.indexes.append(self.trainer.global_step)
            return super().training_step(*args)

    def work(logger):
        L.seed_everything(0)
        model = TestModel()
        trainer = L.Trainer(
            default_root_dir=tmp_path,
            limit_train_batches=12,
            limit_val_batches=0,
            max_epochs=3,
            accumulate_grad_batches=2,
            logger=[logger],
            log_every_n_steps=3,
            enable_checkpointing=False,
            **BORING,
        )
        trainer.fit(model)
        logger.indexes = model.indexes

    loggers = both_loggers(tmp_path, work, default_hp_metric=False)
    ours = loggers["ours"]
    assert [s for s, _ in tb.scalar_series(ours.log_dir, "foo_epoch")] == [5, 11, 17]
    assert [s for s, _ in tb.scalar_series(ours.log_dir, "foo_step")] == ours.indexes
    assert_same_scalars(loggers["ref"].save_dir, ours.save_dir)


def test_finalize(tmp_path):
    """Lightning's test mocks torch's SummaryWriter: no experiment is made by a ``finalize``
    without logging, and ``finalize`` flushes and closes it. Here the files show it."""
    logger = tblog.TBLogger(save_dir=tmp_path)
    assert logger._experiment is None
    logger.finalize("any")
    assert logger._experiment is None
    assert not os.path.exists(tmp_path / "lightning_logs")

    logger = tblog.TBLogger(save_dir=tmp_path, flush_secs=3600)
    logger.log_metrics({"flush_me": 11.1})
    writer = logger.experiment.writer
    logger.finalize("any")
    assert writer._closed
    assert tb.scalar_series(logger.log_dir, "flush_me") == [(0, pytest.approx(11.1))]
    assert not os.path.exists(os.path.join(logger.log_dir, "hparams.yaml"))  # only on success


@pytest.mark.slow
@BOTH
def test_save_hparams_to_yaml_once(tmp_path, Logger):
    logger = Logger(save_dir=tmp_path, default_hp_metric=False)
    trainer = L.Trainer(max_steps=1, default_root_dir=tmp_path, logger=logger, **BORING)
    assert trainer.log_dir == trainer.logger.log_dir
    trainer.fit(BoringModel())
    assert os.path.isfile(os.path.join(trainer.log_dir, "hparams.yaml"))
    assert not os.path.isfile(os.path.join(tmp_path, "hparams.yaml"))


@BOTH
def test_with_symlink(tmp_path, monkeypatch, Logger):
    """Empty name, a symlinked relative ``save_dir``: the version is found, nothing warns
    (Lightning's test patches its module's ``log``, which 2.6 no longer has)."""
    monkeypatch.chdir(tmp_path)
    os.makedirs(os.path.join(".", "lightning_logs", "version_0"))
    os.symlink(os.path.join(".", "lightning_logs"), os.path.join(".", "sym_lightning_logs"))
    logger = Logger(save_dir=os.path.join(".", "sym_lightning_logs"), name="")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert logger.version == 1


@BOTH
def test_missing_folder(tmp_path, caplog, Logger):
    """Lightning 2.6 no longer warns "Missing logger folder" (its old test's subject): version 0,
    no warning, no log record."""
    logger = Logger(save_dir=tmp_path, name="fake_dir")
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert logger.version == 0
    assert caplog.text == ""


# ---------------------------------------------------------------------------- test_all.py
# Lightning's ``tests_pytorch/loggers/test_all.py`` cases that cover TensorBoardLogger.


class _FitTestModel(BoringModel):
    def training_step(self, batch, batch_idx):
        loss = self.step(batch)
        self.log("train_some_val", loss)
        return {"loss": loss}

    def on_validation_epoch_end(self):
        self.log_dict({"early_stop_on": torch.tensor(1), "val_loss": torch.tensor(0.5)})

    def on_test_epoch_end(self):
        self.log("test_loss", torch.tensor(2))


@pytest.mark.slow
def test_loggers_fit_test(tmp_path):
    """A subclass recording ``log_metrics`` calls: the same calls, the same scalars."""
    histories = {}
    for key, base in (("ref", TensorBoardLogger), ("ours", tblog.TBLogger)):

        class StoreHistoryLogger(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, **kwargs)
                self.history = []

            def log_metrics(self, metrics, step):
                super().log_metrics(metrics, step)
                self.history.append((step, sorted(metrics.keys())))

        logger = StoreHistoryLogger(save_dir=str(tmp_path / key))
        trainer = L.Trainer(
            max_epochs=1,
            logger=logger,
            limit_train_batches=1,
            limit_val_batches=1,
            log_every_n_steps=1,
            default_root_dir=tmp_path / key,
            **BORING,
        )
        L.seed_everything(0)
        trainer.fit(_FitTestModel())
        trainer.test(verbose=False)
        histories[key] = logger.history
    assert (
        histories["ours"]
        == histories["ref"]
        == [
            (0, ["epoch", "train_some_val"]),
            (0, ["early_stop_on", "epoch", "val_loss"]),
            (1, ["epoch", "test_loss"]),
        ]
    )
    assert_same_scalars(str(tmp_path / "ref"), str(tmp_path / "ours"))


@pytest.mark.slow
def test_loggers_pickle(tmp_path):
    """The logger and a Trainer holding it pickle after the experiment is open; the copy logs."""
    import pickle

    logger = tblog.TBLogger(save_dir=str(tmp_path))
    _ = logger.experiment
    logger.log_metrics({"a": 1})
    logger.save()
    pickle.dumps(logger)
    trainer = L.Trainer(max_epochs=1, logger=logger, **BORING)
    trainer2 = pickle.loads(pickle.dumps(trainer))
    trainer2.logger.log_metrics({"acc": 1.0})
    assert trainer2.logger.name == logger.name
    assert trainer2.logger.save_dir == logger.save_dir
    trainer2.logger.finalize("success")
    logger.finalize("success")
    assert trainer2.logger.log_dir == logger.log_dir
    assert tb.scalar_series(logger.log_dir, "acc") == [(0, 1.0)]
    assert tb.scalar_series(logger.log_dir, "a") == [(0, 1.0)]


@pytest.mark.slow
@pytest.mark.parametrize("tuner_method", ["lr_find", "scale_batch_size"])
def test_logger_reset_correctly(tmp_path, tuner_method):
    """The tuners leave the Trainer's and the module's logger as they were."""
    from lightning.pytorch.tuner.tuning import Tuner

    class CustomModel(BoringModel):
        def __init__(self, lr=0.1, batch_size=1):
            super().__init__()
            self.save_hyperparameters()

    model = CustomModel()
    logger1 = tblog.TBLogger(str(tmp_path))
    trainer = L.Trainer(default_root_dir=tmp_path, max_epochs=1, logger=logger1, **BORING)
    getattr(Tuner(trainer), tuner_method)(model)
    assert trainer.logger is logger1
    assert model.logger is logger1


class _LazyInitExperimentCheck(L.Callback):
    def setup(self, trainer, pl_module, stage=None):
        assert trainer.logger._experiment


@pytest.mark.slow
@BOTH
def test_logger_initialization(tmp_path, Logger):
    """The experiment exists by ``setup`` (Lightning's test also runs two ``ddp_spawn``
    processes; test_lightning_ddp.py covers ranks)."""
    trainer = L.Trainer(
        logger=Logger(str(tmp_path)),
        default_root_dir=tmp_path,
        max_steps=1,
        callbacks=[_LazyInitExperimentCheck()],
        **BORING,
    )
    trainer.fit(BoringModel())


def test_logger_with_prefix(tmp_path):
    def work(logger):
        logger.log_metrics({"test": 1.0}, step=0)
        logger.finalize("success")

    loggers = both_loggers(tmp_path, work, prefix="tmp")
    assert_same_scalars(loggers["ref"].save_dir, loggers["ours"].save_dir)
    assert tb.scalar_series(loggers["ours"].log_dir, "tmp-test") == [(0, 1.0)]


@BOTH
def test_logger_default_name(tmp_path, Logger):
    assert Logger(save_dir=str(tmp_path)).name == "lightning_logs"


# ---------------------------------------------------------------------------- test_remote_paths.py
# Lightning's remote-path cases (its Windows variants patch ``os`` inside Lightning's own
# modules, which TBLogger does not use; the POSIX paths are checked here).


@pytest.mark.parametrize("name", ["experiment", ""])
@BOTH
def test_remote_logger_paths(Logger, name):
    logger = Logger("memory://logs", name=name, version=7)
    assert logger.log_dir == f"memory://logs/{name + '/' if name else ''}version_7"


@BOTH
def test_remote_tensorboard_subdirectory(Logger):
    logger = Logger("memory://logs", name="experiment", version="run", sub_dir="group/nested")
    assert logger.log_dir == "memory://logs/experiment/run/group/nested"


@BOTH
def test_remote_logger_version(tmp_path, Logger):
    root = f"memory://{tmp_path.name}/{Logger.__module__}"
    logger = Logger(root, name="experiment")
    logger._fs.makedirs(f"{root}/experiment/version_3", exist_ok=True)
    assert logger.version == 4


# ============================================================================ hyperparameters
@dataclasses.dataclass
class Optim:
    lr: float = 0.01
    betas: tuple[float, float] = (0.9, 0.99)


@dataclasses.dataclass
class Config:
    optim: Optim = dataclasses.field(default_factory=Optim)
    layers: list[int] = dataclasses.field(default_factory=lambda: [8, 8])
    name: str = "mlp"


def _hydra_config() -> Any:
    """What a Hydra app hands a LightningModule: a DictConfig with interpolations, nested
    groups, lists (of numbers and of groups) and a structured (dataclass) node."""
    return OmegaConf.create(
        {
            "seed": 7,
            "model": {"hidden": 16, "width": "${model.hidden}", "act": "relu", "drop": None},
            "data": {"batch": 64, "dirs": ["a", "b"], "splits": [{"name": "val"}]},
            "optim": OmegaConf.structured(Optim),
            "tag": "run-${seed}",
        }
    )


@pytest.mark.parametrize(
    "make",
    [
        _hydra_config,
        lambda: OmegaConf.create({"a": {"b": 1}, "c": [1, 2]}),
        lambda: {"outer": _hydra_config()},
        lambda: Namespace(lr=0.1, net=Namespace(depth=3), cfg=Config()),
        lambda: types.MappingProxyType({"lr": 0.1, "nested": {"x": np.float32(0.5)}}),
        lambda: {
            "cfg": Config(),
            "ints": np.int64(3),
            "flag": False,
            "t": torch.tensor([2.5, 1.0]),
        },
    ],
    ids=["dictconfig", "dictconfig-small", "dict-of-dictconfig", "namespace", "mapping", "dict"],
)
def test_hyperparams_in_every_form_lightning_takes(tmp_path, make):
    """Same session (keys, kinds, values), same hparams.yaml, same scalars as TensorBoardLogger."""

    def work(logger):
        logger.log_hyperparams(make())
        logger.log_hyperparams({"late": 1})  # a second call merges into hparams.yaml
        logger.finalize("success")

    loggers = both_loggers(tmp_path, work)
    ref, ours = loggers["ref"], loggers["ours"]
    assert session(ours.log_dir) == session(ref.log_dir)
    assert_same_scalars(ref.save_dir, ours.save_dir, once_per_step=True)
    assert_same_yaml(ref.log_dir, ours.log_dir)


def test_dictconfig_is_resolved_and_flattened(tmp_path):
    logger = tblog.TBLogger(str(tmp_path))
    logger.log_hyperparams(_hydra_config())
    logger.finalize("success")
    got = session(logger.log_dir)
    assert got["model/width"] == ("number_value", 16.0)  # the interpolation, resolved
    assert got["tag"] == ("string_value", "run-7")
    assert got["optim/lr"] == ("number_value", 0.01)
    assert got["model/drop"] == ("string_value", "None")
    assert got["data/dirs"] == ("string_value", "['a', 'b']")
    with open(os.path.join(logger.log_dir, "hparams.yaml")) as f:
        assert yaml.safe_load(f)["model"]["width"] == 16


@pytest.mark.slow
def test_hydra_style_module_through_the_trainer(tmp_path):
    """``save_hyperparameters(cfg)`` with a DictConfig, as every Hydra user does: the Trainer
    hands the logger a DictConfig; the HPARAMS tab lists the run with those values."""

    class HydraDigits(Digits):
        def __init__(self, cfg: Any) -> None:
            super().__init__(lr=0.2)
            self.save_hyperparameters(cfg)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.optim.lr)

    runs = {}
    for key, make in (("ref", TensorBoardLogger), ("ours", tblog.TBLogger)):
        logger = make(str(tmp_path / key))
        fit(logger, max_epochs=1, validate=False, model=HydraDigits(_hydra_config()))
        runs[key] = logger
    ref, ours = runs["ref"], runs["ours"]
    assert session(ours.log_dir) == session(ref.log_dir)
    assert session(ours.log_dir)["model/width"] == ("number_value", 16.0)
    assert_same_scalars(ref.save_dir, ours.save_dir)
    assert_same_yaml(ref.log_dir, ours.log_dir)
    (group,) = session_groups(os.path.join(ours.save_dir, "lightning_logs")).session_groups
    assert group.hparams["model/width"].number_value == 16
    assert group.hparams["tag"].string_value == "run-7"


def test_dataclass_params(tmp_path):
    """A dataclass is taken as ``asdict`` of it (TensorBoardLogger fails on one at the top
    level; nested, it takes ``asdict``): the same session as the dict through the reference."""
    cfg = Config(optim=Optim(lr=0.5))
    ours = tblog.TBLogger(str(tmp_path / "ours"))
    ours.log_hyperparams(cfg)
    ours.finalize("success")
    ref = TensorBoardLogger(str(tmp_path / "ref"))
    ref.log_hyperparams(dataclasses.asdict(cfg))
    ref.finalize("success")
    assert session(ours.log_dir) == session(ref.log_dir)
    assert session(ours.log_dir)["optim/lr"] == ("number_value", 0.5)


def test_tensor_hparams(tmp_path):
    """Tensors of at most one dimension are numbers (their first element), as torch records
    them; a 0-d tensor (on which TensorBoardLogger raises IndexError) is its value."""
    values = {"vec": torch.tensor([0.25, 3.0]), "param": torch.nn.Parameter(torch.ones(1))}
    loggers = both_loggers(
        tmp_path, lambda lg: (lg.log_hyperparams(values), lg.finalize("success"))
    )
    assert session(loggers["ours"].log_dir) == session(loggers["ref"].log_dir)
    ours = tblog.TBLogger(str(tmp_path / "scalar"))
    ours.log_hyperparams({"t": torch.tensor(0.5), "empty": torch.zeros(0)})
    ours.finalize("success")
    assert session(ours.log_dir) == {
        "t": ("number_value", 0.5),
        "empty": ("string_value", str(torch.zeros(0))),
    }


def test_bad_hyperparams_raise(tmp_path):
    logger = tblog.TBLogger(str(tmp_path))
    for bad in (3, [("lr", 0.1)], OmegaConf.create([1, 2])):
        with pytest.raises(TypeError, match="params must be a Mapping"):
            logger.log_hyperparams(bad)
    with pytest.raises(ValueError, match="params: cannot resolve"):
        logger.log_hyperparams(OmegaConf.create({"lr": "???"}))
    with pytest.raises(ValueError, match="params: cannot resolve"):
        logger.log_hyperparams(OmegaConf.create({"lr": "${missing}"}))
    assert logger.hparams == {}  # nothing half-recorded
    logger.finalize("success")


# ============================================================================ subclasses
_OVERRIDES = {
    "name": lambda self: "renamed",
    "version": lambda self: "fixed",
    "sub_dir": lambda self: "sub",
    "root_dir": lambda self: os.path.join(self._root_dir, "elsewhere"),
    "log_dir": lambda self: os.path.join(self._root_dir, "flat_run"),
    "save_dir": lambda self: os.path.join(self._root_dir, "saves"),
}


@pytest.mark.slow
@pytest.mark.parametrize("checkpoints", [True, False], ids=["ckpt", "no-ckpt"])
@pytest.mark.parametrize("prop", sorted(_OVERRIDES))
def test_subclass_overriding_a_path_property(tmp_path, prop, checkpoints):
    """A subclass overriding one path property: the same files in the same places, the same
    ``trainer.log_dir`` and the same scalars as the same subclass of TensorBoardLogger."""
    runs = {}
    for key, base in (("ref", TensorBoardLogger), ("ours", tblog.TBLogger)):
        cls = type(f"Custom{base.__name__}", (base,), {prop: property(_OVERRIDES[prop])})
        save_dir = str(tmp_path / key)
        logger = cls(save_dir, log_graph=True)
        callbacks = [ModelCheckpoint(save_top_k=1)] if checkpoints else None
        trainer = fit(logger, max_epochs=1, callbacks=callbacks, model=Digits())
        runs[key] = (save_dir, logger, trainer)
    (ref_dir, ref, ref_trainer), (our_dir, ours, our_trainer) = runs["ref"], runs["ours"]
    assert os.path.relpath(ours.log_dir, our_dir) == os.path.relpath(ref.log_dir, ref_dir)
    assert os.path.relpath(our_trainer.log_dir, our_dir) == os.path.relpath(
        ref_trainer.log_dir, ref_dir
    )
    assert tree(our_dir) == tree(ref_dir)
    assert_same_scalars(ref_dir, our_dir)
    assert session(ours.log_dir) == session(ref.log_dir)
    if prop in ("name", "version", "sub_dir", "root_dir", "log_dir"):
        default = os.path.join(our_dir, "lightning_logs", "version_0")
        assert ours.log_dir != default


def test_subclass_overriding_the_version_and_sanitize_hooks(tmp_path):
    """``_get_next_version`` and ``_sanitize_params``, TensorBoardLogger's hooks for choosing
    the version and the recorded hyperparameter values, are honoured when overridden."""
    runs = {}
    for key, base in (("ref", TensorBoardLogger), ("ours", tblog.TBLogger)):

        class Custom(base):  # type: ignore[misc, valid-type]
            def _get_next_version(self):
                return 41 + len(os.listdir(self.root_dir)) if os.path.isdir(self.root_dir) else 41

            @staticmethod
            def _sanitize_params(params, _base=base):
                params = _base._sanitize_params(params)
                return {k: "<hidden>" if k.endswith("secret") else v for k, v in params.items()}

        save_dir = str(tmp_path / key)
        for _ in range(2):
            logger = Custom(save_dir)
            logger.log_hyperparams({"lr": 0.1, "api/secret": "s3cr3t", "n": 2})
            logger.finalize("success")
        runs[key] = (save_dir, logger)
    (ref_dir, ref), (our_dir, ours) = runs["ref"], runs["ours"]
    assert ours.version == ref.version == 42
    assert tree(our_dir) == tree(ref_dir)
    assert session(ours.log_dir) == session(ref.log_dir)
    assert session(ours.log_dir)["api/secret"] == ("string_value", "<hidden>")
    assert_same_scalars(ref_dir, our_dir)


# ============================================================================ graph warnings
class WrappedTensor(torch.Tensor):
    """A tensor subclass defined outside torch: traceable, as for TensorBoardLogger."""


@pytest.mark.parametrize(
    "make",
    [
        lambda: None,
        lambda: {"x": torch.zeros(2, 32)},
        lambda: [torch.zeros(2, 32)],
        lambda: np.zeros((2, 32), dtype=np.float32),
    ],
    ids=["none", "dict", "list", "ndarray"],
)
def test_graph_warnings_use_lightnings_words(tmp_path, make):
    """The same warnings, word for word, as TensorBoardLogger; and no graph is written."""
    messages = {}
    for key, cls in (("ref", TensorBoardLogger), ("ours", tblog.TBLogger)):
        logger = cls(str(tmp_path / key), log_graph=True)
        model = BoringModel()
        model.example_input_array = make()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            logger.log_graph(model)
        messages[key] = [(w.category, str(w.message)) for w in caught]
        logger.finalize("success")
    assert messages["ours"] == messages["ref"]
    assert len(messages["ours"]) == 1


def test_tensor_subclass_input_is_traced(tmp_path):
    logger = tblog.TBLogger(str(tmp_path), log_graph=True)
    model = BoringModel()
    model.example_input_array = torch.rand(2, 32).as_subclass(WrappedTensor)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message=".*TracerWarning.*")
        logger.log_graph(model)
    logger.finalize("success")
    assert tb.accumulator(logger.log_dir).Graph().node
