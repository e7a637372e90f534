"""tblog's FileWriter against TF1's ``tf.compat.v1.summary.FileWriter``: the same graph-mode
loop with ``merge_all()`` and ``sess.run`` through both, read back with TensorBoard's
loaders (same tags, steps and values per plugin; old-style values re-encoded as
TensorBoard reads them), plus Summary/Event protos of every origin."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import tb

tf = pytest.importorskip("tensorflow")

from tblog.summary.file_writer import FileWriter  # noqa: E402

PLUGINS = ("scalars", "histograms", "images", "audio", "text")
STEPS = 4


def tf1_loop(writer_class, logdir, reopen=False):
    """A TF1 training loop as tutorials write it; only ``writer_class`` differs."""
    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        with tf.name_scope("model"):
            w = tf.Variable(np.full((3, 1), 0.5, np.float32), name="w")
            y = tf.matmul(x, w, name="y")
        loss = tf.reduce_mean(tf.square(y), name="loss")
        tf.compat.v1.summary.scalar("loss", loss)
        tf.compat.v1.summary.histogram("weights", w)
        tf.compat.v1.summary.histogram("activations", y)
        img = tf.reshape(tf.sigmoid(x[:2]), [2, 1, 3, 1])
        tf.compat.v1.summary.image("inputs", img, max_outputs=2)
        tf.compat.v1.summary.audio("sound", tf.reshape(tf.tanh(x[:1]), [1, 3]), 8000)
        tf.compat.v1.summary.text("note", tf.constant("step *text*"))
        merged = tf.compat.v1.summary.merge_all()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            writer = writer_class(str(logdir), sess.graph)
            for step in range(STEPS):
                batch = rng.normal(size=(4, 3)).astype(np.float32)
                writer.add_summary(sess.run(merged, {x: batch}), step)
                if reopen and step == 1:
                    writer.close()
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        writer.add_summary(sess.run(merged, {x: batch}), 99)
                    assert any("closed FileWriter" in str(c.message) for c in caught)
                    writer.reopen()
            writer.flush()
            writer.close()
            writer.close()


def _view(logdir):
    mux = tb.multiplexer(str(logdir))
    out = {}
    for plugin in PLUGINS:
        for run, tags in mux.PluginRunToTagToContent(plugin).items():
            for tag in tags:
                out[(plugin, run, tag)] = [
                    (e.step, tb.array(e).tolist()) for e in mux.Tensors(run, tag)
                ]
    return out


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    root = tmp_path_factory.mktemp("tf1")
    tf1_loop(tf.compat.v1.summary.FileWriter, root / "tf")
    tf1_loop(FileWriter, root / "tblog")
    tf1_loop(tf.compat.v1.summary.FileWriter, root / "tf_reopen", reopen=True)
    tf1_loop(FileWriter, root / "tblog_reopen", reopen=True)
    return root


def _same_values(plugin, a, b):
    if plugin in ("scalars", "histograms"):
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-6)
    else:
        assert a == b


def test_tf1_merge_all_loop_reads_the_same(views):
    tf_view, ours = _view(views / "tf"), _view(views / "tblog")
    assert sorted(ours) == sorted(tf_view)
    assert {k[0] for k in ours} == set(PLUGINS)
    for key, series in tf_view.items():
        got = ours[key]
        assert [s for s, _ in got] == [s for s, _ in series] == list(range(STEPS)), key
        for (_, a), (_, b) in zip(got, series, strict=True):
            _same_values(key[0], a, b)


def test_tf1_loop_with_close_and_reopen_keeps_everything(views):
    """TF1's own reopen loses data here (a reopened file in the same second takes the same
    name, and the text tag loses its metadata): ours keeps every step of every tag, and
    what TF's run kept has our values."""
    tf_view, ours = _view(views / "tf_reopen"), _view(views / "tblog_reopen")
    assert sorted(ours) == sorted(_view(views / "tblog"))
    assert set(tf_view) <= set(ours)
    for key, got in ours.items():
        assert [s for s, _ in got] == list(range(STEPS)), key  # step 99 was dropped
        for step, b in tf_view.get(key, []):
            _same_values(key[0], dict(got)[step], b)


def test_tf1_images_audio_keep_their_samples(views):
    ours = _view(views / "tblog")
    tags = sorted(k[2] for k in ours if k[0] == "images")
    assert tags == ["inputs/image/0", "inputs/image/1"]
    (_, data), *_ = ours[("images", ".", "inputs/image/0")]
    assert data[:2] == [b"3", b"1"]  # width, height
    assert data[2].startswith(b"\x89PNG")
    (_, sound), *_ = ours[("audio", ".", "sound/audio/0")]
    assert np.asarray(sound).reshape(-1)[0].startswith(b"RIFF")


def test_tf1_graph_and_written_with_scopes(views):
    names = {n.name for n in tb.accumulator(str(views / "tblog")).Graph().node}
    expected = {n.name for n in tb.accumulator(str(views / "tf")).Graph().node}
    assert names == expected
    assert "model/w" in names


