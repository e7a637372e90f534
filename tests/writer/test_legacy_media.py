"""A torch-style ``tblog.SummaryWriter`` writes images, figures, video and audio in the legacy
``image``/``audio`` fields, as ``torch.utils.tensorboard`` writes them, so the legacy
``EventAccumulator.Images()``/``.Audio()`` and tbparse see them as they see torch's; both
TensorBoard loaders migrate them to the images/audio plugins. ``style="tf.summary"`` keeps
the plugins' tensor encoding (what TensorFlow writes).

torch cannot write every call here: without moviepy its ``add_video`` writes an empty value,
and its ``add_audio`` takes mono only. Those are compared with what torch's code sets
(``_prepare_video``'s shape, a ``Summary.Audio`` of the clip's channels and frames).
"""

from __future__ import annotations

import glob
import io
import os
import time
import wave

import numpy as np
import pytest
import tb
from PIL import Image
from tensorboard.backend.event_processing import event_file_loader

import tblog
from tblog.checkpoint.recorder import CheckpointRecorder

torch = pytest.importorskip("torch")
tbparse = pytest.importorskip("tbparse")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402
from torch.utils.tensorboard._utils import _prepare_video  # noqa: E402

RNG = np.random.default_rng(2024)
CHW = RNG.random((3, 6, 8), dtype=np.float32)
HWC = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
GRAY = RNG.random((6, 4))
BATCH = RNG.random((5, 3, 4, 6), dtype=np.float32)
BIG = np.full((3, 40, 50), 0.5, dtype=np.float32)
BOXES = np.array([[5.0, 5.0, 30.0, 25.0]])
MONO = (np.sin(np.arange(300) / 7.0) * 1.2).astype(np.float32)  # some samples clipped
STEREO = np.stack([MONO, -MONO[::-1]]) * 0.5
VIDEO = RNG.integers(0, 256, (3, 4, 3, 5, 6), dtype=np.uint8)  # N, T, C, H, W

IMAGE_TAGS = ["batch", "boxes", "boxes_labelled", "chw", "figure", "gray", "hwc"]
AUDIO_TAGS = ["mono"]


def _figure() -> object:
    fig = plt.figure(figsize=(2, 1.5), dpi=50)
    plt.plot([0, 1], [1, 0])
    return fig


def _workload(w) -> None:
    """The calls both torch's writer and tblog's can make, at steps 1 and 4."""
    for step in (1, 4):
        w.add_image("chw", torch.from_numpy(CHW), step)
        w.add_image("hwc", HWC, step, dataformats="HWC")
        w.add_image("gray", GRAY, step, dataformats="HW")
        w.add_images("batch", BATCH, step)
        w.add_image_with_boxes("boxes", BIG, BOXES, step)
        w.add_image_with_boxes("boxes_labelled", BIG, BOXES, step, labels=["cat"])
        w.add_figure("figure", _figure(), step)
        w.add_audio("mono", torch.from_numpy(MONO), step, sample_rate=8000)


def _more(w) -> None:
    """What torch's writer cannot write here: video (moviepy) and stereo audio."""
    w.add_video("video", VIDEO, 2, fps=5)
    w.add_audio("stereo", STEREO, 3, sample_rate=16000)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    out = {}
    for name, make in (
        ("torch", TorchWriter),
        ("tblog", tblog.SummaryWriter),
        ("tf", lambda d: tblog.SummaryWriter(d, style="tf.summary")),
    ):
        d = str(root / name)
        w = make(d)
        _workload(w)
        if name != "torch":
            _more(w)
        w.close()
        out[name] = d
    return out


def raw_values(run_dir: str) -> dict[str, list]:
    """``{tag: [Summary.Value]}`` as written, in file order."""
    out: dict[str, list] = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))):
        for event in event_file_loader.LegacyEventFileLoader(path).Load():
            for value in event.summary.value:
                out.setdefault(value.tag, []).append(value)
    return out


