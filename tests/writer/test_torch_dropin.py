"""torch.utils.tensorboard code run unchanged through tblog (only the import swapped):
logging after ``close()`` reopens, ``writer.file_writer`` / ``all_writers`` /
``_get_file_writer()`` take torch's protos, and the PyTorch tutorial's order of calls
(``add_graph``, ``close``, then embeddings and PR curves) works. TensorBoard's loaders
must see the same runs, tags, steps and values for both writers."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tb
from tensorboard import context as tb_context
from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

import tblog

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402
from torch.utils.tensorboard.summary import hparams  # noqa: E402

WRITERS = {"torch": TorchWriter, "tblog": tblog.SummaryWriter}
PLUGINS = ("scalars", "histograms", "text", "images", "pr_curves", "hparams")


def _value(plugin, arr):
    if plugin == "text":  # rank 0 here, shape [1] in torch (a Known difference)
        return arr.reshape(-1).tolist()
    if plugin == "images":
        return arr.tolist()
    return arr.astype(np.float32).tolist()  # torch's histograms are float32 as TB reads them


def _view(logdir):
    """``{(plugin, run, tag): [(step, value)]}`` as TensorBoard's multiplexer shows it."""
    mux = tb.multiplexer(str(logdir))
    out = {}
    for plugin in PLUGINS:
        for run, tags in mux.PluginRunToTagToContent(plugin).items():
            for tag in tags:
                out[(plugin, run, tag)] = [
                    (e.step, _value(plugin, tb.array(e))) for e in mux.Tensors(run, tag)
                ]
    return out


def _event_files(path):
    return sorted(f for f in os.listdir(path) if "tfevents" in f)


def _both(tmp_path, workload):
    for name, cls in WRITERS.items():
        workload(cls, tmp_path / name)
    return _view(tmp_path / "tblog"), _view(tmp_path / "torch")


# ---------------------------------------------------------------- 1. logging after close()
def _after_close(cls, logdir):
    w = cls(str(logdir))
    for step in range(3):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.add_text("note", "before close", 0)
    w.close()
    w.close()  # no-op
    w.flush()  # no-op, and no new file
    assert len(_event_files(logdir)) == 1
    for step in range(3, 5):
        w.add_scalar("loss", 1.0 / (step + 1), step)  # reopens: a new event file
    w.add_histogram("weights", np.arange(10.0), 4)
    w.add_scalars("group", {"a": 1.0, "b": 2.0}, 4)
    w.add_text("note", "after close", 4)
    w.flush()
    assert len(_event_files(logdir)) == 2
    w.close()
    w.add_scalar("loss", 0.1, 5)  # and again
    w.close()
    assert len(_event_files(logdir)) == 3


def test_logging_after_close_reopens_like_torch(tmp_path, monkeypatch):
    # torch's files are named <secs>.<host>.<pid>.<process-wide counter>: in a worker that
    # already made 9 files in the same second, ".10" sorts before ".9" and TensorBoard reads
    # torch's second file first. Start the counter afresh, as in a new process.
    from tensorboard.summary.writer import event_file_writer

    monkeypatch.setattr(event_file_writer, "_global_uid", event_file_writer.AtomicCounter(0))
    ours, theirs = _both(tmp_path, _after_close)
    assert ours == theirs
    assert [s for s, _ in ours[("scalars", ".", "loss")]] == [0, 1, 2, 3, 4, 5]
    assert ("scalars", "group_a", "group") in ours


def test_scalar_fast_paths_reopen(tmp_path):
    w = tblog.SummaryWriter(tmp_path)
    w.close()
    w.add_scalar("a", 1.0, 1)
    w.close()
    w.log_metrics({"b": 2.0, "c": {"x": 3.0}}, 2)  # the loggers' path
    w.close()
    w.add_hparams({"lr": 0.1}, {"m": 4.0}, global_step=3)
    w.close()
    w.restart(3)  # a checkpoint resume on a closed writer reopens too, and purges
    w.add_scalar("a", 5.0, 3)
    w.close()
    assert tb.mux_scalars(tmp_path) == {
        (".", "m"): [],  # step 3 purged by the restart at 3
        (".", "b"): [(2, 2.0)],
        ("c_x", "c"): [(2, 3.0)],
        (".", "a"): [(1, 1.0), (3, 5.0)],
    }


def _resume(cls, logdir):
    first = cls(str(logdir))
    for step in range(10):
        first.add_scalar("loss", float(step), step)
        first.add_scalars("m", {"x": float(step)}, step)
    first.close()
    resumed = cls(str(logdir), purge_step=5)
    for step in range(5, 8):
        resumed.add_scalar("loss", 100.0 + step, step)
        resumed.add_scalars("m", {"x": 100.0 + step}, step)
    resumed.close()
    resumed.add_scalar("loss", 108.0, 8)  # reopened: the points since the resume stay
    resumed.add_scalars("m", {"x": 108.0}, 8)
    resumed.close()


