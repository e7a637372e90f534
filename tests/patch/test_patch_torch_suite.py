"""Key checks of torch's own ``test/test_tensorboard.py`` (in our words), run through
``torch.utils.tensorboard.SummaryWriter`` while tblog's patch is applied, each read back
with TensorBoard's loaders and, where torch writes the same thing, compared with torch's
own writer (the patch undone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tb

import tblog

torch = pytest.importorskip("torch")
import torch.utils.tensorboard as tut  # noqa: E402

_ORIG = {"writer": tut.SummaryWriter}  # a dict: the patch rebinds module attributes only
PLUGINS = ("scalars", "histograms", "images", "audio", "text", "pr_curves", "mesh")
TP, FP = [75, 64, 21, 5, 0], [150, 105, 18, 0, 0]
TN, FN = [0, 45, 132, 150, 150], [0, 11, 54, 70, 75]
PRECISION, RECALL = [0.3333333, 0.3786982, 0.5384616, 1.0, 0.0], [1.0, 0.8533334, 0.28, 0.0667, 0.0]


@pytest.fixture
def patched_writer():
    """torch's SummaryWriter name, as client code spells it, with the patch applied."""
    with tblog.patched():
        cls = tut.SummaryWriter
        assert cls is not _ORIG["writer"] and issubclass(cls, tblog.SummaryWriter)
        yield cls


def _every_kind(writer_cls, logdir):
    """torch's ``test_writer``: one call of each ``add_*`` at step 0, in a ``with``."""
    rng = np.random.default_rng(0)
    with writer_cls(logdir) as w:
        w.add_scalar("data/scalar_systemtime", 0.1, 0)
        w.add_scalar("data/scalar_customtime", 0.2, 0, walltime=0)
        w.add_scalar("data/new_style", 0.2, 0, new_style=True)
        w.add_scalars("data/scalar_group", {"xsinx": 0.0, "xcosx": 0.0, "arctanx": 0.0}, 0)
        w.add_images("Image", np.zeros((4, 3, 16, 16)), 0)
        w.add_image_with_boxes("imagebox", np.zeros((3, 32, 32)), np.array([[4, 4, 20, 20]]), 0)
        w.add_audio("myAudio", np.zeros(4410), 0)
        w.add_text("Text", "text logged at step:0", 0)
        w.add_histogram("hist", rng.random((50, 50)), 0)
        w.add_pr_curve("xoxo", rng.integers(0, 2, 100), rng.random(100), 0)
        w.add_pr_curve_raw("prcurve with raw data", TP, FP, TN, FN, PRECISION, RECALL, 0)
        vertices = np.array([[[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]], dtype=float)
        colors = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]]])
        faces = np.array([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]])
        w.add_mesh("my_mesh", vertices=vertices, colors=colors, faces=faces)
    return w


def _view(logdir):
    """``{(plugin, run, tag): steps}`` and the scalars, as TensorBoard shows them."""
    mux = tb.multiplexer(str(logdir))
    steps = {
        (plugin, run, tag): [e.step for e in mux.Tensors(run, tag)]
        for plugin in PLUGINS
        for run, tags in mux.PluginRunToTagToContent(plugin).items()
        for tag in tags
    }
    return steps, tb.mux_scalars(str(logdir))


def test_every_kind_like_torchs_test_writer(tmp_path, patched_writer):
    w = _every_kind(patched_writer, str(tmp_path / "ours"))
    assert w.file_writer is None  # closed by the with block
    tblog.unpatch()
    _every_kind(_ORIG["writer"], str(tmp_path / "torch"))
    ours, theirs = _view(tmp_path / "ours"), _view(tmp_path / "torch")
    assert theirs[0] and ours == theirs


def test_ctx_close_and_pathlib(tmp_path, patched_writer):
    """torch's ``test_summary_writer_ctx``, ``..._close`` (no file-descriptor leak) and
    ``test_pathlib``."""
    with patched_writer(str(tmp_path / "ctx")) as w:
        w.add_scalar("test", 1)
    assert w.file_writer is None
    for i in range(300):  # far more than a low open-files limit would allow if leaked
        patched_writer(str(tmp_path / "many" / str(i % 3))).close()
    with patched_writer(Path(tmp_path / "path")) as w:
        w.add_scalar("test", 1)
    assert tb.scalar_series(str(tmp_path / "path"), "test") == [(0, 1.0)]
    assert isinstance(w, _ORIG["writer"])


def test_embedding_twice_at_one_step(tmp_path, patched_writer):
    """torch's ``test_embedding``: two embeddings at step 2, plain and with a metadata
    header; TensorBoard's projector lists both tensors."""
    features = torch.tensor([[1.0, 2.0, 3.0], [5.0, 4.0, 1.0], [3.0, 7.0, 7.0]])
    labels = torch.tensor([33.0, 44.0, 55.0])
    images = torch.zeros(3, 3, 5, 5, dtype=torch.float64)
    with patched_writer(str(tmp_path)) as w:
        w.add_embedding(features, metadata=labels, label_img=images, global_step=2)
        w.add_embedding(
            features,
            metadata=list(zip(labels.tolist(), ["test", "train", "train"], strict=True)),
            label_img=images,
            metadata_header=["digit", "dataset"],
            global_step=2,
        )
    get = tb.projector(str(tmp_path))
    import json

    config = json.loads(get("/info", run="."))
    assert len(config["embeddings"]) == 2


def test_graphs_strict_and_dict_outputs(tmp_path, patched_writer):
    """torch's graph checks: a nested Sequential traces; a dict output is written without
    ``use_strict_trace``. With it torch raises ``RuntimeError`` (strict ``torch.jit.trace``);
    tblog falls back to ``torch.export`` and writes the graph (a Known difference)."""

    class Nested(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.outer = torch.nn.Sequential(
                torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 3)),
                torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 3)),
            )

        def forward(self, x):
            return self.outer(x)

    class DictOut(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l = torch.nn.Linear(3, 5)

        def forward(self, x):
            return {"out": self.l(x)}

    x = torch.zeros(2, 3)
    with patched_writer(str(tmp_path / "nested")) as w:
        w.add_graph(Nested(), x)
    with pytest.raises(RuntimeError), _ORIG["writer"](str(tmp_path / "torch")) as w:
        w.add_graph(DictOut(), x, use_strict_trace=True)
    with patched_writer(str(tmp_path / "strict")) as w:
        w.add_graph(DictOut(), x, use_strict_trace=True)
    with patched_writer(str(tmp_path / "dict")) as w:
        w.add_graph(DictOut(), x, use_strict_trace=False)
    for name in ("nested", "dict", "strict"):
        graph = tb.accumulator(str(tmp_path / name)).Graph()
        assert any(n.op.startswith("aten::linear") for n in graph.node), name
