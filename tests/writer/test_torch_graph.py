"""add_graph for torch models, read back with TensorBoard's accumulator and compared with
what torch.utils.tensorboard's add_graph writes for the same model."""

from __future__ import annotations

import pytest
import tb
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter as TorchWriter

import tblog


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.seq = nn.Sequential(nn.Linear(144, 10), nn.ReLU())
        self.bn = nn.BatchNorm1d(10)

    def forward(self, x):
        return self.bn(self.seq(self.conv1(x).flatten(1)))


class DictNet(Net):
    """Takes a dict and a keyword argument, returns a dict (torch.jit.trace cannot)."""

    def forward(self, x, scale=1.0):
        y = self.seq(self.conv1(x["img"]).flatten(1)) * scale
        return {"out": self.bn(y), "aux": y}


class TupleNet(Net):
    def forward(self, a, b):
        y = self.seq(self.conv1(a).flatten(1))
        return y + b, y


class EagerOnly(nn.Module):
    def forward(self, x):
        if torch.jit.is_tracing() or type(x) is not torch.Tensor:
            raise RuntimeError("this module only runs eagerly")
        return x


class Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 4), EagerOnly())

    def forward(self, x):
        return self.body(x)


def _graph(logdir):
    return tb.accumulator(str(logdir)).Graph()


def _shapes(node):
    return [[d.size for d in s.dim] for s in node.attr["_output_shapes"].list.shape]


def _scopes(graph, skip_ops):
    out = set()
    for node in graph.node:
        if node.op in skip_ops or node.name.startswith(("input/", "output/")):
            continue
        parts = node.name.split("/")[:-1]
        out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return out


def _check_edges(graph):
    names = {n.name for n in graph.node}
    for node in graph.node:
        for inp in node.input:
            assert inp.split(":")[0].lstrip("^") in names, (node.name, inp)


def test_graph_matches_torch_add_graph(tmp_path):
    torch.manual_seed(0)
    model, x = Net(), torch.randn(2, 1, 8, 8)
    model.train()
    with tblog.SummaryWriter(tmp_path / "tblog") as w:
        w.add_graph(model, x)
    ref = TorchWriter(str(tmp_path / "torch"))
    ref.add_graph(model, x)
    ref.close()
    assert model.training  # restored after tracing in eval mode
    ours, theirs = _graph(tmp_path / "tblog"), _graph(tmp_path / "torch")
    _check_edges(ours)
    # Same module scopes as torch (torch nests GetAttr nodes under pseudo-scopes).
    assert _scopes(ours, {"Parameter", "Buffer"}) == _scopes(theirs, {"prim::GetAttr"})

    # Same ops, same output shapes per op kind.
    def ops(g, skip):
        return sorted((n.op, str(_shapes(n))) for n in g.node if n.op not in skip)

    assert ops(ours, {"Parameter", "Buffer"}) == ops(theirs, {"prim::GetAttr"})
    by_name = {n.name: n for n in ours.node}
    linear = next(n for n in ours.node if n.op == "aten::linear")
    assert linear.name.startswith("Net/Sequential[seq]/Linear[0]/")
    weight = by_name[linear.input[1]]
    assert weight.op == "Parameter"
    assert weight.name == "Net/Sequential[seq]/Linear[0]/weight"
    assert _shapes(weight) == [list(model.seq[0].weight.shape)]
    params = {n.name for n in ours.node if n.op in ("Parameter", "Buffer")}
    expected = {
        "Net/"
        + "/".join(
            f"{type(model.get_submodule('.'.join(k.split('.')[: i + 1]))).__name__}[{p}]"
            for i, p in enumerate(k.split(".")[:-1])
        )
        + "/"
        + k.split(".")[-1]
        for k, _ in list(model.named_parameters()) + list(model.named_buffers())
    }
    assert params == expected
    (out,) = [n for n in ours.node if n.name.startswith("output/")]
    assert _shapes(out) == [[2, 10]]
    assert by_name[out.input[0]].op == "aten::batch_norm"
    assert _shapes(by_name["input/x"]) == [[2, 1, 8, 8]]


def test_dict_inputs_kwargs_and_dict_outputs(tmp_path):
    model = DictNet()
    with tblog.SummaryWriter(tmp_path) as w:
        w.add_graph(model, {"x": {"img": torch.randn(3, 1, 8, 8)}, "scale": 2.0})
    g = _graph(tmp_path)
    _check_edges(g)
    by_name = {n.name: n for n in g.node}
    scopes = _scopes(g, {"Parameter", "Buffer"})
    assert {
        "DictNet/Conv2d[conv1]",
        "DictNet/Sequential[seq]/Linear[0]",
        "DictNet/BatchNorm1d[bn]",
    } <= scopes
    outs = sorted(n.name for n in g.node if n.name.startswith("output/"))
    assert len(outs) == 2
    assert all(_shapes(by_name[o]) == [[3, 10]] for o in outs)
    conv = next(n for n in g.node if "conv" in n.op)
    assert conv.name.startswith("DictNet/Conv2d[conv1]/")
    assert _shapes(conv) == [[3, 4, 6, 6]]
    assert "DictNet/Conv2d[conv1]/weight" in conv.input


def test_tuple_inputs_and_outputs(tmp_path):
    model = TupleNet()
    with tblog.SummaryWriter(tmp_path) as w:
        w.add_graph(model, (torch.randn(2, 1, 8, 8), torch.randn(2, 10)))
    g = _graph(tmp_path)
    _check_edges(g)
    ins = sorted(n.name for n in g.node if n.name.startswith("input/"))
    assert ins == ["input/a", "input/b"]
    assert {"TupleNet/Conv2d[conv1]", "TupleNet/Sequential[seq]/ReLU[1]"} <= _scopes(
        g, {"Parameter", "Buffer"}
    )


def test_untraceable_model_names_the_module(tmp_path):
    w = tblog.SummaryWriter(tmp_path)
    with pytest.raises(RuntimeError, match=r"Untraceable.*body\.1 \(EagerOnly\)"):
        w.add_graph(Untraceable(), torch.randn(2, 4))
    with pytest.raises(TypeError, match="model"):
        from tblog.integrations.torch import graph_def

        graph_def(lambda x: x, torch.randn(1))
    w.close()
