"""Images, figures, video, audio and text: written by tblog, judged by TensorBoard's loaders,
and compared with what torch.utils.tensorboard writes for the same calls."""

from __future__ import annotations

import io
import os
import wave

import numpy as np
import pytest
import tb
import torch
from PIL import Image
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.audio import metadata as audio_metadata
from tensorboard.plugins.image import metadata as image_metadata
from tensorboard.plugins.text import text_plugin
from tensorboard.util import img_mime_type_detector
from torch.utils.tensorboard import SummaryWriter as TorchWriter

import tblog
from tblog.core.summaries import audio, figure, image, text, video

BLOB = summary_pb2.DATA_CLASS_BLOB_SEQUENCE


# ----------------------------------------------------------------------------- helpers
def write(run_dir, calls, writer_cls=tblog.SummaryWriter):
    """Run ``calls(writer)`` against a fresh writer for ``run_dir`` and close it."""
    w = writer_cls(str(run_dir))
    try:
        calls(w)
    finally:
        w.close()
    return str(run_dir)


def series(run_dir, plugin):
    """``{tag: [(step, ndarray)]}`` of one plugin, plus the accumulator, as TensorBoard loads it."""
    acc = tb.accumulator(run_dir)
    out = {
        tag: [(e.step, tb.array(e)) for e in acc.Tensors(tag)]
        for tag in acc.PluginTagToContent(plugin)
    }
    return out, acc


def png_pixels(blob: bytes, mode: str | None = None) -> np.ndarray:
    im = Image.open(io.BytesIO(blob))
    assert im.format == "PNG"
    return np.asarray(im if mode is None else im.convert(mode))


def one_image(run_dir, tag):
    """(step, width, height, PNG bytes) of the single image logged under ``tag``."""
    images, acc = series(run_dir, "images")
    assert list(images) == [tag]
    md = acc.SummaryMetadata(tag)
    assert md.data_class == BLOB
    assert image_metadata.parse_plugin_metadata(md.plugin_data.content).version == 0
    [(step, arr)] = images[tag]
    assert arr.shape == (3,)
    return step, int(arr[0]), int(arr[1]), bytes(arr[2])


def expected_uint8(x: np.ndarray) -> np.ndarray:
    """The documented pixel rule: uint8 as is, otherwise x * 255 clipped to 0-255, truncated
    (up to float32 rounding, so compare float inputs with atol=1)."""
    if x.dtype == np.uint8:
        return x
    return np.floor(np.clip(x.astype(np.float64) * 255, 0, 255)).astype(np.uint8)


RNG = np.random.default_rng(1234)


