"""TensorFlow graphs through tblog (SummaryWriter.add_graph, FileWriter) and through
TensorFlow's own writers, read back with TensorBoard's accumulator: same nodes, same ops,
name scopes kept."""

from __future__ import annotations

import numpy as np
import pytest
import tb

tf = pytest.importorskip("tensorflow")

import tblog  # noqa: E402
from tblog.summary.file_writer import FileWriter  # noqa: E402


def _graph(logdir):
    return tb.accumulator(str(logdir)).Graph()


def _nodes(graph):
    return {(n.name, n.op) for n in graph.node}


def _scoped_graph():
    """A TF1 graph with nested name scopes (what the Graphs dashboard collapses)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        with tf.name_scope("layer1"):
            w = tf.Variable(np.ones((4, 3), np.float32), name="w")
            h = tf.nn.relu(tf.matmul(x, w), name="act")
        with tf.name_scope("head"), tf.name_scope("logits"):
            tf.reduce_sum(h, axis=1, name="out")
    return g


def _tf_file_writer(logdir, graph):
    with graph.as_default():
        writer = tf.compat.v1.summary.FileWriter(str(logdir), graph)
        writer.close()


def test_tf_graph_like_tensorflows_file_writer(tmp_path):
    g = _scoped_graph()
    _tf_file_writer(tmp_path / "tf", g)
    with tblog.SummaryWriter(tmp_path / "sw") as w:
        w.add_graph(g)
    fw = FileWriter(tmp_path / "fw", g)
    fw.close()
    expected = _graph(tmp_path / "tf")
    assert {"layer1/w", "layer1/act", "head/logits/out"} <= {n.name for n in expected.node}
    for run in ("sw", "fw"):
        got = _graph(tmp_path / run)
        assert _nodes(got) == _nodes(expected), run
        for a, b in zip(
            sorted(got.node, key=lambda n: n.name),
            sorted(expected.node, key=lambda n: n.name),
            strict=True,
        ):
            assert list(a.input) == list(b.input)
            assert sorted(a.attr) == sorted(b.attr)  # _output_shapes: shapes on the edges
        assert any("_output_shapes" in n.attr for n in got.node)


def test_session_graph_and_graph_defs_of_every_origin(tmp_path):
    from tensorboard.compat.proto import graph_pb2 as tb_graph_pb2

    g = _scoped_graph()
    expected = _nodes(g.as_graph_def())
    tf_def = g.as_graph_def()
    tb_def = tb_graph_pb2.GraphDef.FromString(tf_def.SerializeToString())
    with tf.compat.v1.Session(graph=g) as sess:
        cases = {"session": sess, "sess_graph": sess.graph, "tf_def": tf_def, "tb_def": tb_def}
        for name, value in cases.items():
            with tblog.SummaryWriter(tmp_path / name) as w:
                w.add_graph(value)
            assert _nodes(_graph(tmp_path / name)) == expected, name
    fw = FileWriter(tmp_path / "bytes")
    fw.add_graph(tf_def.SerializeToString(), global_step=3)
    fw.close()
    assert _nodes(_graph(tmp_path / "bytes")) == expected


def _function():
    @tf.function
    def model(x, y):
        with tf.name_scope("encoder"):
            h = tf.nn.relu(tf.matmul(x, tf.ones((3, 2))), name="hidden")
        with tf.name_scope("decoder"):
            return tf.add(tf.reduce_sum(h), y, name="out")

    return model


def test_tf_function_with_inputs_like_tf_summary_graph(tmp_path):
    model = _function()
    x, y = tf.ones((2, 3)), tf.constant(1.0)
    writer = tf.summary.create_file_writer(str(tmp_path / "tf"))
    with writer.as_default():
        tf.summary.graph(model.get_concrete_function(x, y).graph)
    writer.close()
    expected = _graph(tmp_path / "tf")
    names = {n.name for n in expected.node}
    assert {"encoder/hidden", "decoder/out"} <= names
    with tblog.SummaryWriter(tmp_path / "fn") as w:
        w.add_graph(model, (x, y))
    with tblog.SummaryWriter(tmp_path / "kw") as w:
        w.add_graph(model, {"x": x, "y": y})
    with tblog.SummaryWriter(tmp_path / "concrete") as w:
        w.add_graph(model.get_concrete_function(x, y))
    for run in ("fn", "kw", "concrete"):
        assert _nodes(_graph(tmp_path / run)) == _nodes(expected), run


def test_tf_function_with_input_signature_needs_no_inputs(tmp_path):
    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def model(x):
        with tf.name_scope("block"):
            return tf.square(x, name="sq")

    with tblog.SummaryWriter(tmp_path) as w:
        w.add_graph(model)
    assert "block/sq" in {n.name for n in _graph(tmp_path).node}


def test_untraceable_or_foreign_values_raise_type_error_naming_the_argument(tmp_path):
    model = _function()
    with tblog.SummaryWriter(tmp_path) as w:
        with pytest.raises(TypeError, match=r"model.*tf\.Graph.*EagerTensor"):
            w.add_graph(tf.constant(1.0))
        with pytest.raises(TypeError, match=r"model.*input_to_model"):
            w.add_graph(model)  # no example inputs, no input_signature
        with pytest.raises(TypeError, match=r"model must be .*GraphDef.*got object"):
            w.add_graph(object())
    fw = FileWriter(tmp_path / "fw")
    with pytest.raises(TypeError, match=r"graph must be .*tf\.Graph.*got int"):
        fw.add_graph(3)
    with pytest.raises(TypeError, match="graph must be"):
        fw.add_graph(None)
    fw.close()
    for run in ("", "fw"):  # nothing half-written
        assert tb.accumulator(str(tmp_path / run)).Tags()["graph"] is False


def test_graph_in_file_writer_constructor_is_written_once(tmp_path):
    g = _scoped_graph()
    fw = FileWriter(str(tmp_path), graph=g)
    fw.close()
    acc = tb.accumulator(str(tmp_path))
    assert acc.Tags()["graph"] is True
    assert _nodes(acc.Graph()) == _nodes(g.as_graph_def())