def test_summaries_of_every_origin(tmp_path):
    from tensorboard.compat.proto import summary_pb2 as tb_summary_pb2

    from tblog.core.proto import summary_pb2
    from tblog.core.summaries.scalar import scalar_pb

    tf_summary = tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag="a", simple_value=1.5)])
    tb_summary = tb_summary_pb2.Summary(
        value=[tb_summary_pb2.Summary.Value(tag="b", simple_value=2.5)]
    )
    ours = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="c", simple_value=3.5)])
    fw = FileWriter(tmp_path)
    fw.add_summary(tf_summary, 1)
    fw.add_summary(tb_summary, 2)
    fw.add_summary(ours, 3)
    fw.add_summary(tf_summary.SerializeToString(), 4)
    fw.add_summary(scalar_pb("d", 4.5), 5, walltime=123.0)
    fw.close()
    assert tb.mux_scalars(tmp_path) == {
        (".", "a"): [(1, 1.5), (4, 1.5)],
        (".", "b"): [(2, 2.5)],
        (".", "c"): [(3, 3.5)],
        (".", "d"): [(5, 4.5)],
    }
    assert tb.accumulator(str(tmp_path)).Tensors("d")[0].wall_time == 123.0
    # written re-encoded (DT_FLOAT tensors), not as old-style simple_value
    legacy = tb.legacy_accumulator(str(tmp_path)).Tags()
    assert legacy["scalars"] == []
    assert sorted(legacy["tensors"]) == ["a", "b", "c", "d"]


def test_events_run_metadata_and_meta_graph(tmp_path):
    from tensorboard.compat.proto import event_pb2 as tb_event_pb2

    run_metadata = tf.compat.v1.RunMetadata()
    run_metadata.step_stats.dev_stats.add(device="/cpu:0")
    event = tb_event_pb2.Event(step=7, wall_time=5.0)
    event.summary.value.add(tag="e", simple_value=9.0)
    with tf.Graph().as_default() as g:
        tf.constant(1.0, name="c")
        meta = tf.compat.v1.train.export_meta_graph(graph=g)
    fw = FileWriter(tmp_path)
    fw.add_event(event)
    fw.add_event(event.SerializeToString(), step=8)
    fw.add_run_metadata(run_metadata, "train_step", global_step=3)
    with pytest.raises(ValueError, match="train_step"):
        fw.add_run_metadata(run_metadata, "train_step")
    fw.add_meta_graph(meta)
    fw.close()
    acc = tb.accumulator(str(tmp_path))
    assert [(e.step, e.wall_time) for e in acc.Tensors("e")] == [(7, 5.0), (8, 5.0)]
    assert list(acc.PluginTagToContent("graph_tagged_run_metadata")) == ["train_step"]
    (tagged,) = acc.Tensors("train_step")
    assert tagged.step == 3
    data = tb.array(tagged).reshape(-1)[0]
    assert tf.compat.v1.RunMetadata.FromString(data).step_stats.dev_stats[0].device == "/cpu:0"
    assert acc.Tags()["meta_graph"] is True


def test_bad_input_names_the_argument(tmp_path):
    fw = FileWriter(tmp_path)
    with pytest.raises(TypeError, match="summary must be a Summary"):
        fw.add_summary(123)
    with pytest.raises(ValueError, match="summary is not a serialized Summary"):
        fw.add_summary(b"\xff\xff\xff")
    with pytest.raises(TypeError, match=r"event must be an? Event"):
        fw.add_event({"step": 1})
    with pytest.raises(TypeError, match="session_log"):
        fw.add_session_log("START")
    with pytest.raises(ValueError, match="walltime"):
        fw.add_summary(tf.compat.v1.Summary(), walltime=float("nan"))
    with pytest.raises(TypeError, match="logdir"):
        FileWriter(3)
    with pytest.raises(ValueError, match="max_queue"):
        FileWriter(tmp_path, max_queue=0)
    fw.close()
    assert tb.mux_scalars(tmp_path) == {}


def test_closed_writer_is_a_noop_until_reopened(tmp_path):
    fw = FileWriter(tmp_path, filename_suffix=".v1")
    fw.add_summary(
        tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag="a", simple_value=1)])
    )
    fw.close()
    with pytest.warns(UserWarning, match="closed FileWriter"):
        fw.add_summary(
            tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag="a", simple_value=2)]), 1
        )
    fw.flush()
    assert len(os.listdir(tmp_path)) == 1
    fw.reopen()
    fw.add_summary(
        tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag="a", simple_value=3)]), 2
    )
    fw.close()
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 2 and all(f.endswith(".v1") for f in files)
    assert fw.get_logdir() == str(tmp_path)
    assert tb.mux_scalars(tmp_path) == {(".", "a"): [(0, 1.0), (2, 3.0)]}


def test_session_log_start_purges_later_points(tmp_path):
    """A resumed TF1 job writes ``SessionLog(START)`` at the step it restarts from:
    TensorBoard drops the points at or after it (our runs start with a START at 0, so the
    Python loader, which ignores a run's first START, honours this one too)."""
    fw = FileWriter(tmp_path)
    for step in range(4):
        fw.add_summary(_simple("loss", float(step)), step)
    fw.add_session_log(tf.compat.v1.SessionLog(status=tf.compat.v1.SessionLog.START), 2)
    fw.add_summary(_simple("loss", 20.0), 2)
    fw.close()
    assert tb.mux_scalars(tmp_path) == {(".", "loss"): [(0, 0.0), (1, 1.0), (2, 20.0)]}


def _simple(tag, value):
    return tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag=tag, simple_value=value)])