def test_resume_purge_step_survives_a_reopen(tmp_path):
    """Not differential: TensorBoard's Python loader ignores the first START of a run, so
    torch's ``purge_step`` purges nothing there (ours starts each run with a START that purges
    nothing)."""
    _resume(tblog.SummaryWriter, tmp_path)
    ours = _view(tmp_path)
    expected = [(s, float(s)) for s in range(5)] + [(s, 100.0 + s) for s in range(5, 9)]
    assert ours[("scalars", ".", "loss")] == expected
    assert ours[("scalars", "m_x", "m")] == expected


def test_restart_then_close_then_reopen_keeps_the_resumed_points(tmp_path):
    """A checkpoint hook's ``restart(step)``, then close, then more logging: the new event
    files must not purge again what was logged since the restart (main and sub-runs), and
    a sub-run first written after the reopen is purged at the restart step."""
    first = tblog.SummaryWriter(tmp_path)
    for step in range(10):
        for run in ("a", "b"):
            first.add_scalars("m", {run: float(step)}, step)
    first.close()
    w = tblog.SummaryWriter(tmp_path)
    w.restart(5)
    w.add_scalars("m", {"a": 105.0}, 5)
    w.close()
    w.add_scalars("m", {"a": 106.0}, 6)
    w.add_scalars("m", {"b": 106.0}, 6)  # first opened after the reopen
    w.close()
    got = tb.mux_scalars(tmp_path)
    old = [(s, float(s)) for s in range(5)]
    assert got[("m_a", "m")] == [*old, (5, 105.0), (6, 106.0)]
    assert got[("m_b", "m")] == [*old, (6, 106.0)]


# ---------------------------------------------------------------- 2. torch's FileWriter surface
def _hparams_by_hand(cls, logdir):
    w = cls(str(logdir))
    exp, ssi, sei = hparams({"lr": 0.01, "opt": "adam"}, {"hp/acc": 0.0})
    w.file_writer.add_summary(exp)
    w.file_writer.add_summary(ssi)
    w.file_writer.add_summary(sei)
    w.add_scalar("hp/acc", 0.75, 1)
    # Lightning's way
    fw = w._get_file_writer()
    assert fw.get_logdir() == str(logdir)
    exp2, ssi2, sei2 = hparams({"lr": 0.02, "opt": "sgd"}, {"hp/acc": 0.0})
    for summary in (exp2, ssi2, sei2):
        fw.add_summary(summary)
    w.add_scalars("split", {"train": 1.0, "val": 2.0}, 1)
    keys = sorted(w.all_writers)
    w.close()
    return keys


def _sessions(logdir):
    mux = tb.multiplexer(str(logdir))
    ctx = base_plugin.TBContext(
        logdir=str(logdir), multiplexer=mux, data_provider=MultiplexerDataProvider(mux, logdir)
    )
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0, slice_size=100, allowed_statuses=[api_pb2.STATUS_SUCCESS]
    )
    handler = list_session_groups.Handler(
        tb_context.RequestContext(), backend_context.Context(ctx), "", request
    )
    return {
        group.name: (
            {k: str(v) for k, v in group.hparams.items()},
            {(m.name.group, m.name.tag): m.value for m in group.metric_values},
        )
        for group in handler.run().session_groups
    }


def test_file_writer_hparams_recipe_like_torch(tmp_path):
    keys = {name: _hparams_by_hand(cls, tmp_path / name) for name, cls in WRITERS.items()}
    rel = {
        name: sorted(os.path.relpath(k, tmp_path / name) for k in ks) for name, ks in keys.items()
    }
    assert rel["tblog"] == rel["torch"] == [".", "split_train", "split_val"]
    ours, theirs = _view(tmp_path / "tblog"), _view(tmp_path / "torch")
    assert ours == theirs
    assert ("hparams", ".", "_hparams_/experiment") in ours
    sessions = _sessions(tmp_path / "tblog")
    assert sessions == _sessions(tmp_path / "torch")
    assert len(sessions) == 1 and "0.01" in str(sessions)  # the first experiment wins


