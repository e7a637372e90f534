"""tblog.summary against tf.summary: the same TensorFlow code through both, read back with
TensorBoard's loaders, must show the same runs, tags, steps and values."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")

from tb import array, multiplexer  # noqa: E402

import tblog.summary as tb_summary  # noqa: E402
from tblog.summary._api import SummaryFileWriter  # noqa: E402

BOTH = pytest.mark.parametrize("api", [tf.summary, tb_summary], ids=["tf", "tblog"])


def _decode(plugin: str, arr: np.ndarray) -> object:
    """What TensorBoard's dashboard shows for one point of ``plugin``."""
    if plugin == "images":
        from PIL import Image

        width, height = int(arr[0]), int(arr[1])
        pixels = [np.asarray(Image.open(io.BytesIO(png))) for png in arr[2:]]
        return (width, height, [p.tolist() for p in pixels])
    if plugin == "audio":
        return [bytes(clip) for clip in arr.reshape(-1)]  # the WAV column (loaders keep it)
    if plugin == "text":
        return np.vectorize(lambda b: b.decode() if isinstance(b, bytes) else b)(arr).tolist()
    return arr


def shown(logdir: str) -> dict[tuple[str, str, str], list[tuple[int, object]]]:
    """``{(run, plugin, tag): [(step, decoded value)]}`` as TensorBoard loads ``logdir``."""
    mux = multiplexer(logdir)
    out: dict[tuple[str, str, str], list[tuple[int, object]]] = {}
    for plugin in ("scalars", "histograms", "images", "audio", "text"):
        for run, tags in mux.PluginRunToTagToContent(plugin).items():
            for tag in tags:
                out[(run, plugin, tag)] = [
                    (e.step, _decode(plugin, array(e))) for e in mux.Tensors(run, tag)
                ]
    return out


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        steps_a = [s for s, _ in a[key]]
        steps_b = [s for s, _ in b[key]]
        assert steps_a == steps_b, key
        for (_, va), (_, vb) in zip(a[key], b[key], strict=True):
            if isinstance(va, np.ndarray):
                assert va.dtype == vb.dtype and va.shape == vb.shape, key
                np.testing.assert_allclose(va, vb, rtol=1e-12, err_msg=str(key))
            else:
                assert va == vb, key


def run_both(workload, tmp_path):
    """Run ``workload(summary_module, logdir)`` with tf.summary and tblog.summary."""
    results = []
    for name, api in (("tf", tf.summary), ("tblog", tb_summary)):
        logdir = str(tmp_path / name)
        results.append(workload(api, logdir))
    return shown(str(tmp_path / "tf")), shown(str(tmp_path / "tblog")), results


def tutorial(summary, logdir):
    """TensorFlow's TensorBoard tutorial shape: train and test writers, a custom loop."""
    rng = np.random.default_rng(0)
    train = summary.create_file_writer(os.path.join(logdir, "train"))
    test = summary.create_file_writer(os.path.join(logdir, "test"))
    returns = []
    for epoch in range(5):
        with train.as_default():
            returns.append(summary.scalar("loss", 1.0 / (epoch + 1), step=epoch))
            returns.append(summary.scalar("accuracy", tf.constant(epoch / 10), step=epoch))
            summary.histogram("weights", rng.normal(size=500) * (epoch + 1), step=epoch)
            summary.histogram("few", rng.normal(size=50), step=epoch, buckets=7)
            summary.histogram("const", np.full(10, 3.0), step=epoch)
            summary.histogram("empty", np.zeros(0), step=epoch)
        with test.as_default(step=epoch):
            summary.scalar("loss", tf.constant(2.0 / (epoch + 1), tf.float64))
            with tf.name_scope("outer"), tf.name_scope("inner"):
                summary.scalar("scoped", epoch)
            summary.text("note", f"epoch **{epoch}**")
    with train.as_default(step=7):
        images = rng.random((5, 6, 7, 3)).astype(np.float32)
        images[0, 0, 0] = [0.0, 1.0, 0.999]
        summary.image("float_rgb", images)
        summary.image("uint8_gray", rng.integers(0, 256, (2, 4, 3, 1), dtype=np.uint8))
        summary.image("rgba", tf.constant(rng.random((1, 3, 3, 4)), tf.float32), max_outputs=5)
        summary.image("none", rng.random((3, 2, 2, 3)), max_outputs=0)
        clip = np.sin(np.linspace(0, 60, 1200)).reshape(2, 600, 1).astype(np.float32)
        clip[0, :3, 0] = [1.0, -1.0, 0.5]
        summary.audio("sine", clip, 8000, max_outputs=1)
        stereo = rng.uniform(-1.2, 1.2, (3, 100, 2)).astype(np.float32)
        summary.audio("stereo", stereo, 16000)
        summary.text("table", [["a", "b"], ["c", "d"]])
        summary.text("bytes", b"raw")
    train.close()
    test.close()
    return returns