def decoded(blob: bytes) -> Image.Image:
    return Image.open(io.BytesIO(blob))


def wav_frames(blob: bytes) -> tuple[int, int, int, np.ndarray]:
    """(channels, rate, frames, int16 samples [L, C]) of a WAV file."""
    with wave.open(io.BytesIO(blob)) as f:
        data = np.frombuffer(f.readframes(f.getnframes()), "<i2")
        return (
            f.getnchannels(),
            f.getframerate(),
            f.getnframes(),
            data.reshape(-1, f.getnchannels()),
        )


def assert_same_image(ours: bytes, theirs: bytes, tag: str) -> None:
    """Byte-identical PNGs, except where tblog keeps a gray image gray (torch makes it RGB)
    or draws labels with other text metrics: there the decoded pixels' size."""
    if tag == "gray":
        assert decoded(ours).mode == "L" and decoded(theirs).mode == "RGB"
        a, b = np.asarray(decoded(ours).convert("RGB")), np.asarray(decoded(theirs))
        np.testing.assert_array_equal(a, b)
    elif tag == "boxes_labelled":
        assert decoded(ours).size == decoded(theirs).size
        assert decoded(ours).mode == decoded(theirs).mode
    else:
        assert ours == theirs, tag


# ----------------------------------------------------------------------------- legacy readers
def test_legacy_accumulator_images_match_torch(dirs):
    ours, theirs = tb.legacy_accumulator(dirs["tblog"]), tb.legacy_accumulator(dirs["torch"])
    assert sorted(theirs.Tags()["images"]) == IMAGE_TAGS
    assert sorted(ours.Tags()["images"]) == sorted([*IMAGE_TAGS, "video"])
    for tag in IMAGE_TAGS:
        a, b = ours.Images(tag), theirs.Images(tag)
        assert [(e.step, e.width, e.height) for e in a] == [
            (e.step, e.width, e.height) for e in b
        ], tag
        assert [e.step for e in a] == [1, 4]
        for x, y in zip(a, b, strict=True):
            assert (x.width, x.height) == decoded(x.encoded_image_string).size
            assert_same_image(x.encoded_image_string, y.encoded_image_string, tag)


def test_legacy_image_fields_match_torch(dirs):
    """colorspace (not in ``Images()``) is the encoded image's channel count, as torch sets
    it: the same for every RGB image; 1 for tblog's gray PNG where torch's PNG is RGB."""
    ours, theirs = raw_values(dirs["tblog"]), raw_values(dirs["torch"])
    for tag in IMAGE_TAGS:
        for x, y in zip(ours[tag], theirs[tag], strict=True):
            assert x.WhichOneof("value") == y.WhichOneof("value") == "image", tag
            assert not x.HasField("metadata") and not y.HasField("metadata")
            a, b = x.image, y.image
            assert (a.width, a.height) == (b.width, b.height), tag
            assert a.colorspace == len(decoded(a.encoded_image_string).getbands()), tag
            assert b.colorspace == len(decoded(b.encoded_image_string).getbands()), tag
            assert a.colorspace == (1 if tag == "gray" else b.colorspace), tag


def test_legacy_video_has_torchs_fields(dirs):
    """torch's ``video()``: a GIF, height and width of ``_prepare_video``'s grid, colorspace
    the video's channels (torch without moviepy writes no image, so the shape is torch's
    own function's)."""
    t, h, w, c = _prepare_video(VIDEO).shape
    (event,) = tb.legacy_accumulator(dirs["tblog"]).Images("video")
    assert (event.step, event.width, event.height) == (2, w, h)
    gif = decoded(event.encoded_image_string)
    assert gif.format == "GIF" and gif.n_frames == t and gif.size == (w, h)
    (value,) = raw_values(dirs["tblog"])["video"]
    assert value.image.colorspace == c == 3
    assert not value.HasField("metadata")


