"""The PyTorch TensorBoard tutorial (examples/torch_tutorial.py) through torch's writer and
through tblog, changing only the import: TensorBoard must see the same thing."""

from __future__ import annotations

import importlib.util
import io

import numpy as np
import pytest
import tb
import torch
from google.protobuf import text_format
from paths import EXAMPLES
from PIL import Image
from tensorboard.plugins.projector import projector_config_pb2

EXAMPLE = str(EXAMPLES / "torch_tutorial.py")
PLUGINS = ("scalars", "images", "pr_curves", "histograms", "text")


@pytest.fixture(scope="module")
def logs(tmp_path_factory, request):
    spec = importlib.util.spec_from_file_location("torch_tutorial", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = tmp_path_factory.mktemp("tutorial")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: threads only contend on a shared machine
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    for writer in ("torch", "tblog"):
        module.main(
            [
                "--writer",
                writer,
                "--logdir",
                str(root / writer),
                "--epochs",
                "1",
                "--log-every",
                "15",
            ]
        )
    return root


def _mux(logdir):
    return tb.multiplexer(str(logdir))


def _series(mux, run, tag):
    return [(e.step, tb.array(e)) for e in mux.Tensors(run, tag)]


def test_same_tags_per_plugin(logs):
    ours, theirs = _mux(logs / "tblog"), _mux(logs / "torch")
    assert sorted(ours.Runs()) == sorted(theirs.Runs())
    for plugin in PLUGINS:
        got = {r: sorted(t) for r, t in ours.PluginRunToTagToContent(plugin).items()}
        want = {r: sorted(t) for r, t in theirs.PluginRunToTagToContent(plugin).items()}
        assert got == want, plugin
    tags = ours.PluginRunToTagToContent("pr_curves")["."]
    assert sorted(tags) == [str(d) for d in range(10)]


def test_training_scalars_equal(logs):
    ours, theirs = _mux(logs / "tblog"), _mux(logs / "torch")
    a = [(s, float(v)) for s, v in _series(ours, ".", "training loss")]
    b = [(s, float(v)) for s, v in _series(theirs, ".", "training loss")]
    assert [s for s, _ in a] == [s for s, _ in b] and len(a) >= 2
    np.testing.assert_array_equal(np.float32([v for _, v in a]), np.float32([v for _, v in b]))


def _png(value):
    return np.asarray(Image.open(io.BytesIO(value[2])).convert("RGB"))


def test_images_and_figures(logs):
    ours, theirs = _mux(logs / "tblog"), _mux(logs / "torch")
    ((sa, grid_a),) = _series(ours, ".", "digit_images")
    ((sb, grid_b),) = _series(theirs, ".", "digit_images")
    assert sa == sb
    np.testing.assert_array_equal(_png(grid_a), _png(grid_b))
    figs_a = _series(ours, ".", "predictions vs. actuals")
    figs_b = _series(theirs, ".", "predictions vs. actuals")
    assert [s for s, _ in figs_a] == [s for s, _ in figs_b]
    for (_, fa), (_, fb) in zip(figs_a, figs_b, strict=True):
        assert list(fa[:2]) == list(fb[:2])  # width, height
        assert _png(fa).shape == _png(fb).shape


def test_pr_curves(logs):
    ours, theirs = _mux(logs / "tblog"), _mux(logs / "torch")
    for k in range(10):
        ((sa, a),) = _series(ours, ".", str(k))
        ((sb, b),) = _series(theirs, ".", str(k))
        assert sa == sb == 0
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_graph_scopes(logs):
    ga = tb.accumulator(str(logs / "tblog")).Graph()
    gb = tb.accumulator(str(logs / "torch")).Graph()

    def scopes(g, skip):
        out = set()
        for n in g.node:
            if n.op in skip or n.name.startswith(("input/", "output/")):
                continue
            parts = n.name.split("/")[:-1]
            out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return out

    assert scopes(ga, {"Parameter", "Buffer"}) == scopes(gb, {"prim::GetAttr"})
    assert "Net/Conv2d[conv1]" in scopes(ga, {"Parameter", "Buffer"})
    ops = sorted(n.op for n in ga.node if n.op not in ("Parameter", "Buffer"))
    assert ops == sorted(n.op for n in gb.node if n.op != "prim::GetAttr")


def _projector(logdir):
    config = projector_config_pb2.ProjectorConfig()
    with open(logdir / "projector_config.pbtxt") as f:
        text_format.Merge(f.read(), config)
    (emb,) = config.embeddings
    tensors = np.loadtxt(logdir / emb.tensor_path, delimiter="\t")
    with open(logdir / emb.metadata_path) as f:
        labels = f.read().split()
    sprite = np.asarray(Image.open(logdir / emb.sprite.image_path))
    return emb, tensors, labels, sprite


def test_embedding(logs):
    ea, ta, la, sa = _projector(logs / "tblog")
    eb, tb_, lb, sb = _projector(logs / "torch")
    assert ea.tensor_name == eb.tensor_name
    # torch leaves tensor_shape empty; tblog fills it in (the projector accepts both).
    assert list(ea.tensor_shape) == list(ta.shape) == list(tb_.shape) == [100, 64]
    np.testing.assert_allclose(ta, tb_, rtol=1e-6)
    assert la == lb and len(la) == 100
    assert list(ea.sprite.single_image_dim) == list(eb.sprite.single_image_dim)
    np.testing.assert_array_equal(sa, sb)
