"""What a torch drop-in got wrong (#23 section 3), each against torch's own writer:
``file_writer`` is ``None`` after close (and logging reopens), and bool hyperparameters are
numbers on the HParams dashboard, as torch writes them."""

from __future__ import annotations

import pytest
import tb
from google.protobuf import json_format
from lightning_logs import session_groups

import tblog

torch = pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

WRITERS = {"torch": TorchWriter, "tblog": tblog.SummaryWriter}


@pytest.mark.parametrize("name", list(WRITERS))
def test_file_writer_is_none_after_close_and_logging_reopens(tmp_path, name):
    cls = WRITERS[name]
    with cls(str(tmp_path)) as w:
        w.add_scalar("x", 1.0, 0)
        assert w.file_writer is not None
    assert w.file_writer is None
    w.close()  # still a no-op
    w.add_scalar("x", 2.0, 1)  # reopens, through _get_file_writer() in torch
    assert w.file_writer is not None
    assert w._get_file_writer().get_logdir() == str(tmp_path)
    w.close()
    assert w.file_writer is None
    assert w._get_file_writer() is not None  # reopens explicitly too
    w.add_scalar("x", 3.0, 2)
    w.close()
    assert tb.scalar_series(str(tmp_path), "x") == [(0, 1.0), (1, 2.0), (2, 3.0)]


def _dashboard(logdir):
    """``[({hparam: (Value kind, value)}, {metric tag: value})]`` of every session group."""
    out = []
    for group in session_groups(str(logdir)).session_groups:
        hparams = {
            k: (v.WhichOneof("kind"), json_format.MessageToDict(v))
            for k, v in group.hparams.items()
        }
        metrics = {m.name.tag: m.value for m in group.metric_values}
        out.append((hparams, metrics))
    return out


def test_bool_hparams_show_as_torch_shows_them(tmp_path):
    hparams = {"lr": 0.1, "shuffle": True, "augment": False, "opt": "sgd", "flag_t": None}
    for name, cls in WRITERS.items():
        with cls(str(tmp_path / name)) as w:
            w.add_hparams(
                hparams,
                {"hp/acc": 0.75},
                hparam_domain_discrete={"shuffle": [True, False]},
                global_step=0,
            )
    ours, theirs = _dashboard(tmp_path / "tblog"), _dashboard(tmp_path / "torch")
    assert theirs and ours == theirs
    assert theirs[0][0]["shuffle"] == ("number_value", 1.0)
    assert theirs[0][0]["augment"] == ("number_value", 0.0)


def test_tf_summary_style_keeps_bools(tmp_path):
    """``style="tf.summary"`` writes bools as tf.summary's hparams API does (DATA_TYPE_BOOL)."""
    with tblog.SummaryWriter(str(tmp_path), style="tf.summary") as w:
        w.add_hparams({"shuffle": True}, {"hp/acc": 0.5}, global_step=0)
    (group,) = session_groups(str(tmp_path)).session_groups
    assert json_format.MessageToDict(group.hparams["shuffle"]) is True


def test_repeated_add_hparams_keeps_every_call_as_a_session(tmp_path):
    """torch's documented loop (one add_hparams per trial on one writer): torch shows one
    session per call; the first call goes into the writer's own run, each later one into a
    sub-run named by the time, as torch names them, so none is lost."""

    w = tblog.SummaryWriter(tmp_path)
    for i in range(3):
        w.add_hparams({"lr": 0.1 * i, "bsize": i}, {"hparam/accuracy": 10.0 * i})
    w.close()
    groups = session_groups(str(tmp_path)).session_groups
    seen = sorted(
        (g.hparams["bsize"].number_value, [m.value for m in g.metric_values]) for g in groups
    )
    assert seen == [(0.0, [0.0]), (1.0, [10.0]), (2.0, [20.0])]