def test_legacy_accumulator_audio_matches_torch(dirs):
    ours, theirs = tb.legacy_accumulator(dirs["tblog"]), tb.legacy_accumulator(dirs["torch"])
    assert sorted(theirs.Tags()["audio"]) == AUDIO_TAGS
    assert sorted(ours.Tags()["audio"]) == ["mono", "stereo"]
    fields = ("step", "content_type", "sample_rate", "length_frames", "encoded_audio_string")
    a, b = ours.Audio("mono"), theirs.Audio("mono")
    assert [[getattr(e, f) for f in fields] for e in a] == [
        [getattr(e, f) for f in fields] for e in b
    ]
    assert [(e.step, e.sample_rate, e.length_frames) for e in a] == [(1, 8000, 300), (4, 8000, 300)]
    mono = raw_values(dirs["tblog"])["mono"], raw_values(dirs["torch"])["mono"]
    for x, y in zip(*mono, strict=True):
        assert x.WhichOneof("value") == y.WhichOneof("value") == "audio"
        assert x.audio.num_channels == y.audio.num_channels == 1
        assert not x.HasField("metadata")


def test_legacy_stereo_audio(dirs):
    """torch's ``audio()`` is mono only; a stereo clip gets its own channel count."""
    (event,) = tb.legacy_accumulator(dirs["tblog"]).Audio("stereo")
    assert (event.step, event.sample_rate, event.length_frames) == (3, 16000, 300)
    assert event.content_type == "audio/wav"
    channels, rate, frames, samples = wav_frames(event.encoded_audio_string)
    assert (channels, rate, frames) == (2, 16000, 300)
    want = (np.clip(STEREO, -1, 1) * 32767).astype("<i2").T
    np.testing.assert_array_equal(samples, want)
    (value,) = raw_values(dirs["tblog"])["stereo"]
    assert value.audio.num_channels == 2 and value.audio.length_frames == 300


def test_tbparse_media_rows_match_torch(dirs):
    ours, theirs = tbparse.SummaryReader(dirs["tblog"]), tbparse.SummaryReader(dirs["torch"])
    for kind, extra in (("images", ["video"]), ("audio", ["stereo"])):
        mine = sorted(map(tuple, getattr(ours, kind)[["tag", "step"]].values.tolist()))
        torchs = sorted(map(tuple, getattr(theirs, kind)[["tag", "step"]].values.tolist()))
        assert torchs and [r for r in mine if r[0] not in extra] == torchs, kind
        assert [r for r in mine if r[0] in extra] == [(extra[0], 2 if kind == "images" else 3)]


# ----------------------------------------------------------------------------- plugin loaders
def test_plugin_loader_migrates_to_the_same_blobs(dirs):
    """TensorBoard's server-side loader (data_compat migration) shows every tag under its
    plugin, with torch's ``[width, height, png]`` / ``[[wav, label]]`` data; tblog's legacy
    values hold the same bytes as the tf.summary style's tensors (pixels unchanged)."""
    from tensorboard.compat.proto import summary_pb2

    mux = tb.multiplexer(os.path.dirname(dirs["tblog"]))
    runs = {name: os.path.basename(d) for name, d in dirs.items()}
    content = {p: mux.PluginRunToTagToContent(p) for p in ("images", "audio")}
    blob = summary_pb2.DATA_CLASS_BLOB_SEQUENCE
    for plugin, tags in (("images", IMAGE_TAGS), ("audio", AUDIO_TAGS)):
        for name in ("torch", "tblog", "tf"):
            assert sorted(set(content[plugin][runs[name]]) & {*tags}) == tags, (plugin, name)
        for tag in tags:
            # the metadata TensorBoard gives a migrated legacy value (display name, the
            # plugin data's converted_to_tensor), as for torch's
            md = [mux.SummaryMetadata(runs[n], tag) for n in ("tblog", "torch")]
            assert md[0] == md[1], tag
            assert md[0].data_class == blob and md[0].plugin_data.plugin_name == plugin
            got = {n: [(e.step, tb.array(e)) for e in mux.Tensors(runs[n], tag)] for n in runs}
            assert [s for s, _ in got["tblog"]] == [s for s, _ in got["torch"]] == [1, 4]
            for (_, ours), (_, theirs), (_, tf) in zip(
                got["tblog"], got["torch"], got["tf"], strict=True
            ):
                assert ours.shape == theirs.shape, tag
                if plugin == "images":
                    assert list(ours[:2]) == list(theirs[:2]) == list(tf[:2]), tag
                    assert_same_image(ours[2], theirs[2], tag)
                    if tag != "boxes_labelled":
                        assert ours[2] == tf[2], tag
                else:  # the clips column of [[wav, label]], as the loader projects it
                    assert ours.shape == (1,)
                    assert ours[0] == theirs[0] == tf[0]
    for tag, plugin in (("video", "images"), ("stereo", "audio")):
        ours = [tb.array(e) for e in mux.Tensors(runs["tblog"], tag)]
        tf = [tb.array(e) for e in mux.Tensors(runs["tf"], tag)]
        assert tag in content[plugin][runs["tblog"]]
        assert len(ours) == len(tf) == 1
        np.testing.assert_array_equal(ours[0].reshape(-1)[:3], tf[0].reshape(-1)[:3])