# ----------------------------------------------------------------------------- images
@pytest.mark.parametrize(
    ("shape", "fmt", "hwc_axes", "mode"),
    [
        ((6, 9), "HW", (0, 1), "L"),
        ((9, 6), "WH", (1, 0), "L"),
        ((1, 6, 9), "CHW", (1, 2, 0), "L"),
        ((3, 6, 9), "CHW", (1, 2, 0), "RGB"),
        ((6, 9, 3), "HWC", (0, 1, 2), "RGB"),
        ((6, 9, 4), "hwc", (0, 1, 2), "RGBA"),
        ((2, 6, 9), "CHW", (1, 2, 0), "LA"),
        ((1, 3, 6, 9), "NCHW", (0, 2, 3, 1), "RGB"),
        ((1, 6, 9, 4), "NHWC", (0, 1, 2, 3), "RGBA"),
    ],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_image_layouts_and_pixels(tmp_path, shape, fmt, hwc_axes, mode, dtype):
    if dtype == np.uint8:
        x = RNG.integers(0, 256, shape, dtype=np.uint8)
    else:
        x = RNG.random(shape).astype(dtype)
    run = write(tmp_path, lambda w: w.add_image("img/a", x, 7, dataformats=fmt))
    step, width, height, blob = one_image(run, "img/a")
    want = expected_uint8(np.transpose(x, hwc_axes).reshape(6, 9, -1))
    got = png_pixels(blob)
    assert step == 7 and (width, height) == (9, 6)
    assert Image.open(io.BytesIO(blob)).mode == mode
    atol = 0 if dtype == np.uint8 else 1
    np.testing.assert_allclose(got.reshape(want.shape).astype(int), want.astype(int), atol=atol)
    assert img_mime_type_detector.from_bytes(blob) == "image/png"


def test_image_float_out_of_range_is_clipped(tmp_path):
    x = np.array([[-3.0, 0.0, 0.5], [1.0, 1.5, 1e9]], dtype=np.float32)
    run = write(tmp_path, lambda w: w.add_image("clip", x, dataformats="HW"))
    _, _, _, blob = one_image(run, "clip")
    np.testing.assert_array_equal(png_pixels(blob), [[0, 0, 127], [255, 255, 255]])


@pytest.mark.parametrize(
    ("value", "fmt", "exc", "words"),
    [
        (np.full((3, 4, 4), np.nan), "CHW", ValueError, "NaN"),
        (np.full((4, 4), np.inf), "HW", ValueError, "NaN or infinity"),
        (np.zeros((3, 4, 5)), "HWC", ValueError, "channels"),
        (np.zeros((4, 4)), "CHW", ValueError, "dataformats"),
        (np.zeros((3, 4, 4)), "CHX", ValueError, "dataformats"),
        (np.zeros((3, 4, 4)), "CHH", ValueError, "dataformats"),
        (np.zeros((5, 4, 4)), "CHW", ValueError, r"\(5, 4, 4\)"),
        (np.zeros((3, 0, 4)), "CHW", ValueError, "empty"),
        (np.array([["a"]]), "HW", TypeError, "dtype"),
        (np.zeros((4, 4), dtype=complex), "HW", TypeError, "dtype"),
        (np.zeros((4, 4)), 3, TypeError, "dataformats"),
    ],
)
def test_image_rejects_bad_input(tmp_path, value, fmt, exc, words):
    with tblog.SummaryWriter(str(tmp_path)) as w, pytest.raises(exc, match=words):
        w.add_image("bad", value, 0, dataformats=fmt)
    with pytest.raises(exc):
        image.image_pb("bad", value, fmt)


def test_image_wrong_rank_error_names_dataformats_and_shape():
    with pytest.raises(ValueError) as info:
        image.image_pb("t", np.zeros((2, 3, 4, 5)), "CHW")
    assert "dataformats" in str(info.value) and "(2, 3, 4, 5)" in str(info.value)


def test_images_grid_layout(tmp_path):
    """11 distinct 2x3 tiles -> 8 columns, 2 rows, row-major, black padding."""
    n, h, w = 11, 2, 3
    x = (np.arange(1, n + 1, dtype=np.uint8) * 20)[:, None, None, None] * np.ones(
        (1, 1, h, w), np.uint8
    )
    run = write(tmp_path, lambda wr: wr.add_images("grid", x, 3))
    step, width, height, blob = one_image(run, "grid")
    assert (step, width, height) == (3, 8 * w, 2 * h)
    got = png_pixels(blob, "L")
    for i in range(16):
        r, c = divmod(i, 8)
        tile = got[r * h : (r + 1) * h, c * w : (c + 1) * w]
        assert (tile == (x[i, 0, 0, 0] if i < n else 0)).all(), i


# ----------------------------------------------------------------------------- torch differential


def both(tmp_path, calls):
    """Run the same calls through torch's writer and tblog's; return both run dirs."""
    return (
        write(tmp_path / "torch", calls, TorchWriter),
        write(tmp_path / "tblog", calls, tblog.SummaryWriter),
    )


def image_view(run_dir):
    """{tag: [(step, width, height, RGBA pixels)]} as TensorBoard shows it."""
    images, _ = series(run_dir, "images")
    return {
        tag: [(s, int(a[0]), int(a[1]), png_pixels(bytes(a[2]), "RGBA")) for s, a in events]
        for tag, events in images.items()
    }


def assert_same_images(a, b):
    assert sorted(a) == sorted(b)
    for tag in a:
        assert len(a[tag]) == len(b[tag]), tag
        for (s1, w1, h1, p1), (s2, w2, h2, p2) in zip(a[tag], b[tag], strict=True):
            assert (s1, w1, h1) == (s2, w2, h2), tag
            np.testing.assert_array_equal(p1, p2, err_msg=tag)


def test_images_match_torch(tmp_path):
    gray = RNG.random((4, 5), dtype=np.float32)
    rgb = RNG.integers(0, 256, (3, 5, 7), dtype=np.uint8)
    hwc = RNG.random((5, 7, 3)) * 1.4 - 0.2  # float64, some values out of range
    batches = {
        n: RNG.random((n, c, 4, 6), dtype=np.float32)
        for n, c in ((1, 3), (3, 1), (8, 3), (11, 3), (17, 1))
    }
    nhwc = RNG.integers(0, 256, (5, 4, 6, 3), dtype=np.uint8)

    def calls(w):
        w.add_image("single/gray", gray, 0, dataformats="HW")
        w.add_image("single/rgb", rgb, 1)
        w.add_image("single/hwc", hwc, 2, dataformats="HWC")
        w.add_image("single/rgb", rgb[::-1], 5)
        w.add_image("single/torch", torch.from_numpy(hwc).permute(2, 0, 1), 6)
        w.add_images("batch/torch", torch.from_numpy(batches[3]).to(torch.float16), 7)
        for n, b in batches.items():
            w.add_images(f"batch/{n}", b, n)
        w.add_images("batch/nhwc", nhwc, 4, dataformats="NHWC")

    t, o = both(tmp_path, calls)
    assert_same_images(image_view(t), image_view(o))


def test_image_with_boxes(tmp_path):
    x = np.zeros((3, 40, 50), dtype=np.float32)
    boxes = np.array([[5, 5, 20, 30], [25, 10, 45, 35]])
    run = write(tmp_path, lambda w: w.add_image_with_boxes("boxes", x, boxes, 2))
    step, width, height, blob = one_image(run, "boxes")
    assert (step, width, height) == (2, 50, 40)
    px = png_pixels(blob, "RGB").astype(int)
    red = (px[..., 0] > 200) & (px[..., 1] < 50) & (px[..., 2] < 50)
    for x1, y1, x2, y2 in boxes:
        assert red[y1, (x1 + x2) // 2] and red[y2, (x1 + x2) // 2]  # top and bottom edges
        assert red[(y1 + y2) // 2, x1] and red[(y1 + y2) // 2, x2]  # left and right edges
        assert not red[y1 + 4 : y2 - 3, x1 + 4 : x2 - 3].any()  # inside untouched
    assert not red[:, :3].any() and not red[37:, :].any()  # far from every box: untouched
    assert (px[~red] == 0).all()  # only red was drawn on the black image


def test_image_with_boxes_labels_rescale_and_torch(tmp_path):
    x = np.full((60, 80), 0.5, dtype=np.float32)
    boxes = np.array([[10.0, 10.0, 70.0, 50.0]])

    def calls(w):
        w.add_image_with_boxes("b/plain", np.stack([x] * 3), boxes, 1)
        w.add_image_with_boxes("b/label", np.stack([x] * 3), boxes, 1, labels=["cat"])
        w.add_image_with_boxes("b/rescaled", np.stack([x] * 3), boxes, 1, rescale=0.5)

    t, o = both(tmp_path, calls)
    tv, ov = image_view(t), image_view(o)
    assert sorted(tv) == sorted(ov) == ["b/label", "b/plain", "b/rescaled"]
    for tag in tv:
        (s1, _, _, p1), (s2, w2, h2, p2) = tv[tag][0], ov[tag][0]
        assert s1 == s2 and p1.shape == p2.shape
        assert (w2, h2) == p2.shape[1::-1]  # tblog's header matches its PNG
    # torch's header keeps the pre-rescale size (80x60); the PNG, what users see, is 40x30
    assert ov["b/rescaled"][0][3].shape[:2] == (30, 40) == tv["b/rescaled"][0][3].shape[:2]
    np.testing.assert_array_equal(tv["b/plain"][0][3], ov["b/plain"][0][3])
    # the label is drawn: red fill plus dark text near the lower-left corner of the box
    label_area = ov["b/label"][0][3][35:51, 10:40, :3].astype(int)
    plain_area = ov["b/plain"][0][3][35:51, 10:40, :3].astype(int)
    assert (label_area[..., 0] > 200).sum() > 50 and (label_area.sum(-1) < 100).sum() > 5
    assert not np.array_equal(label_area, plain_area)


@pytest.mark.parametrize(
    ("boxes", "kwargs", "exc", "words"),
    [
        (np.zeros((2, 3)), {}, ValueError, r"\[N, 4\]"),
        (np.full((1, 4), np.nan), {}, ValueError, "NaN"),
        (np.zeros((2, 4)), {"labels": ["one"]}, ValueError, "labels"),
        (np.zeros((1, 4)), {"rescale": 0}, ValueError, "rescale"),
        (np.array([["a"] * 4]), {}, TypeError, "box_tensor"),
    ],
)
def test_image_with_boxes_rejects_bad_input(boxes, kwargs, exc, words):
    with pytest.raises(exc, match=words):
        image.image_with_boxes_pb("b", np.zeros((3, 8, 8)), boxes, **kwargs)


# ----------------------------------------------------------------------------- figures
def _figure(seed, size=(3, 2), pyplot=False):
    import matplotlib

    matplotlib.use("Agg")
    if pyplot:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=size, dpi=50)
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=size, dpi=50)
    ax = fig.add_subplot()
    ax.plot(np.random.default_rng(seed).random(10), color="tab:red")
    ax.set_title(f"seed {seed}")
    return fig


def test_figures_match_torch(tmp_path):
    def calls(w):
        w.add_figure("fig/one", _figure(1), 0)
        w.add_figure("fig/list", [_figure(2), _figure(3), _figure(4)], 1)

    t, o = both(tmp_path, calls)
    tv, ov = image_view(t), image_view(o)
    assert (ov["fig/one"][0][1], ov["fig/one"][0][2]) == (150, 100)
    assert (ov["fig/list"][0][1], ov["fig/list"][0][2]) == (450, 100)
    assert_same_images(tv, ov)
    # a plot is drawn: the red line's pixels are present
    px = ov["fig/one"][0][3].astype(int)
    assert ((px[..., 0] > 180) & (px[..., 1] < 80)).sum() > 20


def test_figure_keeps_canvas_and_closes_in_pyplot(tmp_path):
    import matplotlib.pyplot as plt

    kept, closed = _figure(5, pyplot=True), _figure(6, pyplot=True)
    canvas = kept.canvas
    with tblog.SummaryWriter(str(tmp_path)) as w:
        w.add_figure("kept", kept, close=False)
        w.add_figure("closed", closed)
    assert kept.canvas is canvas and plt.fignum_exists(kept.number)
    assert not plt.fignum_exists(closed.number)
    plt.close(kept)
    images, _ = series(str(tmp_path), "images")
    assert sorted(images) == ["closed", "kept"]


def test_other_ranks_write_nothing_but_close_figures(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("RANK", "1")
    fig = _figure(7, pyplot=True)
    with tblog.SummaryWriter(str(tmp_path / "rank1")) as w:
        w.add_image("i", np.zeros((3, 2, 2)), 0)
        w.add_images("b", np.zeros((2, 3, 2, 2)), 0)
        w.add_video("v", np.zeros((1, 2, 3, 2, 2)), 0)
        w.add_audio("a", np.zeros(10), 0)
        w.add_text("t", "x", 0)
        w.add_image_with_boxes("x", np.zeros((3, 4, 4)), np.zeros((1, 4)), 0)
        w.add_figure("f", fig, 0)
    assert not plt.fignum_exists(fig.number)
    assert not [f for _, _, files in os.walk(tmp_path) for f in files]


def test_figure_rejects_bad_input():
    with pytest.raises(TypeError, match="Figure"):
        figure.figure_pb("f", np.zeros((3, 3)))
    with pytest.raises(ValueError, match="empty"):
        figure.figure_pb("f", [])
    with pytest.raises(ValueError, match="same size"):
        figure.figure_pb("f", [_figure(1, (2, 2)), _figure(2, (3, 2))])


# ----------------------------------------------------------------------------- video
def gif_frames(blob: bytes) -> tuple[list[np.ndarray], list[int]]:
    im = Image.open(io.BytesIO(blob))
    assert im.format == "GIF"
    frames, durations = [], []
    for i in range(im.n_frames):
        im.seek(i)
        durations.append(im.info["duration"])
        frames.append(np.asarray(im.convert("RGB")))
    return frames, durations


@pytest.mark.parametrize(
    ("n", "rows", "cols"), [(1, 1, 1), (2, 1, 2), (3, 1, 4), (4, 2, 2), (5, 2, 4)]
)
@pytest.mark.parametrize("channels", [1, 3])
def test_video_gif_frames(tmp_path, n, rows, cols, channels):
    t, h, w = 4, 5, 6
    if channels == 3:
        palette = np.array(
            [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [90, 90, 90]]
        )
    else:
        palette = np.array([[0], [255], [90], [170], [30], [220]])
    idx = RNG.integers(1, len(palette), (n, t, h, w))
    idx[:, :, 0, 0] = np.arange(t) + 1  # consecutive frames differ (GIF merges equal ones)
    vid = np.moveaxis(palette[idx], -1, 2).astype(np.float32) / 255  # [N, T, C, H, W] in 0-1
    run = write(tmp_path, lambda wr: wr.add_video("vid", vid, 9, fps=5))
    step, width, height, blob = one_image(run, "vid")
    assert (step, width, height) == (9, cols * w, rows * h)
    assert img_mime_type_detector.from_bytes(blob) == "image/gif"
    frames, durations = gif_frames(blob)
    assert len(frames) == t and set(durations) == {200}
    rgb = palette[idx] if channels == 3 else np.repeat(palette[idx], 3, -1)
    for f in range(t):
        for i in range(rows * cols):
            r, c = divmod(i, cols)
            tile = frames[f][r * h : (r + 1) * h, c * w : (c + 1) * w]
            np.testing.assert_array_equal(
                tile, rgb[i, f] if i < n else 0, err_msg=f"frame {f} tile {i}"
            )


def test_video_uint8(tmp_path):
    vid = np.zeros((1, 3, 3, 4, 4), dtype=np.uint8)  # [N, T, C, H, W]
    vid[0, 0, 0], vid[0, 1, 1], vid[0, 2, 2] = 255, 255, 255
    run = write(tmp_path, lambda w: w.add_video("v", vid, 3, fps=20))
    images, _ = series(run, "images")
    [(step, arr)] = images["v"]
    frames, durations = gif_frames(bytes(arr[2]))
    assert step == 3 and durations == [50, 50, 50]
    assert [tuple(f[0, 0]) for f in frames] == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def test_video_colours(tmp_path):
    """Up to 256 colours over the whole video are exact; more are approximated closely."""
    palette = RNG.integers(0, 256, (250, 3), dtype=np.uint8)
    exact = np.moveaxis(palette[RNG.integers(0, 250, (1, 6, 16, 20))], -1, 2)  # [1, 6, 3, 16, 20]
    noisy = RNG.integers(0, 256, (1, 6, 3, 16, 20), dtype=np.uint8)

    def calls(w):
        w.add_video("exact", exact, 0)
        w.add_video("noisy", noisy, 0)

    images, _ = series(write(tmp_path, calls), "images")
    for tag, video_in, tolerance in (("exact", exact, 0), ("noisy", noisy, 25)):
        [(_, arr)] = images[tag]
        frames, _ = gif_frames(bytes(arr[2]))
        want = np.moveaxis(video_in[0], 1, -1).astype(int)  # [T, H, W, 3]
        assert np.stack(frames).shape == want.shape
        assert np.abs(np.stack(frames).astype(int) - want).mean() <= tolerance, tag


@pytest.mark.parametrize(
    ("vid", "fps", "exc", "words"),
    [
        (np.zeros((3, 4, 4)), 4, ValueError, r"\[N, T, C, H, W\]"),
        (np.zeros((2, 3, 4, 4)), 4, ValueError, r"\[N, T, C, H, W\]"),
        (np.zeros((1, 2, 2, 4, 4)), 4, ValueError, "channels"),
        (np.zeros((1, 0, 3, 4, 4)), 4, ValueError, "empty"),
        (np.full((1, 2, 3, 4, 4), np.nan), 4, ValueError, "NaN"),
        (np.zeros((1, 2, 3, 4, 4)), 0, ValueError, "fps"),
        (np.zeros((1, 2, 3, 4, 4)), "4", TypeError, "fps"),
    ],
)
def test_video_rejects_bad_input(vid, fps, exc, words):
    with pytest.raises(exc, match=words):
        video.video_pb("v", vid, fps=fps)


# ----------------------------------------------------------------------------- audio
def audio_view(run_dir):
    """{tag: [(step, channels, rate, int16 samples [L, C])]}, checking TB's metadata."""
    clips, acc = series(run_dir, "audio")
    out = {}
    for tag, events in clips.items():
        md = acc.SummaryMetadata(tag)
        assert md.data_class == BLOB
        parsed = audio_metadata.parse_plugin_metadata(md.plugin_data.content)
        assert parsed.encoding == audio_metadata.Encoding.Value("WAV")
        out[tag] = []
        for step, arr in events:
            assert arr.shape == (1,)  # TensorBoard kept the clip column only
            with wave.open(io.BytesIO(bytes(arr[0]))) as wav:
                assert wav.getsampwidth() == 2
                n, rate = wav.getnchannels(), wav.getframerate()
                pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, n)
            out[tag].append((step, n, rate, pcm))
    return out


def test_audio_mono_stereo_and_clipping(tmp_path):
    t = np.linspace(0, 1, 800, dtype=np.float32)
    mono = np.sin(2 * np.pi * 5 * t) * 1.5  # clipped at +-1
    stereo = np.stack([np.sin(2 * np.pi * 3 * t), np.cos(2 * np.pi * 3 * t)]) * 0.5

    def calls(w):
        w.add_audio("a/mono", mono, 1, sample_rate=8000)
        w.add_audio("a/row", mono[None], 2, sample_rate=16000)
        w.add_audio("a/stereo", stereo, 3, sample_rate=22050)

    view = audio_view(write(tmp_path, calls))
    want_mono = np.trunc(np.clip(mono.astype(np.float64), -1, 1) * 32767)
    assert [(s, n, r) for s, n, r, _ in view["a/mono"]] == [(1, 1, 8000)]
    assert [(s, n, r) for s, n, r, _ in view["a/row"]] == [(2, 1, 16000)]
    assert [(s, n, r) for s, n, r, _ in view["a/stereo"]] == [(3, 2, 22050)]
    np.testing.assert_allclose(view["a/mono"][0][3][:, 0], want_mono, atol=1)
    assert view["a/mono"][0][3].max() == 32767 and view["a/mono"][0][3].min() == -32767
    np.testing.assert_array_equal(view["a/row"][0][3], view["a/mono"][0][3])
    np.testing.assert_allclose(view["a/stereo"][0][3], stereo.T * 32767, atol=1)


def test_audio_matches_torch(tmp_path):
    snd = (RNG.random(1000, dtype=np.float32) * 2.4 - 1.2).astype(np.float32)

    def calls(w):
        w.add_audio("s", snd, 0, sample_rate=8000)
        w.add_audio("s", snd[None, ::2], 5, sample_rate=4000)
        w.add_audio("quiet", snd * 0.1, 2)

    t, o = both(tmp_path, calls)
    tv, ov = audio_view(t), audio_view(o)
    assert sorted(tv) == sorted(ov) == ["quiet", "s"]
    for tag in tv:
        assert len(tv[tag]) == len(ov[tag])
        for (s1, n1, r1, p1), (s2, n2, r2, p2) in zip(tv[tag], ov[tag], strict=True):
            assert (s1, n1, r1) == (s2, n2, r2)
            np.testing.assert_array_equal(p1, p2)


@pytest.mark.parametrize(
    ("snd", "rate", "exc", "words"),
    [
        (np.zeros((2, 3, 10)), 8000, ValueError, "shape"),
        (np.zeros(0), 8000, ValueError, "shape"),
        (np.zeros((100, 2)), 8000, ValueError, "channels-first"),
        (np.array([0.1, np.nan]), 8000, ValueError, "NaN"),
        (np.zeros(10), 0, ValueError, "sample_rate"),
        (np.zeros(10), "fast", TypeError, "sample_rate"),
        (np.array(["a", "b"]), 8000, TypeError, "snd_tensor"),
    ],
)
def test_audio_rejects_bad_input(snd, rate, exc, words):
    with pytest.raises(exc, match=words):
        audio.audio_pb("a", snd, sample_rate=rate)


# ----------------------------------------------------------------------------- text
def text_view(run_dir):
    texts, acc = series(run_dir, "text")
    for tag in texts:
        assert acc.SummaryMetadata(tag).plugin_data.plugin_name == "text"
    return {
        tag: [(s, [bytes(v).decode() for v in a.reshape(-1)]) for s, a in ev]
        for tag, ev in texts.items()
    }


def test_text_matches_torch(tmp_path):
    def calls(w):
        w.add_text("notes", "# Title\nsome *markdown* ✓", 0)
        w.add_text("notes", "second", 4)
        w.add_text("other/tag", "", 2)

    t, o = both(tmp_path, calls)
    tv, ov = text_view(t), text_view(o)
    assert ov == tv
    assert ov["notes/text_summary"] == [(0, ["# Title\nsome *markdown* ✓"]), (4, ["second"])]


def test_text_renders_in_tensorboard(tmp_path):
    def calls(w):
        w.add_text("para", "**bold** words", 1)
        w._summary(text.text_pb("table", [["a", "b"], ["c", "*d*"]]), 2, None)

    texts, _ = series(write(tmp_path, calls), "text")
    [(_, para)] = texts["para/text_summary"]
    [(_, table)] = texts["table"]
    assert para.shape == () and table.shape == (2, 2)
    para_html = text_plugin.text_array_to_html(para, enable_markdown=True)
    assert "<strong>bold</strong>" in para_html and "<table>" not in para_html
    table_html = text_plugin.text_array_to_html(table, enable_markdown=True)
    assert "<table>" in table_html and "<em>d</em>" in table_html


@pytest.mark.parametrize(
    ("value", "exc"),
    [
        (3, TypeError),
        (None, TypeError),
        (b"\xff\xfe", ValueError),
        ([], ValueError),
        (["a", 1], TypeError),
    ],
)
def test_text_rejects_bad_input(value, exc):
    with pytest.raises(exc, match="text_string"):
        text.text_pb("t", value)


def test_media_tags_in_multiplexer(tmp_path):
    """All kinds land in one run that TensorBoard's multiplexer lists under the right plugins."""

    def calls(w):
        w.add_image("i", np.zeros((3, 2, 2)), 0)
        w.add_video("v", np.zeros((1, 2, 3, 2, 2)), 0)
        w.add_audio("a", np.zeros(10), 0)
        w.add_text("t", "x", 0)

    write(tmp_path / "run", calls)
    mux = tb.multiplexer(str(tmp_path))
    assert sorted(mux.PluginRunToTagToContent("images")["run"]) == ["i", "v"]
    assert list(mux.PluginRunToTagToContent("audio")["run"]) == ["a"]
    assert list(mux.PluginRunToTagToContent("text")["run"]) == ["t/text_summary"]
    assert os.listdir(tmp_path / "run")


def test_image_samples_match_tf_summary_image(tmp_path):
    """``image_samples_pb`` writes what ``tf.summary.image`` writes for a uint8 batch."""
    import tensorflow as tf

    batch = RNG.integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    gray = RNG.integers(0, 256, (2, 6, 7, 1), dtype=np.uint8)
    tf_writer = tf.summary.create_file_writer(str(tmp_path / "tf"))
    with tf_writer.as_default():
        tf.summary.image("samples", batch, step=3)
        tf.summary.image("gray", gray, step=4, max_outputs=1)
    tf_writer.close()

    def calls(w):
        w._summary(image.image_samples_pb("samples", batch), 3, None)
        w._summary(image.image_samples_pb("gray", gray, max_outputs=1), 4, None)

    run = write(tmp_path / "tblog", calls)
    theirs, _ = series(str(tmp_path / "tf"), "images")
    ours, _ = series(run, "images")
    assert sorted(theirs) == sorted(ours) == ["gray", "samples"]
    for tag in ours:
        [(s1, a1)], [(s2, a2)] = theirs[tag], ours[tag]
        assert s1 == s2 and a1.shape == a2.shape and list(a1[:2]) == list(a2[:2])
        for b1, b2 in zip(a1[2:], a2[2:], strict=True):
            np.testing.assert_array_equal(png_pixels(bytes(b1)), png_pixels(bytes(b2)))
    assert ours["samples"][0][1].shape == (2 + 3,)  # max_outputs=3 by default
    with pytest.raises(ValueError, match="max_outputs"):
        image.image_samples_pb("x", batch, max_outputs=0)


def test_descriptions_reach_tensorboard(tmp_path):
    def calls(w):
        w._summary(text.text_pb("t", "x", description="about *t*"), 0, None)
        w._summary(image.image_pb("i", np.zeros((3, 2, 2)), description="about i"), 0, None)
        w._summary(audio.audio_pb("a", np.zeros(8), 8000, description="about a"), 0, None)
        w.add_text("plain", "y", 1)  # no description: the shared default metadata stays empty

    acc = tb.accumulator(write(tmp_path, calls))
    assert acc.SummaryMetadata("t").summary_description == "about *t*"
    assert acc.SummaryMetadata("i").summary_description == "about i"
    assert acc.SummaryMetadata("a").summary_description == "about a"
    assert acc.SummaryMetadata("plain/text_summary").summary_description == ""
