"""add_onnx_graph: the same GraphDef as torch's writer shows TensorBoard, without needing onnx."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import numpy as np
import pytest
from tb import accumulator

import tblog

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def _model(path) -> None:
    w = helper.make_tensor("W", TensorProto.FLOAT, [4, 3, 3, 3], np.ones(108, np.float32).tolist())
    nodes = [
        helper.make_node(
            "Conv",
            ["x", "W"],
            ["conv_out"],
            name="conv",
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            strides=[1, 1],
        ),
        helper.make_node("Relu", ["conv_out"], ["relu_out"], name="relu"),
        helper.make_node("Flatten", ["relu_out"], ["flat"], name="flatten", axis=1),
        helper.make_node("LeakyRelu", ["flat"], ["y"], name="leaky", alpha=0.25),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])],
        initializer=[w],
    )
    onnx.save(helper.make_model(graph, producer_name="tblog-test"), str(path))


def _graph(run_dir):
    return accumulator(run_dir).Graph()


def test_onnx_graph_matches_torch_writer(tmp_path):
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    model = tmp_path / "tiny.onnx"
    _model(model)
    # torch prints every node name
    with contextlib.redirect_stdout(io.StringIO()), TorchWriter(str(tmp_path / "torch")) as w:
        w.add_onnx_graph(str(model))
    with tblog.SummaryWriter(tmp_path / "tblog") as w:
        w.add_onnx_graph(model)
    theirs, ours = _graph(tmp_path / "torch"), _graph(tmp_path / "tblog")
    assert [n.name for n in ours.node] == ["x", "y", "conv_out", "relu_out", "flat", "y"]
    assert len(ours.node) == len(theirs.node)
    for a, b in zip(ours.node, theirs.node, strict=True):
        assert (a.name, a.op, list(a.input)) == (b.name, b.op, list(b.input))
        assert sorted(a.attr) == sorted(b.attr)
        for key in a.attr:
            assert a.attr[key].SerializeToString() == b.attr[key].SerializeToString(), (a.name, key)
    assert b"alpha = 0.25" in ours.node[-1].attr["parameters"].s


def test_onnx_graph_needs_no_onnx_package(tmp_path):
    model = tmp_path / "tiny.onnx"
    _model(model)
    code = (
        "import sys, tblog\n"
        "sys.modules['onnx'] = None  # any import of onnx now fails\n"
        "with tblog.SummaryWriter(sys.argv[2]) as w: w.add_onnx_graph(sys.argv[1])\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(model), str(tmp_path / "run")], check=True, timeout=120
    )
    assert [n.op for n in _graph(tmp_path / "run").node] == [
        "Variable",
        "Variable",
        "Conv",
        "Relu",
        "Flatten",
        "LeakyRelu",
    ]


def test_bad_onnx_files(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\xff\xff not a model")
    with tblog.SummaryWriter(tmp_path / "run") as w:
        with pytest.raises(ValueError, match="ONNX"):
            w.add_onnx_graph(bad)
        with pytest.raises(FileNotFoundError):
            w.add_onnx_graph(tmp_path / "missing.onnx")