# ----------------------------------------------------------------------------- encodings by style
def test_raw_value_field_by_style(dirs):
    """torch style: the legacy fields, no metadata; tf.summary style: the plugins' tensors
    with their metadata (what TensorFlow writes), for every media call."""
    torch_style, tf_style = raw_values(dirs["tblog"]), raw_values(dirs["tf"])
    media = {**dict.fromkeys([*IMAGE_TAGS, "video"], "images"), "mono": "audio", "stereo": "audio"}
    for tag, plugin in media.items():
        for value in torch_style[tag]:
            assert value.WhichOneof("value") == {"images": "image", "audio": "audio"}[plugin]
            assert not value.HasField("metadata"), tag
        for value in tf_style[tag]:
            assert value.WhichOneof("value") == "tensor", tag
            assert value.metadata.plugin_data.plugin_name == plugin, tag


# ----------------------------------------------------------------------------- resume
def _img(value: int) -> np.ndarray:
    return np.full((3, 4, 4), value, dtype=np.uint8)


def test_legacy_images_resumed_from_a_checkpoint(tmp_path):
    """Images logged at 0..5, a crash, a restore of the checkpoint of step 2 and images
    logged again at 3..5: one image per step, the new ones from step 3 on, in TensorBoard's
    plugin loader and the legacy EventAccumulator (the placeholders of the legacy image tag
    are purged with the stale points)."""
    w = tblog.SummaryWriter(tmp_path)
    rec = CheckpointRecorder(w)
    for step in range(6):
        w.add_image("img", _img(step), step)
        if step == 2:
            rec.before_save()
            rec.saved(step, "ckpt-2")
    w.flush()  # then "crash": the process goes on without closing it
    time.sleep(1.05)  # event files sort by their name's seconds: the resumed file comes later
    w2 = tblog.SummaryWriter(tmp_path)
    CheckpointRecorder(w2).restored(2, "ckpt-2")
    for step in range(3, 6):
        w2.add_image("img", _img(100 + step), step)
    w2.close()
    w.close()
    want = [(s, s if s <= 2 else 100 + s) for s in range(6)]
    events = tb.accumulator(str(tmp_path)).Tensors("img")
    got = [(e.step, int(np.asarray(decoded(tb.array(e)[2]))[0, 0, 0])) for e in events]
    assert got == want
    legacy = tb.legacy_accumulator(str(tmp_path)).Images("img")
    got = [(e.step, int(np.asarray(decoded(e.encoded_image_string))[0, 0, 0])) for e in legacy]
    assert got == want
    kinds = {v.WhichOneof("value") for v in raw_values(str(tmp_path))["img"]}
    assert "image" in kinds  # the images themselves are legacy values
