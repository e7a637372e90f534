"""TBCallback on the tensorflow, torch and jax backends, read back through TensorBoard.

The workloads (``support/keras_workloads.py``) run in subprocesses with ``KERAS_BACKEND`` set
(torch and jax with TensorFlow made unimportable); this process reads their logs with
TensorBoard's loaders and checks them against Keras' own record of the fit (``History``,
``evaluate``, the model's weights), against ``keras.callbacks.TensorBoard`` on the
tensorflow backend and against tblog's torch hooks for the shared tag scheme.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tb
from keras_backends import BACKENDS
from keras_workloads import BATCH, EPOCHS, TRAIN, UPDATE_FREQ
from paths import SUPPORT

pytestmark = pytest.mark.slow  # Keras fits on every backend, in subprocesses

WORKLOADS = SUPPORT / "keras_workloads.py"


# ---------------------------------------------------------------------- test side


def _start(backend: str, workload: str, out: Path) -> subprocess.Popen[bytes]:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, str(WORKLOADS), workload, str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Start every workload at once; each test waits for the one it reads."""
    root = tmp_path_factory.mktemp("keras")
    jobs = {
        b: (root / b, _start(b, "tensorflow" if b == "tensorflow" else "fit", root / b))
        for b in BACKENDS
    }
    jobs["mirrored"] = (root / "mirrored", _start("tensorflow", "mirrored", root / "mirrored"))
    done: dict[str, Path] = {}
    for name, (out, proc) in jobs.items():
        output, _ = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise AssertionError(
                f"workload {name} failed:\n{output.decode(errors='replace')[-4000:]}"
            )
        done[name] = out
    return done


def _record(out: Path) -> dict[str, Any]:
    return json.loads((out / "record.json").read_text())


def _by_step(points: list[tuple[int, float]]) -> dict[int, float]:
    return dict(points)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scalars_match_keras_history(runs: dict[str, Path], backend: str) -> None:
    out = runs[backend]
    record = _record(out)
    assert record["backend"] == backend
    if backend != "tensorflow":
        assert not record["tensorflow_loaded"]
    scalars = tb.mux_scalars(str(out / "logs"))
    history = record["history"]
    for name, values in history.items():
        run, metric = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
        got = scalars[(run, f"epoch_{metric}")]
        assert [s for s, _ in got] == list(range(EPOCHS))
        np.testing.assert_allclose([v for _, v in got], values, rtol=1e-5)
    lr = scalars[("train", "epoch_learning_rate")]
    np.testing.assert_allclose([v for _, v in lr], [0.05] * EPOCHS, rtol=1e-6)
    sps = scalars[("train", "epoch_steps_per_second")]
    assert [s for s, _ in sps] == list(range(EPOCHS)) and all(v > 0 for _, v in sps)
    # batch_<metric> every UPDATE_FREQ global batches (counted from 1 across epochs).
    batches = TRAIN // BATCH * EPOCHS
    expected_steps = [s for s in range(1, batches + 1) if s % UPDATE_FREQ == 0]
    assert [s for s, _ in scalars[("train", "batch_loss")]] == expected_steps
    assert [s for s, _ in scalars[("train", "batch_accuracy")]] == expected_steps
    assert [s for s, _ in scalars[("train", "batch_steps_per_second")]] == expected_steps
    # evaluation_<metric>_vs_iterations: each validation pass and model.evaluate().
    iterations = record["iterations"]
    per_epoch = iterations // EPOCHS
    evals = scalars[("validation", "evaluation_loss_vs_iterations")]
    assert [s for s, _ in evals] == [per_epoch * (e + 1) for e in range(EPOCHS)] + [iterations]
    np.testing.assert_allclose(evals[-1][1], record["evaluate"]["loss"], rtol=1e-5)
    np.testing.assert_allclose([v for _, v in evals[:-1]], history["val_loss"], rtol=1e-5)
    acc = scalars[("validation", "evaluation_accuracy_vs_iterations")]
    np.testing.assert_allclose(acc[-1][1], record["evaluate"]["accuracy"], rtol=1e-5)
    # The non-chief worker wrote nothing.
    assert not (out / "worker1").exists()


def _reference_buckets(values: np.ndarray, k: int = 30) -> tuple[np.ndarray, np.ndarray]:
    x = values.astype(np.float64).ravel()
    lo, hi = x.min(), x.max()
    idx = np.minimum(np.floor((x - lo) / ((hi - lo) / k)).astype(int), k - 1)
    edges = np.linspace(lo, hi, k + 1)
    return edges, np.bincount(idx, minlength=k).astype(np.float64)


