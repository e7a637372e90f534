"""Data summaries (histogram, PR curve, hparams, mesh, custom scalars, embedding, tensor)
written through ``tblog.SummaryWriter`` and read back with TensorBoard's own loaders and
plugin backends. Where TensorBoard has a numpy implementation of the same summary
(uniform histograms, PR curves, legacy histogram conversion) it is the reference."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
import tb
from tensorboard import context as tb_context
from tensorboard import data_compat
from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider
from tensorboard.compat.proto import summary_pb2 as tb_summary_pb2
from tensorboard.plugins import base_plugin
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.histogram import summary_v2 as tb_histogram
from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups
from tensorboard.plugins.hparams import metadata as hp_metadata
from tensorboard.plugins.mesh import metadata as mesh_metadata
from tensorboard.plugins.pr_curve import metadata as pr_metadata
from tensorboard.plugins.pr_curve import summary as tb_pr_curve

import tblog
from tblog.core.summaries import histogram, pr_curve, tensor

RNG = np.random.default_rng(1234)


def _write(logdir, fn, style="torch") -> None:
    with tblog.SummaryWriter(str(logdir), style=style) as w:
        fn(w)


def _tensors(run_dir, tag):
    acc = tb.accumulator(run_dir)
    return acc, [(e.step, tb.array(e)) for e in acc.Tensors(tag)]


# ---------------------------------------------------------------- histograms
def test_histogram_tensorflow_bins_read_by_tensorboard(tmp_path):
    values = [RNG.normal(size=500) * s for s in (1e-3, 1.0, 1e4)]
    # tf.summary's [k, 3] form, exact in float64 (torch's HistogramProto: test_legacy_readers)
    _write(
        tmp_path,
        lambda w: [w.add_histogram("h", v, i) for i, v in enumerate(values)],
        style="tf.summary",
    )
    acc, series = _tensors(tmp_path, "h")
    assert acc.SummaryMetadata("h").plugin_data.plugin_name == "histograms"
    assert [s for s, _ in series] == [0, 1, 2]
    edges = histogram.tensorflow_edges()
    for (_, arr), v in zip(series, values, strict=True):
        assert arr.ndim == 2 and arr.shape[1] == 3
        assert arr[:, 2].sum() == v.size
        assert arr[0, 0] == v.min() and arr[-1, 1] == v.max()
        assert np.array_equal(arr[1:, 0], arr[:-1, 1])  # contiguous buckets
        assert np.isin(arr[1:, 0], edges).all()  # inner edges are TensorBoard's limits
        assert arr[0, 2] > 0 and arr[-1, 2] > 0  # empty outer buckets are dropped
        # every value lies in its bucket: (left, right] except the first, closed on the left
        inner = arr[1:, 0]
        recount = np.bincount(np.searchsorted(inner, v, side="left"), minlength=len(arr))
        assert np.array_equal(recount, arr[:, 2])


@pytest.mark.parametrize(
    ("bins", "max_bins"),
    [(10, None), ("auto", None), ("sturges", None), (np.linspace(-4, 4, 17), None), (64, 10)],
)
def test_histogram_other_bins(tmp_path, bins, max_bins):
    v = RNG.normal(size=300)
    _write(
        tmp_path,
        lambda w: w.add_histogram("h", v, 3, bins=bins, max_bins=max_bins),
        style="tf.summary",
    )
    _, [(step, arr)] = _tensors(tmp_path, "h")
    counts, edges = np.histogram(v, bins=bins)
    assert step == 3
    assert arr[:, 2].sum() == counts.sum()
    assert arr[0, 0] == v.min() and arr[-1, 1] == v.max()
    assert np.isin(arr[1:, 0], edges).all()
    if max_bins is not None:
        assert len(arr) <= 64 // (64 // max_bins) + 1


def test_histogram_empty_is_an_empty_histogram_and_nonfinite_raises(tmp_path):
    with tblog.SummaryWriter(str(tmp_path)) as w:
        w.add_histogram("empty", np.array([]), 0)
        for bad in (np.array([1.0, np.nan]), np.array([np.inf, 0.0])):
            with pytest.raises(ValueError, match="finite"):
                w.add_histogram("bad", bad, 0)
        with pytest.raises(ValueError, match="bins"):
            w.add_histogram("bad", np.ones(3), 0, bins="nope")
        with pytest.raises(ValueError, match="bins"):
            w.add_histogram("bad", np.ones(3), 0, bins=0)
        with pytest.raises(TypeError, match="values"):
            w.add_histogram("bad", np.array(["a", "b"]), 0)
    acc, [(_, arr)] = _tensors(tmp_path, "empty")
    assert arr.shape == (0, 3)
    assert "bad" not in acc.Tags()["tensors"]


@pytest.mark.parametrize(
    "v",
    [
        RNG.normal(size=1000).astype(np.float32),
        np.array([3.5], dtype=np.float32),  # one value: one bucket
        np.full(9, -2.0),  # all in one bucket, on a negative edge's side
        histogram.tensorflow_edges()[700:720].copy(),  # values on edges
        np.array([0.0, -0.0, 1e-13, -1e-13]),  # around zero's bucket
    ],
    ids=["normal", "single", "constant", "on-edges", "zero"],
)
def test_buckets_pb_equals_histogram_pb_for_device_counts(v):
    flat = v.astype(np.float64)
    edges = histogram.tensorflow_edges()
    counts, _ = np.histogram(flat, edges)  # what a device computes
    for max_bins in (None, 40):
        a = histogram.histogram_pb("h", v, max_bins=max_bins)
        b = histogram.buckets_pb(
            "h",
            edges,
            counts,
            flat.min(),
            flat.max(),
            v.size,
            flat.sum(),
            flat @ flat,
            max_bins=max_bins,
        )
        assert a.SerializeToString() == b.SerializeToString()
    with pytest.raises(ValueError, match="edges"):
        histogram.buckets_pb("h", edges[:10], counts, 0.0, 1.0, 1, 0.0, 0.0)
    with pytest.raises(ValueError, match="counts"):
        histogram.buckets_pb("h", [0.0, 1.0], [-1.0], 0.0, 1.0, 1, 0.0, 0.0)


@pytest.mark.parametrize(
    "values", [RNG.normal(size=200), np.full(7, 2.5), np.array([]), np.arange(10)]
)
def test_uniform_matches_tensorboards_histogram_pb(tmp_path, values):
    ours = histogram.uniform_pb("u", values)
    ref = tb_histogram.histogram_pb("u", values)
    a = tb.tensor_util.make_ndarray(ours.value[0].tensor)
    b = tb.tensor_util.make_ndarray(ref.value[0].tensor)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert ours.value[0].metadata.plugin_data.plugin_name == "histograms"
    assert (
        histogram.uniform_pb("u", values, buckets=0).value[0].tensor.tensor_shape.dim[0].size == 0
    )


def test_histogram_raw_matches_tensorboards_legacy_conversion(tmp_path):
    limits = [-1.0, 0.0, 0.5, 1.0, 2.0, 3.0]
    counts = [0.0, 3.0, 0.0, 2.0, 1.0, 0.0]
    args = dict(min=-0.5, max=2.5, num=6, sum=4.0, sum_squares=9.0)
    _write(
        tmp_path,
        lambda w: w.add_histogram_raw(
            "r", **args, bucket_limits=limits, bucket_counts=counts, global_step=5
        ),
    )
    _, [(step, arr)] = _tensors(tmp_path, "r")
    legacy = tb_summary_pb2.Summary.Value(tag="r")
    legacy.histo.min, legacy.histo.max = args["min"], args["max"]
    legacy.histo.bucket_limit.extend(limits)
    legacy.histo.bucket.extend(counts)
    ref = tb.tensor_util.make_ndarray(data_compat.migrate_value(legacy).tensor)
    assert step == 5
    np.testing.assert_array_equal(arr, ref)
    with pytest.raises(ValueError, match="equal lengths"):
        histogram.histogram_raw_pb("r", 0, 1, 1, 0, 0, [1.0, 2.0], [1.0])


# ---------------------------------------------------------------- PR curves
def test_pr_curve_matches_tensorboards_summary(tmp_path):
    labels = RNG.integers(0, 2, size=400).astype(bool)
    preds = np.clip(labels * 0.3 + RNG.random(400) * 0.7, 0, 1).astype(np.float32)
    weights = RNG.random(400)
    with tblog.SummaryWriter(str(tmp_path)) as w:
        w.add_pr_curve("pr", labels, preds, 1, num_thresholds=50)
        w.add_pr_curve("pr", labels, preds, 2, num_thresholds=50, weights=weights)
        w.add_pr_curve("capped", labels, preds, 0, num_thresholds=500)
    acc, series = _tensors(tmp_path, "pr")
    content = pr_metadata.parse_plugin_metadata(acc.SummaryMetadata("pr").plugin_data.content)
    assert content.num_thresholds == 50
    for (_, arr), wts in zip(series, (None, weights), strict=True):
        ref = tb_pr_curve.pb("x", labels, preds, num_thresholds=50, weights=wts)
        np.testing.assert_allclose(arr, tb.tensor_util.make_ndarray(ref.value[0].tensor), rtol=1e-6)
        assert arr.shape == (6, 50)
    assert [s for s, _ in series] == [1, 2]
    assert _tensors(tmp_path, "capped")[1][0][1].shape == (6, 127)


@pytest.mark.parametrize(
    ("labels", "preds", "match"),
    [
        ([0, 2], [0.1, 0.2], "labels"),
        ([0, 1], [0.1, 1.5], "predictions"),
        ([0, 1], [0.1, np.nan], "predictions"),
        ([0, 1, 1], [0.1, 0.2], "shape"),
    ],
)
def test_pr_curve_rejects_bad_input(labels, preds, match):
    with pytest.raises(ValueError, match=match):
        pr_curve.pr_curve_pb("pr", np.array(labels), np.array(preds))


def test_pr_curve_raw(tmp_path):
    n = 5
    tp, fp = np.array([5, 4, 3, 1, 0]), np.array([5, 3, 1, 0, 0])
    tn, fn = 5 - fp, 5 - tp
    precision = tp / np.maximum(1, tp + fp)
    recall = tp / 5
    _write(tmp_path, lambda w: w.add_pr_curve_raw("raw", tp, fp, tn, fn, precision, recall, 7, n))
    acc, [(step, arr)] = _tensors(tmp_path, "raw")
    assert step == 7 and acc.SummaryMetadata("raw").plugin_data.plugin_name == "pr_curves"
    np.testing.assert_allclose(arr, np.stack([tp, fp, tn, fn, precision, recall]), rtol=1e-6)
    with pytest.raises(ValueError, match="equal lengths"):
        pr_curve.pr_curve_raw_pb("raw", tp, fp, tn, fn, precision, recall[:3])


# ---------------------------------------------------------------- hparams
def _session_groups(logdir):
    mux = tb.multiplexer(logdir)
    ctx = base_plugin.TBContext(
        logdir=str(logdir), multiplexer=mux, data_provider=MultiplexerDataProvider(mux, str(logdir))
    )
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0,
        slice_size=100,
        allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS, api_pb2.STATUS_RUNNING],
    )
    handler = list_session_groups.Handler(
        tb_context.RequestContext(), backend_context.Context(ctx), "", request
    )
    out = {}
    for group in handler.run().session_groups:
        hparams = {k: json.loads(json.dumps(_value(v))) for k, v in group.hparams.items()}
        metrics = {m.name.tag: m.value for m in group.metric_values}
        out[group.sessions[0].name] = (hparams, metrics)
    return out


def _value(v):
    kind = v.WhichOneof("kind")
    return getattr(v, kind)


def test_hparams_sessions_in_tensorboards_backend(tmp_path):
    runs = {
        "a": ({"lr": 0.1, "opt": "adam", "bn": True, "layers": np.int64(3)}, {"acc": 0.7}),
        "b": ({"lr": 0.01, "opt": "sgd", "bn": False, "layers": 4}, {"acc": 0.9}),
    }
    for name, (hp, metrics) in runs.items():
        with tblog.SummaryWriter(str(tmp_path / name)) as w:
            w.add_scalar("loss", 1.0, 0)
            w.add_hparams(hp, metrics, {"opt": ["adam", "sgd"]})
    groups = _session_groups(tmp_path)
    assert set(groups) == {"a", "b"}
    for name, (hp, metrics) in runs.items():
        got_hp, got_metrics = groups[name]
        assert got_hp == {k: (v if isinstance(v, (bool, str)) else float(v)) for k, v in hp.items()}
        assert got_metrics["acc"] == pytest.approx(metrics["acc"])
    acc = tb.accumulator(tmp_path / "a")
    assert sorted(acc.PluginTagToContent("hparams")) == sorted(
        [
            hp_metadata.EXPERIMENT_TAG,
            hp_metadata.SESSION_START_INFO_TAG,
            hp_metadata.SESSION_END_INFO_TAG,
        ]
    )
    exp = hp_metadata.parse_experiment_plugin_data(
        acc.PluginTagToContent("hparams")[hp_metadata.EXPERIMENT_TAG]
    )
    opt = next(i for i in exp.hparam_infos if i.name == "opt")
    assert [v.string_value for v in opt.domain_discrete.values] == ["adam", "sgd"]


def test_hparams_run_name_makes_sub_sessions(tmp_path):
    with tblog.SummaryWriter(str(tmp_path)) as w:
        for i in range(3):
            w.add_hparams({"i": i}, {"m": i * 2.0}, run_name=f"trial{i}")
    groups = _session_groups(tmp_path)
    assert groups == {f"trial{i}": ({"i": float(i)}, {"m": i * 2.0}) for i in range(3)}


def test_hparams_rejects_bad_values(tmp_path):
    with tblog.SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(TypeError, match="'bad'"):
            w.add_hparams({"ok": 1, "bad": [1, 2]}, {"m": 1.0})
        with pytest.raises(ValueError, match="'opt'"):
            w.add_hparams({"opt": "rmsprop"}, {"m": 1.0}, {"opt": ["adam", "sgd"]})
        with pytest.raises(TypeError, match="'m'"):
            w.add_hparams({"x": 1}, {"m": "high"})
        with pytest.raises(TypeError, match="dict"):
            w.add_hparams([1], {"m": 1.0})
    assert "_hparams_/experiment" not in tb.accumulator(tmp_path).Tags()["tensors"]


# ---------------------------------------------------------------- mesh
def test_mesh_components_read_by_tensorboard(tmp_path):
    verts = RNG.normal(size=(1, 4, 3)).astype(np.float32)
    faces = np.array([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]])
    colors = RNG.integers(0, 256, size=(1, 4, 3))
    config = {"camera": {"cls": "PerspectiveCamera", "fov": 75}}
    _write(
        tmp_path,
        lambda w: w.add_mesh(
            "m", verts, colors=colors, faces=faces, config_dict=config, global_step=2
        ),
    )
    acc = tb.accumulator(tmp_path)
    assert sorted(acc.PluginTagToContent("mesh")) == ["m_COLOR", "m_FACE", "m_VERTEX"]
    for suffix, expected, dtype in (
        ("VERTEX", verts, np.float32),
        ("FACE", faces, np.int32),
        ("COLOR", colors, np.uint8),
    ):
        tag = f"m_{suffix}"
        content = mesh_metadata.parse_plugin_metadata(acc.PluginTagToContent("mesh")[tag])
        assert content.name == "m" and list(content.shape) == list(expected.shape)
        assert content.components == 0b1110 and json.loads(content.json_config) == config
        [event] = acc.Tensors(tag)
        assert event.step == 2
        arr = tb.array(event)
        assert arr.dtype == dtype
        np.testing.assert_array_equal(arr, expected.astype(dtype))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"vertices": np.zeros((4, 3))},
        {"vertices": np.zeros((1, 4, 3)), "faces": np.array([[[0, 1, 9]]])},
        {"vertices": np.zeros((1, 2, 3)), "colors": np.full((1, 2, 3), 300)},
        {"vertices": np.zeros((1, 2, 3)), "colors": np.zeros((1, 3, 3))},
    ],
)
def test_mesh_rejects_bad_input(tmp_path, kwargs):
    with tblog.SummaryWriter(str(tmp_path)) as w, pytest.raises(ValueError):
        w.add_mesh("m", **kwargs)


# ---------------------------------------------------------------- custom scalars
def test_custom_scalars_layout(tmp_path):
    layout = {
        "Losses": {
            "all": ["Multiline", ["loss/.*"]],
            "band": ["Margin", ["acc", "acc_lo", "acc_hi"]],
        },
        "Other": {"x": ["Multiline", ["a", "b"]]},
    }
    _write(tmp_path, lambda w: w.add_custom_scalars(layout))
    acc = tb.accumulator(tmp_path)
    assert list(acc.PluginTagToContent("custom_scalars")) == ["custom_scalars__config__"]
    [event] = acc.Tensors("custom_scalars__config__")
    parsed = layout_pb2.Layout.FromString(tb.array(event).item())
    got = {}
    for cat in parsed.category:
        for chart in cat.chart:
            if chart.HasField("margin"):
                s = chart.margin.series[0]
                got.setdefault(cat.title, {})[chart.title] = ["Margin", [s.value, s.lower, s.upper]]
            else:
                got.setdefault(cat.title, {})[chart.title] = [
                    "Multiline",
                    list(chart.multiline.tag),
                ]
    assert got == layout
    with tblog.SummaryWriter(str(tmp_path / "bad")) as w:
        with pytest.raises(ValueError, match="margin"):
            w.add_custom_scalars({"c": {"t": ["Margin", ["a", "b"]]}})
        with pytest.raises(ValueError, match="kind"):
            w.add_custom_scalars({"c": {"t": ["Pie", ["a"]]}})
        with pytest.raises(TypeError):
            w.add_custom_scalars({"c": ["Multiline", ["a"]]})


# ---------------------------------------------------------------- embedding
def _projector(logdir):
    return tb.projector(logdir)


def test_embedding_read_by_tensorboards_projector(tmp_path):
    from PIL import Image

    mat = RNG.normal(size=(10, 4)).astype(np.float32)
    labels = [f"p{i}" for i in range(10)]
    images = RNG.random((10, 3, 6, 6))
    rows = [[i, i % 2] for i in range(10)]
    with tblog.SummaryWriter(str(tmp_path)) as w:
        w.add_scalar("x", 1.0, 0)
        w.add_embedding(mat, metadata=labels, label_img=images, global_step=3, tag="feat/a")
        w.add_embedding(mat * 2, metadata=rows, metadata_header=["id", "parity"])
    get = _projector(tmp_path)
    config = json.loads(get("/info", run="."))
    names = sorted(e["tensorName"] for e in config["embeddings"])
    assert names == ["default:00000", "feat/a:00003"]
    tensor1 = np.frombuffer(get("/tensor", run=".", name="feat/a:00003"), dtype=np.float32)
    np.testing.assert_array_equal(tensor1.reshape(10, 4), mat)
    tensor2 = np.frombuffer(get("/tensor", run=".", name="default:00000"), dtype=np.float32)
    np.testing.assert_array_equal(tensor2.reshape(10, 4), mat * 2)
    assert get("/metadata", run=".", name="feat/a:00003").decode().split("\n")[:-1] == labels
    meta2 = get("/metadata", run=".", name="default:00000").decode().split("\n")
    assert meta2[0] == "id\tparity" and meta2[3] == "2\t0"
    sprite = Image.open(io.BytesIO(get("/sprite_image", run=".", name="feat/a:00003")))
    assert sprite.size == (4 * 6, 4 * 6)
    tile = np.asarray(sprite.convert("RGB"))[6:12, 0:6]  # image 4: row 1, column 0
    np.testing.assert_array_equal(tile, np.uint8((images[4].transpose(1, 2, 0) * 255).clip(0, 255)))
    assert os.path.isfile(tmp_path / "00003" / "feat%2fa" / "tensors.tsv")


def test_embedding_rejects_bad_input(tmp_path):
    with tblog.SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(ValueError, match="2-D"):
            w.add_embedding(np.zeros(5))
        with pytest.raises(ValueError, match="metadata"):
            w.add_embedding(np.zeros((5, 2)), metadata=["a"])
        with pytest.raises(ValueError, match="label_img"):
            w.add_embedding(np.zeros((5, 2)), label_img=np.zeros((4, 3, 2, 2)))
        with pytest.raises(ValueError, match="finite"):
            w.add_embedding(np.full((2, 2), np.nan))


# ---------------------------------------------------------------- raw tensors
def test_add_tensor_read_by_tensorboard(tmp_path):
    arrays = {
        "f32": RNG.normal(size=(2, 3)).astype(np.float32),
        "i64": np.arange(6).reshape(3, 2),
        "b": np.array([True, False]),
        "f16": np.ones(4, np.float16),
        "s": np.float64(2.5),
    }
    _write(tmp_path, lambda w: [w.add_tensor(k, v, 4) for k, v in arrays.items()])
    acc = tb.accumulator(tmp_path)
    for tag, expected in arrays.items():
        md = acc.SummaryMetadata(tag)
        assert md.plugin_data.plugin_name == "tensor"
        assert md.data_class == tb_summary_pb2.DATA_CLASS_TENSOR
        [event] = acc.Tensors(tag)
        assert event.step == 4
        arr = tb.array(event)
        assert arr.dtype == np.asarray(expected).dtype
        np.testing.assert_array_equal(arr, expected)
    with pytest.raises(TypeError, match="dtype"):
        tensor.tensor_pb("t", np.array(["a"]))


# ---------------------------------------------------------------- the Rust data server
@pytest.mark.slow
def test_rust_data_server_serves_data_summaries(tmp_path):
    """``tensorboard --load_fast=true`` (the default reader) serves every kind above."""
    from tbserver import TensorBoardServer

    values = RNG.normal(size=300)
    labels = RNG.integers(0, 2, size=100)
    preds = RNG.random(100).astype(np.float32)
    layout = {"c": {"t": ["Multiline", ["loss"]]}}
    with tblog.SummaryWriter(str(tmp_path), style="tf.summary") as w:
        w.add_scalar("loss", 1.0, 0)
        w.add_histogram("h", values, 4)
        w.add_pr_curve("pr", labels, preds, 5, num_thresholds=20)
        w.add_custom_scalars(layout)
        w.add_mesh("m", RNG.normal(size=(1, 5, 3)))
        w.add_hparams({"lr": 0.5, "opt": "adam"}, {"acc": 0.25}, run_name="trial")
    hist = tb.array(tb.accumulator(tmp_path).Tensors("h")[0])
    with TensorBoardServer(tmp_path, load_fast=True) as server:
        rows = server.wait_for(
            lambda: server.get_json("/data/plugin/histograms/histograms", run=".", tag="h")
        )
        assert [r[1] for r in rows] == [4]
        np.testing.assert_array_equal(np.array(rows[0][2]), hist)
        curves = server.get_json("/data/plugin/pr_curves/pr_curves", run=".", tag="pr")["."]
        ref = tb.tensor_util.make_ndarray(
            tb_pr_curve.pb("x", labels.astype(bool), preds, num_thresholds=20).value[0].tensor
        )
        end = len(curves[0]["precision"])
        np.testing.assert_allclose(curves[0]["precision"], ref[4, :end], rtol=1e-6)
        assert curves[0]["true_positives"] == ref[0, :end].astype(int).tolist()
        got_layout = server.get_json("/data/plugin/custom_scalars/layout")
        assert got_layout["category"][0]["chart"][0]["multiline"]["tag"] == ["loss"]
        mesh_tags = server.get_json("/data/plugin/mesh/tags")
        assert list(mesh_tags["."]) == ["m"]
        request = {
            "experimentName": "",
            "allowedStatuses": ["STATUS_SUCCESS"],
            "colParams": [{"hparam": "lr"}, {"hparam": "opt"}, {"metric": {"tag": "acc"}}],
            "startIndex": 0,
            "sliceSize": 10,
        }
        groups = server.post_json("/data/plugin/hparams/session_groups", request)["sessionGroups"]
        assert [g["name"] for g in groups] == ["trial"]
        assert groups[0]["hparams"] == {"lr": 0.5, "opt": "adam"}
        assert groups[0]["metricValues"][0]["value"] == 0.25