def test_tutorial_matches_tf_summary(tmp_path):
    ours_tf, ours, (ret_tf, ret) = run_both(tutorial, tmp_path)
    assert_same(ours_tf, ours)
    assert ("test", "scalars", "outer/inner/scoped") in ours
    assert len(ours[("train", "images", "float_rgb")][0][1][2]) == 3  # max_outputs default
    assert ret == [bool(r) for r in ret_tf] and all(ret)


def test_default_step_rules_match(tmp_path):
    def workload(summary, logdir):
        out = []
        out.append(bool(summary.scalar("no_writer", 1.0, step=0)))  # False: no default writer
        w = summary.create_file_writer(logdir)
        with w.as_default():
            try:
                summary.scalar("no_step", 1.0)
                out.append("wrote")
            except ValueError:
                out.append("ValueError")
            step = tf.Variable(3, dtype=tf.int64)
            summary.experimental.set_step(step)
            out.append(bool(summary.scalar("var_step", 1.0)))
            step.assign(4)
            summary.scalar("var_step", 2.0)
            with summary.record_if(False):
                out.append(bool(summary.scalar("off", 1.0)))
                out.append(bool(summary.should_record_summaries()))
            with summary.record_if(lambda: int(step.numpy()) % 2 == 0):
                summary.scalar("every_other", 1.0)
                step.assign(5)
                summary.scalar("every_other", 2.0)
            with w.as_default(step=10):
                summary.scalar("inner_step", 1.0)
            summary.scalar("restored_step", 1.0)  # back to the variable (5)
            summary.experimental.set_step(None)
        out.append(summary.experimental.get_step())
        out.append(bool(summary.should_record_summaries()))
        noop = summary.create_noop_writer()
        with noop.as_default(step=1):
            out.append(bool(summary.scalar("noop", 1.0)))
        with w.as_default():  # restores "no default writer" after set_as_default
            w.set_as_default(step=20)
            summary.scalar("set_as_default", 1.0)
            summary.flush()
        out.append(summary.experimental.get_step())  # set_as_default's step stays
        summary.experimental.set_step(None)
        w.close()
        return out

    try:
        shown_tf, shown_ours, (out_tf, out_ours) = run_both(workload, tmp_path)
    finally:
        tf.summary.experimental.set_step(None)
        tb_summary.experimental.set_step(None)
    assert out_ours == out_tf
    assert_same(shown_tf, shown_ours)
    assert [s for s, _ in shown_ours[(".", "scalars", "var_step")]] == [3, 4]


def test_summary_scope_and_write_match(tmp_path):
    def workload(summary, logdir):
        w = summary.create_file_writer(logdir)
        md = tf.compat.v1.SummaryMetadata()
        md.plugin_data.plugin_name = "scalars"
        with w.as_default(step=2):
            scope = summary.experimental.summary_scope("my op", "Default")
            with tf.name_scope("scope"), scope as (tag, _):
                summary.write(tag, tf.constant(1.5), metadata=md)
            summary.write("raw", np.float32(2.5), metadata=md.SerializeToString())
            summary.scalar("", 3.0)  # the default name
        w.close()

    shown_tf, shown_ours, _ = run_both(workload, tmp_path)
    assert_same(shown_tf, shown_ours)
    assert (".", "scalars", "scope/my op") in shown_ours


def test_torch_jax_numpy_inputs_match_tf_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(1)
    values = rng.normal(size=200).astype(np.float32)
    pixels = rng.random((2, 3, 4, 3)).astype(np.float32)

    def write_all(summary, logdir, convert):
        w = summary.create_file_writer(logdir)
        with w.as_default(step=convert(np.asarray(4, np.int64)) if convert is not None else 4):
            c = convert or (lambda x: tf.constant(x))
            summary.scalar("s", c(np.asarray(0.25, np.float32)))
            summary.histogram("h", c(values))
            summary.image("i", c(pixels))
            summary.audio("a", c(values.reshape(2, 100, 1) / 4), 4000)
        w.close()

    write_all(tf.summary, str(tmp_path / "tf"), None)
    for name, convert in (
        ("torch", torch.from_numpy),
        ("jax", jnp.asarray),
        ("numpy", lambda x: x),
    ):
        write_all(tb_summary, str(tmp_path / name), convert)
        assert_same(shown(str(tmp_path / "tf")), shown(str(tmp_path / name)))


