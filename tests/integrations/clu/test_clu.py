"""``tblog.integrations.clu.MetricWriter`` against clu's TensorFlow ``SummaryWriter``.

Every ``write_*`` call goes to both writers; TensorBoard's loaders must read the same tags,
steps and values (images and audio decoded to pixels and samples), and its hparams plugin
the same session. Then clu's own writer-test checks (ported, read back through TensorBoard),
``create_default_writer`` with clu's wrappers, no TensorFlow, and no files on a process
other than 0.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import wave

import jax.numpy as jnp
import numpy as np
import pytest
import tb
from lightning_logs import session_groups

from tblog.integrations import clu as ours


def _write_everything(writer) -> None:
    from tensorboard.compat.proto import summary_pb2

    rng = np.random.default_rng(0)
    writer.write_scalars(1, {"loss": 0.5, "count": 7, "f32": np.float32(1.25)})
    writer.write_scalars(2, {"loss": jnp.asarray(0.25), "count": np.int64(9)})
    writer.write_images(1, {"rgb": rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)})
    writer.write_images(2, {"batch": rng.random((2, 3, 6, 1)).astype(np.float32)})
    writer.write_audios(
        3, {"clip": rng.uniform(-1, 1, (2, 400, 1)).astype(np.float32)}, sample_rate=8000
    )
    writer.write_texts(4, {"note": "**bold** text", "other": "x"})
    writer.write_histograms(5, {"h": rng.normal(size=200), "hj": jnp.arange(12.0)})
    writer.write_histograms(
        6, {"h": rng.normal(size=50), "hj": jnp.arange(5.0)}, num_buckets={"h": 7}
    )
    md = summary_pb2.SummaryMetadata()
    md.plugin_data.plugin_name = "custom"
    md.plugin_data.content = b"\x01\x02"
    writer.write_summaries(7, {"raw": np.eye(3, dtype=np.float32)}, {"raw": md})
    writer.write_videos(8, {"vid": np.zeros((2, 4, 4, 3), np.uint8)})
    writer.write_hparams({"lr": 0.1, "opt": {"name": "adam", "betas": (0.9, 0.99)}, "on": True})
    writer.flush()
    writer.close()


def _png_pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))


def _wav_samples(data: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(data)) as w:
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")


def _decoded(plugin: str, arr: np.ndarray) -> list:
    if plugin == "images":  # [w, h, png...]
        return [arr[0], arr[1], *(_png_pixels(b).tolist() for b in arr[2:])]
    if plugin == "audio":  # [k, 2] (wav, label), or the clip column alone
        clips = arr[:, 0] if arr.ndim == 2 else arr
        return [arr.shape, *((_wav_samples(w)[0], _wav_samples(w)[1].tolist()) for w in clips)]
    return arr.tolist()


def _as_tensorboard_sees(logdir) -> dict:
    """``{(plugin, tag): [(step, decoded value)]}`` from TensorBoard's accumulator."""
    acc = tb.accumulator(str(logdir))
    out = {}
    for plugin in ("scalars", "images", "audio", "text", "histograms", "custom"):
        for tag in acc.PluginTagToContent(plugin):
            out[(plugin, tag)] = [(e.step, _decoded(plugin, tb.array(e))) for e in acc.Tensors(tag)]
    return out


@pytest.mark.slow
def test_every_write_method_matches_clus_tensorflow_writer(tmp_path):
    from clu.metric_writers.tf.summary_writer import SummaryWriter as CluTFWriter

    _write_everything(CluTFWriter(str(tmp_path / "ref")))
    _write_everything(ours.MetricWriter(tmp_path / "ours"))
    ref, got = _as_tensorboard_sees(tmp_path / "ref"), _as_tensorboard_sees(tmp_path / "ours")

    assert sorted(got) == sorted(ref)
    assert {p for p, _ in ref} == {"scalars", "images", "audio", "text", "histograms", "custom"}
    for key, series in ref.items():
        assert [s for s, _ in got[key]] == [s for s, _ in series], key
        for (_, want), (_, have) in zip(series, got[key], strict=True):
            if key[0] in ("scalars", "histograms", "custom"):
                np.testing.assert_allclose(np.asarray(have), np.asarray(want), err_msg=str(key))
            else:
                assert have == want, key
    acc_ref, acc_got = tb.accumulator(str(tmp_path / "ref")), tb.accumulator(str(tmp_path / "ours"))
    content = acc_got.PluginTagToContent("custom")["raw"]
    assert content == acc_ref.PluginTagToContent("custom")["raw"] == b"\x01\x02"

    want, have = session_groups(str(tmp_path / "ref")), session_groups(str(tmp_path / "ours"))
    assert len(have.session_groups) == len(want.session_groups) == 1
    assert have.session_groups[0].hparams == want.session_groups[0].hparams
    assert have.session_groups[0].name == want.session_groups[0].name  # TensorBoard's hash
    assert dict(have.session_groups[0].hparams)["opt.betas.1"].number_value == 0.99


def _hparams(logdir) -> dict:
    (group,) = session_groups(str(logdir)).session_groups
    return {
        k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
        for k, v in group.hparams.items()
    }