def test_add_summary_and_add_event_take_protos_of_every_origin(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    def summary(tag, value):
        return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])

    def workload(cls, logdir):
        w = cls(str(logdir))
        fw = w._get_file_writer()
        fw.add_summary(summary("s", 1.0), 1, walltime=10.0)
        fw.add_event(event_pb2.Event(summary=summary("e", 2.0)), step=2, walltime=11.0)
        w.close()
        return [(e.step, e.wall_time) for e in tb.accumulator(str(logdir)).Tensors("e")]

    assert workload(tblog.SummaryWriter, tmp_path / "tblog") == workload(
        TorchWriter, tmp_path / "torch"
    )
    assert _view(tmp_path / "tblog") == _view(tmp_path / "torch")
    w = tblog.SummaryWriter(tmp_path / "direct")
    w.add_summary(summary("s", 1.0).SerializeToString(), 1)
    w.add_event(event_pb2.Event(summary=summary("e", 2.0)).SerializeToString(), 2)
    with pytest.raises(TypeError, match="summary must be a Summary"):
        w.add_summary({"s": 1.0})
    w.close()
    assert tb.mux_scalars(tmp_path / "direct") == {(".", "s"): [(1, 1.0)], (".", "e"): [(2, 2.0)]}


def test_file_writer_add_graph_takes_torchs_graph_profile(tmp_path):
    """What torch's own ``add_graph`` does: ``_get_file_writer().add_graph(graph(...))``."""
    from torch.utils.tensorboard._pytorch_graph import graph

    model, x = nn.Sequential(nn.Linear(3, 2), nn.ReLU()), torch.ones(1, 3)
    for name, cls in WRITERS.items():
        w = cls(str(tmp_path / name))
        w._get_file_writer().add_graph(graph(model, x))
        w.close()
    accs = [tb.accumulator(str(tmp_path / name)) for name in WRITERS]
    nodes = [{(n.name, n.op) for n in acc.Graph().node} for acc in accs]
    assert nodes[0] == nodes[1] and any("Linear[0]" in n for n, _ in nodes[0])
    tagged = [list(acc.PluginTagToContent("graph_tagged_run_metadata")) for acc in accs]
    assert tagged[0] == tagged[1] == ["step1"]


# ---------------------------------------------------------------- the PyTorch tutorial
class Net(nn.Module):
    """The tutorial's network (Fashion-MNIST, 28x28 gray images)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = x.view(-1, 16 * 4 * 4)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress")


def _tutorial(cls, logdir):
    """https://pytorch.org/tutorials/intermediate/tensorboard_tutorial.html, in its order."""
    torch.manual_seed(0)
    images = torch.rand(4, 1, 28, 28)
    labels = torch.tensor([0, 1, 2, 3])
    net = Net()
    writer = cls(str(logdir))
    grid = images.permute(1, 2, 0, 3).reshape(1, 28, 4 * 28)  # make_grid of one row
    writer.add_image("four_fashion_mnist_images", grid)
    writer.add_graph(net, images)
    writer.close()
    features = images.view(-1, 28 * 28)
    writer.add_embedding(
        features, metadata=[CLASSES[i] for i in labels], label_img=images, global_step=0
    )
    writer.close()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    for i in range(3):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(net(images), labels)
        loss.backward()
        optimizer.step()
        writer.add_scalar("training loss", loss.item(), i)
    writer.close()
    with torch.no_grad():
        probs = torch.softmax(net(images), dim=1)
    for class_index, name in enumerate(CLASSES):
        writer.add_pr_curve(name, labels == class_index, probs[:, class_index], global_step=0)
    writer.close()


def test_tutorial_close_then_embedding_and_pr_curves(tmp_path):
    ours, theirs = _both(tmp_path, _tutorial)
    assert sorted(ours) == sorted(theirs)
    assert {k[0] for k in ours} == {"scalars", "images", "pr_curves"}
    assert len([k for k in ours if k[0] == "pr_curves"]) == len(CLASSES)
    for key, series in theirs.items():
        if key[0] == "images":  # PNG encoders differ; sizes and counts must not
            assert [(s, v[:2], len(v)) for s, v in ours[key]] == [
                (s, v[:2], len(v)) for s, v in series
            ]
        else:
            assert ours[key] == series, key
    scopes = [
        {n.name.split("/")[1] for n in graph.node if n.name.startswith("Net/")}
        for graph in (tb.accumulator(str(tmp_path / name)).Graph() for name in WRITERS)
    ]
    assert scopes[0] == scopes[1]
    assert {"Conv2d[conv1]", "Conv2d[conv2]", "Linear[fc1]", "Linear[fc3]"} <= scopes[0]
    infos = [
        json.loads(tb.projector(tmp_path / name)("/info", run="."))["embeddings"]
        for name in WRITERS
    ]
    assert [len(i) for i in infos] == [1, 1]
    assert infos[0][0]["tensorShape"] == infos[1][0]["tensorShape"] == [4, 784]