def test_attach_shares_the_writers_file(tmp_path):
    import tblog

    writer = tblog.SummaryWriter(str(tmp_path / "run"))
    attached = SummaryFileWriter.attach(writer.writer)
    writer.add_scalar("torch_style", 1.0, 1)
    with attached.as_default(step=2):
        assert tb_summary.scalar("tf_style", 2.0)
        tb_summary.histogram("hist", [1.0, 2.0, 3.0])
    attached.close()  # flushes only: the SummaryWriter still owns the file
    writer.add_scalar("torch_style", 3.0, 3)
    writer.close()
    files = [n for n in os.listdir(tmp_path / "run") if "tfevents" in n]
    assert len(files) == 1
    got = shown(str(tmp_path / "run"))
    assert [s for s, _ in got[(".", "scalars", "torch_style")]] == [1, 3]
    assert [s for s, _ in got[(".", "scalars", "tf_style")]] == [2]
    assert (".", "histograms", "hist") in got


def test_state_is_per_thread(tmp_path):
    w = tb_summary.create_file_writer(str(tmp_path))
    seen = []
    with w.as_default(step=1):
        t = threading.Thread(target=lambda: seen.append(tb_summary.scalar("other", 1.0)))
        t.start()
        t.join()
        assert tb_summary.scalar("main", 1.0)
    w.close()
    assert seen == [False]
    assert list(shown(str(tmp_path))) == [(".", "scalars", "main")]


def test_closed_writer_and_bad_input_raise_clearly(tmp_path):
    w = tb_summary.create_file_writer(str(tmp_path))
    with w.as_default(step=0):
        with pytest.raises(TypeError, match="name"):
            tb_summary.scalar(3, 1.0)
        with pytest.raises(ValueError, match="data"):
            tb_summary.image("img", np.zeros((4, 4, 3)))
        with pytest.raises(ValueError, match="channels"):
            tb_summary.image("img", np.zeros((1, 4, 4, 5)))
        with pytest.raises(ValueError, match="data"):
            tb_summary.audio("snd", np.zeros((4, 3)), 8000)
        with pytest.raises(ValueError, match="sample_rate"):
            tb_summary.audio("snd", np.zeros((1, 4, 1)), -1)
        with pytest.raises(ValueError, match="encoding"):
            tb_summary.audio("snd", np.zeros((1, 4, 1)), 8000, encoding="mp3")
        with pytest.raises(TypeError, match="buckets"):
            tb_summary.histogram("h", [1.0], buckets="many")
        with pytest.raises(TypeError, match="data"):
            tb_summary.text("t", 3.0)
        with pytest.raises(ValueError, match="graph_data"):
            tb_summary.graph(object())
    w.close()
    with pytest.raises(RuntimeError, match="closed"):
        w.as_default()
    with pytest.raises(ValueError, match="flush_millis"):
        tb_summary.create_file_writer(str(tmp_path), flush_millis=0)
    with pytest.raises(ValueError, match="logdir"):
        tb_summary.create_file_writer("")
    with pytest.raises(TypeError, match="logdir"):
        tb_summary.create_file_writer(3)
    w = tb_summary.create_file_writer(tf.constant(str(tmp_path / "from_tensor")))
    assert w.logdir.endswith("from_tensor")
    w.close()


def test_graph_written_like_tf(tmp_path):
    from tblog.core.proto import graph_pb2

    gd = graph_pb2.GraphDef()
    gd.node.add(name="x", op="Placeholder")
    w = tb_summary.create_file_writer(str(tmp_path))
    with w.as_default():
        assert tb_summary.graph(gd)
    assert tb_summary.graph(gd) is False  # no default writer
    w.close()
    from tb import accumulator

    acc = accumulator(str(tmp_path))
    assert [n.name for n in acc.Graph().node] == ["x"]


def test_import_loads_no_framework():
    code = (
        "import sys, tblog.summary as s, tblog;"
        "assert tblog.summary is s;"
        "print(sorted(m for m in ('torch','tensorflow','jax','keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tf_graph_matches_tf_summary(tmp_path):
    from tb import accumulator

    @tf.function
    def f(x):
        return tf.nn.relu(x) * 2.0

    graph = f.get_concrete_function(tf.TensorSpec([2], tf.float32)).graph

    def workload(summary, logdir):
        w = summary.create_file_writer(logdir)
        with w.as_default():
            ok = bool(summary.graph(graph))
        w.close()
        return ok

    _, _, results = run_both(workload, tmp_path)
    assert results == [True, True]
    nodes = [
        sorted((n.name, n.op) for n in accumulator(str(tmp_path / d)).Graph().node)
        for d in ("tf", "tblog")
    ]
    assert nodes[0] == nodes[1] and ("x", "Placeholder") in nodes[0]


def test_symbolic_tensor_error_says_what_to_do(tmp_path):
    w = tb_summary.create_file_writer(str(tmp_path))

    @tf.function
    def step(x):
        tb_summary.scalar("inside", x, step=0)
        return x

    with w.as_default(), pytest.raises(TypeError, match="symbolic TensorFlow tensor"):
        step(tf.constant(1.0))
    w.close()