@pytest.mark.parametrize("backend", BACKENDS)
def test_weight_histograms_and_images(runs: dict[str, Path], backend: str) -> None:
    out = runs[backend]
    acc = tb.accumulator(str(out / "logs" / "train"))
    weights = dict(np.load(out / "weights.npz"))
    expected = {
        f"parameters/{layer}/{'weight' if leaf == 'kernel' else leaf}": weights[f"{layer}__{leaf}"]
        for layer in ("fc1", "skip", "fc2")
        for leaf in ("kernel", "bias")
    }
    assert set(acc.PluginTagToContent("histograms")) == set(expected)
    for tag, values in expected.items():
        events = acc.Tensors(tag)
        assert [e.step for e in events] == list(range(EPOCHS))
        hist = tb.array(events[-1])  # the last epoch's histogram shows the final weights
        assert hist.shape == (30, 3)
        edges, counts = _reference_buckets(values)
        np.testing.assert_allclose(hist[:, 0], edges[:-1], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(hist[-1, 1], values.max(), rtol=1e-6)
        assert hist[:, 2].sum() == values.size
        assert np.abs(hist[:, 2] - counts).sum() <= 2  # float32 vs float64 at bucket edges
        norm = tb.scalar_series(
            str(out / "logs" / "train"), tag.replace("parameters/", "parameters_norm/")
        )
        assert [s for s, _ in norm] == list(range(EPOCHS))
        np.testing.assert_allclose(norm[-1][1], np.linalg.norm(values), rtol=1e-5)
    images = set(acc.PluginTagToContent("images"))
    assert images == {t.replace("parameters/", "parameters_image/") for t in expected}
    kernel = tb.array(acc.Tensors("parameters_image/fc1/weight")[-1])
    # fc1's kernel is 64x32: shown as a 32 (h) x 64 (w) image, as Keras lays it out.
    assert (int(kernel[0]), int(kernel[1])) == (64, 32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_graph_has_layers_connections_and_shapes(runs: dict[str, Path], backend: str) -> None:
    acc = tb.accumulator(str(runs[backend] / "logs" / "train"))
    graph = acc.Graph()
    nodes = {n.name: n for n in graph.node}
    assert set(nodes) == {"pixels", "fc1", "drop", "skip", "merge", "fc2"}
    assert nodes["fc1"].op == "Dense" and nodes["merge"].op == "Add"
    assert list(nodes["fc1"].input) == ["pixels"]
    assert sorted(nodes["merge"].input) == ["drop", "skip"]
    assert list(nodes["fc2"].input) == ["merge"]
    shape = nodes["fc2"].attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [-1, 10]
    assert "keras" in acc.PluginTagToContent("graph_keras_model")


NON_TF = [b for b in BACKENDS if b != "tensorflow"]


@pytest.mark.parametrize("backend", NON_TF)
def test_subclassed_model_graph_is_traced(runs: dict[str, Path], backend: str) -> None:
    graph = tb.accumulator(str(runs[backend] / "sub" / "train")).Graph()
    nodes = {n.name: n for n in graph.node}
    assert set(nodes) == {
        "enc",
        "blocks.0/fc",
        "blocks.0/norm",
        "blocks.1/fc",
        "blocks.1/norm",
        "head",
    }
    assert nodes["blocks.0/norm"].op == "LayerNormalization"
    assert list(nodes["blocks.0/fc"].input) == ["enc"]
    assert list(nodes["blocks.0/norm"].input) == ["blocks.0/fc"]
    # The residual `+ x` is no layer: block 0's output counts as its last layer's.
    assert list(nodes["blocks.1/fc"].input) == ["blocks.0/norm"]
    assert list(nodes["head"].input) == ["blocks.1/norm"]
    shape = nodes["head"].attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [-1, 2]


@pytest.mark.parametrize("backend", NON_TF)
def test_same_tags_as_the_torch_hooks(runs: dict[str, Path], backend: str, tmp_path: Path) -> None:
    """The same architecture in PyTorch, watched by tblog's torch hooks, shows TensorBoard
    the same parameter histogram and norm tags as the Keras model under TBCallback."""
    import torch

    import tblog
    from tblog.integrations.torch import unwatch, watch

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(3, 3)
            self.norm = torch.nn.LayerNorm(3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.norm(self.fc(x)) + x

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = torch.nn.Linear(4, 3)
            self.blocks = torch.nn.ModuleList([Block(), Block()])
            self.head = torch.nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.enc(x)
            for block in self.blocks:
                x = block(x)
            return self.head(x)

    net = Net().train()
    with tblog.SummaryWriter(tmp_path / "torch") as writer:
        watch(net, writer, log="parameters", log_freq=1)
        net(torch.ones(2, 4))
        unwatch(net)
    torch_acc = tb.accumulator(str(tmp_path / "torch"))
    keras_acc = tb.accumulator(str(runs[backend] / "sub" / "train"))
    torch_hist = set(torch_acc.PluginTagToContent("histograms"))
    assert torch_hist == {
        f"parameters/{n.rpartition('.')[0]}/{n.rpartition('.')[2]}"
        for n, _ in net.named_parameters()
    }
    assert set(keras_acc.PluginTagToContent("histograms")) == torch_hist
    torch_norms = {
        t for t in torch_acc.PluginTagToContent("scalars") if t.startswith("parameters_norm/")
    }
    keras_norms = {
        t for t in keras_acc.PluginTagToContent("scalars") if t.startswith("parameters_norm/")
    }
    assert torch_norms and keras_norms == torch_norms


def test_differential_against_keras_tensorboard(runs: dict[str, Path]) -> None:
    """Same fit, both callbacks: same runs, scalar tags and values. Keras 3.15 drops the
    epoch summaries of epochs whose last global batch is not a multiple of update_freq;
    we keep every epoch, so TensorBoard shows a superset of Keras' points, equal where
    both have one."""
    out = runs["tensorflow"]
    theirs = tb.mux_scalars(str(out / "keras"))
    ours = tb.mux_scalars(str(out / "ours_keras_names"))
    assert {r for r, _ in theirs} == {r for r, _ in ours} == {"train", "validation"}
    assert set(ours) == set(theirs)
    for key, points in theirs.items():
        mine = dict(ours[key])
        assert set(dict(points)) <= set(mine), key
        if key[1].startswith("epoch_") and key[1] != "epoch_steps_per_second":
            assert sorted(mine) == list(range(EPOCHS)), key
        if "steps_per_second" not in key[1]:
            np.testing.assert_allclose(
                [mine[s] for s, _ in points], [v for _, v in points], rtol=1e-6, err_msg=str(key)
            )
    batch_steps = [s for s, _ in theirs[("train", "batch_loss")]]
    assert [s for s, _ in ours[("train", "batch_loss")]] == batch_steps
    mux_theirs = tb.multiplexer(str(out / "keras"))
    mux_ours = tb.multiplexer(str(out / "ours_keras_names"))
    h_theirs = mux_theirs.PluginRunToTagToContent("histograms")["train"]
    h_ours = mux_ours.PluginRunToTagToContent("histograms")["train"]
    assert set(h_theirs) == set(h_ours)
    images_theirs = mux_theirs.PluginRunToTagToContent("images")["train"]
    assert set(mux_ours.PluginRunToTagToContent("images")["train"]) == set(images_theirs)
    for tag in images_theirs:  # same image sizes ([width, height, png...] string tensors)
        theirs_wh = tb.array(mux_theirs.Tensors("train", tag)[-1])[:2]
        assert list(tb.array(mux_ours.Tensors("train", tag)[-1])[:2]) == list(theirs_wh), tag
    for tag in h_ours:
        mine = {e.step: tb.array(e) for e in mux_ours.Tensors("train", tag)}
        assert sorted(mine) == list(range(EPOCHS))
        for event in mux_theirs.Tensors("train", tag):
            x, y = mine[event.step], tb.array(event)
            np.testing.assert_allclose(x[:, :2], y[:, :2], rtol=1e-5, atol=1e-6)
            assert x[:, 2].sum() == y[:, 2].sum() and np.abs(x[:, 2] - y[:, 2]).sum() <= 2


def test_profile_batch_writes_a_trace(runs: dict[str, Path]) -> None:
    """profile_batch=(2, 3) on the tensorflow backend: the backend profiler's trace lands
    in the train run, where TensorBoard's profile plugin looks for it."""
    traces = list(
        (runs["tensorflow"] / "profile" / "train" / "plugins" / "profile").glob("*/*.xplane.pb")
    )
    assert len(traces) == 1 and traces[0].stat().st_size > 0


def test_mirrored_strategy_writes_one_coherent_run(runs: dict[str, Path]) -> None:
    out = runs["mirrored"]
    record = _record(out)
    assert record["replicas"] == 2
    logs = out / "logs"
    assert sorted(p.name for p in logs.iterdir()) == ["train", "validation"]
    for run in ("train", "validation"):
        assert len(list((logs / run).glob("events.out.tfevents.*"))) == 1
    scalars = tb.mux_scalars(str(logs))
    for name, values in record["history"].items():
        run, metric = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
        got = scalars[(run, f"epoch_{metric}")]
        assert [s for s, _ in got] == list(range(EPOCHS))
        np.testing.assert_allclose([v for _, v in got], values, rtol=1e-5)
    acc = tb.accumulator(str(logs / "train"))
    assert "parameters/fc1/weight" in acc.PluginTagToContent("histograms")
    assert {n.name for n in acc.Graph().node} >= {"fc1", "fc2"}


def test_embeddings_for_the_projector(runs: dict[str, Path]) -> None:
    out = runs["torch"]
    train = out / "emb" / "train"
    config = (train / "projector_config.pbtxt").read_text()
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_config_pb2

    parsed = text_format.Parse(config, projector_config_pb2.ProjectorConfig())
    assert len(parsed.embeddings) == EPOCHS
    last = parsed.embeddings[-1]
    table = np.loadtxt(train / last.tensor_path, delimiter="\t", ndmin=2)
    np.testing.assert_allclose(table, np.load(out / "words.npy"), rtol=1e-5, atol=1e-6)
    labels = (train / last.metadata_path).read_text().splitlines()
    assert labels == [f"token{i}" for i in range(12)]


def test_example_runs_with_tensorflow_blocked(runs: dict[str, Path]) -> None:
    logs = runs["torch"] / "example"
    scalars = tb.mux_scalars(str(logs))
    assert [s for s, _ in scalars[("train", "epoch_accuracy")]] == [0]
    assert [s for s, _ in scalars[("validation", "epoch_loss")]] == [0]
    tags = set(tb.plugin_tags(str(logs / "train"), "histograms"))
    assert tags == {f"parameters/{n}/{p}" for n in ("fc1", "fc2") for p in ("weight", "bias")}


@pytest.mark.parametrize("backend", NON_TF)
def test_nonfinite_weights_are_skipped(runs: dict[str, Path], backend: str) -> None:
    run = str(runs[backend] / "nonfinite" / "train")
    assert tb.plugin_tags(run, "histograms") == ["parameters/d/bias"]
    assert tb.scalar_series(run, "epoch_loss") == [(0, 1.5)]
    assert [s for s, _ in tb.scalar_series(run, "parameters_norm/d/bias")] == [0]
    assert "parameters_norm/d/weight" not in tb.plugin_tags(run, "scalars")


def test_import_does_not_import_keras() -> None:
    code = (
        "import sys, tblog.integrations.keras as k; "
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_invalid_arguments_raise() -> None:
    code = """
import tblog, pytest
for kwargs, err in [({"update_freq": 0}, ValueError), ({"update_freq": "often"}, ValueError),
                    ({"histogram_freq": -1}, ValueError), ({"histogram_freq": 1.5}, TypeError),
                    ({"profile_batch": (5, 2)}, ValueError), ({"embeddings_metadata": 3}, TypeError),
                    ({"embeddings_freq": "1"}, TypeError),
                    ({"profile_batch": 2}, ValueError)]:  # no profiler on the torch backend
    with pytest.raises(err):
        tblog.TBCallback("x", **kwargs)
"""
    env = dict(os.environ, KERAS_BACKEND="torch")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_tf_config_chief_rule() -> None:
    from tblog.integrations.keras._distribute import tf_config_is_chief

    def cfg(cluster: dict[str, Any], kind: str, index: int) -> str:
        return json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})

    workers = {"worker": ["a:1", "b:1"]}
    with_chief = {"chief": ["c:1"], "worker": ["a:1", "b:1"]}
    assert tf_config_is_chief(None)
    assert tf_config_is_chief(cfg(workers, "worker", 0))
    assert not tf_config_is_chief(cfg(workers, "worker", 1))
    assert tf_config_is_chief(cfg(with_chief, "chief", 0))
    assert not tf_config_is_chief(cfg(with_chief, "worker", 0))
    assert not tf_config_is_chief(cfg(with_chief, "evaluator", 0))
    with pytest.raises(ValueError, match="TF_CONFIG"):
        tf_config_is_chief("{not json")
