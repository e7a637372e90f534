"""The same workload through ``torch.utils.tensorboard.SummaryWriter`` and
``tblog.SummaryWriter``: TensorBoard must see the same runs, tags, steps and values.

Both log dirs are read with TensorBoard's Python multiplexer (which converts torch's
legacy scalars and histograms on read), its hparams backend and its projector plugin.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import tb
from tensorboard import context as tb_context
from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider
from tensorboard.plugins import base_plugin
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups
from tensorboard.plugins.mesh import metadata as mesh_metadata

import tblog

torch = pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

PLUGINS = ("scalars", "histograms", "pr_curves", "text", "custom_scalars", "mesh", "tensor")
LAYOUT = {
    "Training": {
        "loss": ["Multiline", ["loss", "run_14h"]],
        "band": ["Margin", ["loss", "loss", "loss"]],
    }
}


def _workload(w) -> None:
    g = torch.Generator().manual_seed(7)
    scalars = [0.5, float("nan"), float("inf"), -float("inf"), 1e-30, -3.25]
    for step, value in enumerate(scalars):
        w.add_scalar("loss", value, step)
        w.add_scalar("tensor_scalar", torch.tensor(value * 2), step)
        w.add_scalars("run_14h", {"xsinx": step * np.sin(step), "xcosx": np.cos(step)}, step)
    for step in range(3):
        weights = torch.randn(1000, generator=g) * (10.0**step)
        w.add_histogram("weights", weights, step)
        w.add_histogram("weights_np", weights.numpy(), step)
        w.add_histogram("weights_int_bins", weights, step, bins=25)
        w.add_histogram("weights_max_bins", weights.numpy(), step, max_bins=30)
        w.add_histogram("ints", torch.randint(-5, 6, (200,), generator=g), step)
        labels = torch.randint(0, 2, (300,), generator=g)
        preds = (labels * 0.4 + torch.rand(300, generator=g) * 0.6).clamp(0, 1)
        w.add_pr_curve("pr", labels, preds, step)
        w.add_pr_curve("pr_small", labels, preds, step, num_thresholds=11)
        w.add_text("notes", f"step **{step}**", step)
        w.add_tensor("raw", torch.arange(6, dtype=torch.float32).reshape(2, 3) * step, step)
    w.add_custom_scalars(LAYOUT)
    verts = torch.tensor([[[1.0, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]])
    colors = torch.tensor([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]]])
    faces = torch.tensor([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]], dtype=torch.int)
    w.add_mesh("tetra", verts, colors=colors, faces=faces, global_step=1)
    w.add_mesh("cloud", torch.rand(1, 20, 3, generator=g), config_dict={"material": {"size": 3}})
    mat = torch.randn(9, 5, generator=g)
    w.add_embedding(mat, metadata=[f"pt{i}" for i in range(9)], global_step=2, tag="feats")
    w.add_embedding(mat * 3, label_img=torch.rand(9, 3, 4, 4, generator=g), tag="with/imgs")
    for i, lr in enumerate((0.1, 0.01)):
        w.add_hparams(
            {"lr": lr, "opt": ["adam", "sgd"][i], "depth": 3 + i},
            {"hp/acc": 0.5 + i / 4, "hp/loss": 1.0 - i / 4},
            run_name=f"trial{i}",
        )


@pytest.fixture(scope="module")
def logdirs(tmp_path_factory):
    dirs = {}
    for name, cls in (("torch", TorchWriter), ("tblog", tblog.SummaryWriter)):
        logdir = tmp_path_factory.mktemp(name)
        with cls(str(logdir)) as w:
            _workload(w)
        dirs[name] = str(logdir)
    return dirs


def _view(logdir):
    mux = tb.multiplexer(logdir)
    out = {}
    for plugin in PLUGINS:
        for run, tags in mux.PluginRunToTagToContent(plugin).items():
            for tag in tags:
                events = mux.Tensors(run, tag)
                out[(plugin, run, tag)] = [(e.step, tb.array(e)) for e in events]
    return mux, out


@pytest.fixture(scope="module")
def views(logdirs):
    return {name: _view(d) for name, d in logdirs.items()}


def test_same_runs(views):
    assert sorted(views["tblog"][0].Runs()) == sorted(views["torch"][0].Runs())


@pytest.mark.parametrize("plugin", PLUGINS)
def test_same_tags_steps_values(views, plugin):
    ours = {k: v for k, v in views["tblog"][1].items() if k[0] == plugin}
    theirs = {k: v for k, v in views["torch"][1].items() if k[0] == plugin}
    assert sorted(ours) == sorted(theirs)
    assert theirs, f"torch wrote nothing for {plugin}"
    for key, series in theirs.items():
        got = ours[key]
        assert [s for s, _ in got] == [s for s, _ in series], key
        for (step, a), (_, b) in zip(got, series, strict=True):
            if b.dtype.kind in "OSU":
                # Text: torch writes shape [1] (a one-cell table), tblog's text summary a
                # rank-0 string (a paragraph): the same text either way.
                assert a.ndim <= 1 and a.reshape(-1).tolist() == b.reshape(-1).tolist(), (key, step)
            else:
                assert a.shape == b.shape, (key, step, a.shape, b.shape)
                # float32 precision: torch's legacy histograms convert to float32
                np.testing.assert_array_equal(
                    a.astype(np.float32), b.astype(np.float32), err_msg=f"{key} step {step}"
                )


def test_histograms_match_to_float32(views):
    """Spelled out for the default bins: the converted [k, 3] arrays are equal."""
    ours = views["tblog"][1][("histograms", ".", "weights")]
    theirs = views["torch"][1][("histograms", ".", "weights")]
    assert len(ours) == 3
    for (_, a), (_, b) in zip(ours, theirs, strict=True):
        assert a.shape[1] == 3 and a.shape[0] > 10
        np.testing.assert_array_equal(a.astype(np.float32), b)


def test_same_plugin_metadata(views):
    for name in ("tblog", "torch"):
        assert views[name][0].PluginRunToTagToContent("custom_scalars")
    meshes = {}
    for name in ("tblog", "torch"):
        content = views[name][0].PluginRunToTagToContent("mesh")["."]
        meshes[name] = {
            tag: mesh_metadata.parse_plugin_metadata(raw) for tag, raw in content.items()
        }
    assert meshes["tblog"].keys() == meshes["torch"].keys()
    for tag, theirs in meshes["torch"].items():
        ours = meshes["tblog"][tag]
        assert (ours.name, ours.content_type, ours.components, list(ours.shape)) == (
            theirs.name,
            theirs.content_type,
            theirs.components,
            list(theirs.shape),
        )
        assert json.loads(ours.json_config) == json.loads(theirs.json_config)
    layouts = {}
    for name in ("tblog", "torch"):
        [(_, arr)] = views[name][1][("custom_scalars", ".", "custom_scalars__config__")]
        layouts[name] = layout_pb2.Layout.FromString(arr.item())
    assert layouts["tblog"] == layouts["torch"]


def _sessions(logdir):
    mux = tb.multiplexer(logdir)
    ctx = base_plugin.TBContext(
        logdir=logdir, multiplexer=mux, data_provider=MultiplexerDataProvider(mux, logdir)
    )
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0, slice_size=100, allowed_statuses=[api_pb2.STATUS_SUCCESS]
    )
    handler = list_session_groups.Handler(
        tb_context.RequestContext(), backend_context.Context(ctx), "", request
    )
    out = {}
    for group in handler.run().session_groups:
        hp = {
            k: v.WhichOneof("kind") + ":" + str(getattr(v, v.WhichOneof("kind")))
            for k, v in group.hparams.items()
        }
        metrics = {(m.name.group, m.name.tag): m.value for m in group.metric_values}
        out[group.name] = (hp, metrics)
    return out


def test_same_hparams_sessions(logdirs):
    ours, theirs = _sessions(logdirs["tblog"]), _sessions(logdirs["torch"])
    assert set(theirs) == {"trial0", "trial1"}
    assert ours == theirs


def _projector(logdir):
    return tb.projector(logdir)


def test_same_embeddings_in_projector(logdirs):
    from PIL import Image

    ours, theirs = _projector(logdirs["tblog"]), _projector(logdirs["torch"])
    names = [
        sorted(e["tensorName"] for e in json.loads(get("/info", run="."))["embeddings"])
        for get in (ours, theirs)
    ]
    assert names[0] == names[1] == ["feats:00002", "with/imgs:00000"]
    for name in names[1]:
        a = np.frombuffer(ours("/tensor", run=".", name=name), dtype=np.float32)
        b = np.frombuffer(theirs("/tensor", run=".", name=name), dtype=np.float32)
        np.testing.assert_array_equal(a, b)
    meta = [get("/metadata", run=".", name="feats:00002") for get in (ours, theirs)]
    assert meta[0] == meta[1]
    sprites = [
        np.asarray(
            Image.open(io.BytesIO(get("/sprite_image", run=".", name="with/imgs:00000"))).convert(
                "RGB"
            )
        )
        for get in (ours, theirs)
    ]
    np.testing.assert_array_equal(sprites[0], sprites[1])


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402
from tensorboard import data_compat  # noqa: E402
from torch.utils.tensorboard import summary as torch_summary  # noqa: E402

from tblog.core.summaries import histogram  # noqa: E402

_FINITE = st.floats(
    -(2.0**80), 2.0**80, allow_nan=False, allow_infinity=False, width=32, allow_subnormal=False
)


@settings(max_examples=150, deadline=None)
@given(
    values=hnp.arrays(np.float32, st.integers(1, 200), elements=_FINITE),
    scale=st.sampled_from([1e-9, 1.0, 1e6]),
    bins=st.sampled_from(["tensorflow", 1, 7, 64, "auto", "sqrt"]),
    max_bins=st.sampled_from([None, 3, 20]),
)
def test_histogram_pb_is_torchs_histogram_as_tensorboard_converts_it(values, scale, bins, max_bins):
    """Function level: torch's legacy HistogramProto, converted by TensorBoard's Python
    loader, equals our [k, 3] tensor (to float32), for any finite input torch accepts."""
    values = (values * np.float32(scale)).astype(np.float32)
    if not np.isfinite(values).all():
        return
    torch_bins = histogram.tensorflow_edges().tolist() if bins == "tensorflow" else bins
    try:
        legacy = torch_summary.histogram("h", values, torch_bins, max_bins=max_bins)
    except ValueError:
        return  # torch refuses (every value beyond the 'tensorflow' edges)
    theirs = tb.tensor_util.make_ndarray(data_compat.migrate_value(legacy.value[0]).tensor)
    ours = tb.tensor_util.make_ndarray(
        histogram.histogram_pb("h", values, bins=bins, max_bins=max_bins).value[0].tensor
    )
    edges = histogram.tensorflow_edges()
    wide = values.astype(np.float64)
    if bins == "tensorflow" and ((wide < edges[0]) | (wide > edges[-1])).any():
        # torch drops values beyond the edges (+-1e20); we count every value (README)
        assert ours[:, 2].sum() == values.size
        return
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours.astype(np.float32), theirs)