def test_clu_writer_checks(tmp_path):
    """clu's own SummaryWriter tests, in our words, read back through TensorBoard."""
    w = ours.MetricWriter(tmp_path / "summaries")
    # an arbitrary tensor keeps its dtype and values; metadata bytes that do not parse are
    # dropped, as TensorFlow drops them
    w.write_summaries(
        11,
        {"a": np.eye(3, dtype=np.uint8), "b": np.eye(2, dtype=np.float32)},
        {"a": np.ones((2, 3)).tobytes()},
    )
    w.close()
    acc = tb.accumulator(str(tmp_path / "summaries"))
    (a,), (b,) = acc.Tensors("a"), acc.Tensors("b")
    assert (a.step, tb.array(a).dtype, tb.array(a).tolist()) == (11, np.uint8, np.eye(3).tolist())
    assert (b.step, tb.array(b).tolist()) == (11, np.eye(2).tolist())

    w = ours.MetricWriter(tmp_path / "scalars")
    w.write_scalars(11, {"a": 0.6, "b": 15})
    w.write_scalars(20, {"a": 0.8, "b": 12})
    w.close()
    a = tb.scalar_series(str(tmp_path / "scalars"), "a")
    assert [s for s, _ in a] == [11, 20]
    assert [v for _, v in a] == pytest.approx([0.6, 0.8])
    assert tb.scalar_series(str(tmp_path / "scalars"), "b") == [(11, 15.0), (20, 12.0)]

    w = ours.MetricWriter(tmp_path / "hist")
    w.write_histograms(0, {"a": np.asarray([0.3, 0.1, 0.5, 0.7, 0.1])}, num_buckets={"a": 2})
    w.write_histograms(2, {"a": np.asarray([0.2, 0.4, 0.5, 0.1, -0.1])}, num_buckets={"a": 2})
    w.close()
    hist = tb.accumulator(str(tmp_path / "hist")).Tensors("a")
    assert [e.step for e in hist] == [0, 2]
    np.testing.assert_allclose(tb.array(hist[0]), [[0.1, 0.4, 3], [0.4, 0.7, 2]])
    np.testing.assert_allclose(tb.array(hist[1]), [[-0.1, 0.2, 2], [0.2, 0.5, 3]])

    w = ours.MetricWriter(tmp_path / "hparams")
    w.write_hparams({"batch_size": 512, "num_epochs": 90})
    w.close()
    assert _hparams(tmp_path / "hparams") == {"batch_size": 512, "num_epochs": 90}

    w = ours.MetricWriter(tmp_path / "nested")
    w.write_hparams(
        {"list": [1, 2], "tuple": (3, 4), "subconfig": {"value": "a", "list": [10, 20]}}
    )
    w.close()
    assert _hparams(tmp_path / "nested") == {
        "list.0": 1,
        "list.1": 2,
        "tuple.0": 3,
        "tuple.1": 4,
        "subconfig.value": "a",
        "subconfig.list.0": 10,
        "subconfig.list.1": 20,
    }


def test_create_default_writer_wraps_ours_as_clu_does(tmp_path):
    from clu import metric_writers

    w = ours.create_default_writer(tmp_path, collection="train")
    assert isinstance(w, metric_writers.AsyncMultiWriter)
    kinds = [type(x._writer) for x in w._writers]  # each in an AsyncWriter
    assert kinds == [metric_writers.LoggingWriter, ours.MetricWriter]
    assert issubclass(ours.MetricWriter, metric_writers.MetricWriter)
    w.write_scalars(3, {"acc": 0.75})
    w.close()
    assert tb.scalar_series(str(tmp_path / "train"), "acc") == [(3, 0.75)]
    sync = ours.create_default_writer(None, asynchronous=False)
    assert type(sync) is metric_writers.MultiWriter
    assert [type(x) for x in sync._writers] == [metric_writers.LoggingWriter]


def test_other_processes_write_no_files(tmp_path, monkeypatch):
    import jax

    monkeypatch.setattr(jax, "process_index", lambda *a: 1)
    for writer in (
        ours.create_default_writer(tmp_path / "default", asynchronous=False),
        ours.MetricWriter(tmp_path / "direct"),
    ):
        _write_everything(writer)
    assert list(tmp_path.iterdir()) == []
    # process 0 (or process_zero_only=False) does write
    _write_everything(ours.MetricWriter(tmp_path / "forced", process_zero_only=False))
    monkeypatch.setattr(jax, "process_index", lambda *a: 0)
    _write_everything(ours.create_default_writer(tmp_path / "zero"))
    for run in ("forced", "zero"):
        assert tb.scalar_series(str(tmp_path / run), "loss") == [(1, 0.5), (2, 0.25)]


def test_needs_no_tensorflow(tmp_path):
    """Importing the adapter, creating writers and writing every kind import no TensorFlow;
    clu.metric_writers' other names stay reachable."""
    code = textwrap.dedent(f"""
        import sys
        import tblog.integrations.clu as m
        assert "clu" not in sys.modules and "jax" not in sys.modules
        w = m.create_default_writer({str(tmp_path)!r}, asynchronous=False)
        import numpy as np
        w.write_scalars(1, {{"loss": 0.5}})
        w.write_images(1, {{"im": np.zeros((2, 2, 3), np.uint8)}})
        w.write_audios(1, {{"au": np.zeros((1, 10, 1))}}, sample_rate=100)
        w.write_texts(1, {{"t": "x"}})
        w.write_histograms(1, {{"h": np.arange(4.0)}})
        w.write_summaries(1, {{"s": np.ones(2)}})
        w.write_hparams({{"lr": 0.1}})
        w.close()
        assert "tensorflow" not in sys.modules, "tensorflow imported"
        from clu import metric_writers
        assert metric_writers.MetricWriter is m.MetricWriter.__mro__[1]
        assert "tensorflow" not in sys.modules
        assert callable(metric_writers.write_values)  # clu's own, loaded on use
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    assert tb.scalar_series(str(tmp_path), "loss") == [(1, 0.5)]
