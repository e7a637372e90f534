"""Bad input gives a clear, typed error at the call that caused it, and never a corrupt file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from tb import accumulator, array

import tblog
from tblog.core.format import records
from tblog.core.proto import event_pb2
from tblog.core.summaries import scalar


def _readable(path) -> int:
    n = 0
    for name in sorted(os.listdir(path)):
        if "tfevents" in name:
            with open(os.path.join(path, name), "rb") as f:
                n += sum(1 for _ in records.read_records(f))
    return n


@pytest.mark.parametrize(
    ("tag", "exc", "match"),
    [
        (3, TypeError, "tag must be a str"),
        (None, TypeError, "tag must be a str"),
        (b"bytes", TypeError, "tag must be a str"),
        ("", ValueError, "non-empty"),
        ("x" * 5000, ValueError, "limit"),
    ],
)
def test_bad_tags_raise_at_the_call(tmp_path, tag, exc, match):
    with tblog.SummaryWriter(tmp_path) as w:
        for call in (
            lambda: w.add_scalar(tag, 1.0, 0),
            lambda: w.add_text(tag, "t", 0),
            lambda: w.add_histogram(tag, np.arange(5.0), 0),
            lambda: w.add_scalars(tag, {"a": 1.0}, 0),
        ):
            with pytest.raises(exc, match=match):
                call()
        w.add_scalar("ok", 1.0, 0)
    assert [e.step for e in accumulator(tmp_path).Tensors("ok")] == [0]


def test_unusable_tag_characters_are_cleaned_with_a_warning(tmp_path):
    with tblog.SummaryWriter(tmp_path) as w:
        with pytest.warns(UserWarning, match="cannot use"):
            w.add_scalar("/loss\nvalue\x00", 2.0, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            w.add_scalar("/loss\nvalue\x00", 3.0, 2)  # warned once per tag
    acc = accumulator(tmp_path)
    assert acc.Tags()["tensors"] == ["loss_value_"]
    assert [float(array(e).item()) for e in acc.Tensors("loss_value_")] == [2.0, 3.0]


@pytest.mark.parametrize(
    ("value", "exc"),
    [
        ("abc", TypeError),
        (None, TypeError),
        ([1.0, 2.0], ValueError),
        (np.zeros((2, 2)), ValueError),
        (np.array(["a"]), TypeError),
        (object(), TypeError),
    ],
)
def test_bad_scalar_values(tmp_path, value, exc):
    with tblog.SummaryWriter(tmp_path) as w, pytest.raises(exc, match="scalar"):
        w.add_scalar("x", value, 0)


@pytest.mark.parametrize(
    ("step", "exc"), [("3", TypeError), (1.5, ValueError), (True, TypeError), ([1, 2], TypeError)]
)
def test_bad_steps(tmp_path, step, exc):
    with tblog.SummaryWriter(tmp_path) as w, pytest.raises(exc, match="global_step"):
        w.add_scalar("x", 1.0, step)


def test_nan_and_inf_are_valid_scalars(tmp_path):
    with tblog.SummaryWriter(tmp_path) as w:
        for i, v in enumerate([float("nan"), float("inf"), -float("inf"), np.float32("nan")]):
            w.add_scalar("x", v, i)
    values = [float(array(e).item()) for e in accumulator(tmp_path).Tensors("x")]
    assert (
        np.isnan(values[0]) and values[1] == np.inf and values[2] == -np.inf and np.isnan(values[3])
    )


def _bad_array_calls():
    nan_img = np.full((3, 8, 8), np.nan, dtype=np.float32)
    return [
        ("add_image NaN", lambda w: w.add_image("i", nan_img, 0), ValueError),
        ("add_image rank", lambda w: w.add_image("i", np.zeros((2, 3, 4, 5, 6)), 0), ValueError),
        (
            "add_image dataformats",
            lambda w: w.add_image("i", np.zeros((3, 8, 8)), 0, dataformats="XYZ"),
            ValueError,
        ),
        (
            "add_image dtype",
            lambda w: w.add_image("i", np.array([["a"]]), 0, dataformats="HW"),
            TypeError,
        ),
        ("add_images rank", lambda w: w.add_images("i", np.zeros((8, 8)), 0), ValueError),
        (
            "add_histogram NaN",
            lambda w: w.add_histogram("h", np.array([1.0, np.nan]), 0),
            ValueError,
        ),
        (
            "add_histogram strings",
            lambda w: w.add_histogram("h", np.array(["a", "b"]), 0),
            TypeError,
        ),
        (
            "add_histogram_raw lengths",
            lambda w: w.add_histogram_raw("h", 0, 1, 2, 1, 1, [0.5, 1.0], [1, 1, 0]),
            ValueError,
        ),
        ("add_audio rank", lambda w: w.add_audio("a", np.zeros((2, 2, 2)), 0), ValueError),
        ("add_video rank", lambda w: w.add_video("v", np.zeros((2, 3, 8, 8)), 0), ValueError),
        ("add_text type", lambda w: w.add_text("t", 12, 0), TypeError),
        (
            "add_pr_curve labels",
            lambda w: w.add_pr_curve("p", np.array([0, 2]), np.array([0.1, 0.9]), 0),
            ValueError,
        ),
        (
            "add_pr_curve preds",
            lambda w: w.add_pr_curve("p", np.array([0, 1]), np.array([0.1, 1.9]), 0),
            ValueError,
        ),
        (
            "add_pr_curve shapes",
            lambda w: w.add_pr_curve("p", np.array([0, 1, 1]), np.array([0.1, 0.9]), 0),
            ValueError,
        ),
        ("add_embedding rank", lambda w: w.add_embedding(np.zeros(5)), ValueError),
        (
            "add_embedding metadata",
            lambda w: w.add_embedding(np.zeros((5, 2)), metadata=["a"]),
            ValueError,
        ),
        ("add_mesh shape", lambda w: w.add_mesh("m", np.zeros((4, 3))), ValueError),
        ("add_hparams value", lambda w: w.add_hparams({"lr": [1, 2]}, {"acc": 1.0}), TypeError),
        ("add_hparams metric", lambda w: w.add_hparams({"lr": 0.1}, {"acc": "high"}), TypeError),
        (
            "add_custom_scalars",
            lambda w: w.add_custom_scalars({"c": {"t": ["Pie", ["a"]]}}),
            ValueError,
        ),
        ("add_scalars dict", lambda w: w.add_scalars("m", [("a", 1.0)], 0), TypeError),
    ]


@pytest.mark.parametrize(
    ("name", "call", "exc"), _bad_array_calls(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_bad_arrays_raise_typed_errors_and_leave_the_file_clean(tmp_path, name, call, exc):
    with tblog.SummaryWriter(tmp_path) as w:
        with pytest.raises(exc):
            call(w)
        w.add_scalar("after", 1.0, 7)
    assert [e.step for e in accumulator(tmp_path).Tensors("after")] == [7]
    _readable(tmp_path)


def test_log_dir_that_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("not a dir")
    with pytest.raises((NotADirectoryError, FileExistsError)):
        tblog.SummaryWriter(target)
    with pytest.raises((NotADirectoryError, FileExistsError)):
        tblog.SummaryWriter(target / "below")


def test_unwritable_log_dir_fails_in_the_constructor(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    code = textwrap.dedent(
        """
        import os, sys
        import tblog, tblog.writer.summary_writer, tblog.core.format.events
        os.setgid(65534); os.setuid(65534)  # nobody: root would bypass permissions
        try:
            tblog.SummaryWriter(os.path.join(sys.argv[1], "run"))
        except PermissionError as exc:
            print("PermissionError")
        """
    )
    if os.geteuid() != 0:
        os.chmod(locked, 0o555)
    out = subprocess.run(
        [sys.executable, "-c", code, str(locked)], capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "PermissionError", out.stderr


FULL_DISK = """
import os, resource, signal, sys, tblog
{setup}
w = tblog.SummaryWriter(sys.argv[1], max_queue=16)
error = None
for i in range(100000):
    try:
        w.add_scalar("x", float(i), i)
        w.add_text("t", "y" * 200, i)
        if i % 50 == 0:
            w.flush()
    except OSError as exc:
        error = exc
        break
print("call", type(error).__name__, error.errno if error else None, flush=True)
try:
    w.flush()
    print("flush ok")
except OSError as exc:
    print("flush", type(exc).__name__)
try:
    w.close()
    print("close ok")
except OSError as exc:
    print("close", type(exc).__name__)
"""


def _full_disk_check(run_dir, stdout):
    lines = stdout.strip().splitlines()
    assert lines[0].split()[1] == "OSError", stdout
    assert lines[1] == "flush OSError", stdout
    assert lines[2] == "close OSError", stdout
    n = _readable(run_dir)  # strict CRC: no corrupt or partial record, only whole ones
    steps = [e.step for e in accumulator(run_dir).Tensors("x")]
    assert steps == list(range(len(steps))) and len(steps) > 10
    assert n >= len(steps)


def test_file_size_limit_gives_oserror_at_next_call_and_close(tmp_path):
    setup = "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, (30000, 30000))"
    out = subprocess.run(
        [sys.executable, "-c", FULL_DISK.format(setup=setup), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    _full_disk_check(tmp_path, out.stdout)


def test_full_tmpfs_gives_oserror_and_no_corrupt_file(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}); the RLIMIT_FSIZE test covers a full disk"
        )
    try:
        out = subprocess.run(
            [sys.executable, "-c", FULL_DISK.format(setup=""), str(mnt / "run")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        _full_disk_check(mnt / "run", out.stdout)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


# ------------------------------------------------------------ issue 14 items 6, 9, 11
_STEPS_OUT_OF_RANGE = [2**64 + 5, -(2**63) - 1, 2**63, np.uint64(2**64 - 1)]


def _every_add(w, step):
    """Each kind of ``add_*`` at ``step`` (scalars through their fast paths too)."""
    return [
        lambda: w.add_scalar("s", 1.0, step),
        lambda: w.add_scalar("s", np.float32(1.0), step),
        lambda: w.add_scalars("m", {"a": 1.0}, step),
        lambda: w.log_metrics({"s": 1.0}, step),
        lambda: w.add_histogram("h", np.arange(5.0), step),
        lambda: w.add_histogram_raw("r", 0, 1, 1, 0, 0, [1.0], [1.0], step),
        lambda: w.add_text("t", "x", step),
        lambda: w.add_image("i", np.zeros((3, 2, 2)), step),
        lambda: w.add_tensor("x", np.zeros(2), step),
    ]


@pytest.mark.parametrize("step", _STEPS_OUT_OF_RANGE, ids=str)
def test_steps_outside_int64_raise_at_every_add(tmp_path, step):
    with tblog.SummaryWriter(tmp_path) as w:
        for call in _every_add(w, step):
            with pytest.raises(ValueError, match="global_step must fit in int64"):
                call()
        w.add_scalar("s", 2.0, 2**63 - 1)  # the largest step is fine
        w.add_scalar("s", 3.0, -(2**63))
    steps = sorted(e.step for e in accumulator(tmp_path).Tensors("s"))
    assert steps == [-(2**63), 2**63 - 1]
    assert not [d for d in os.listdir(tmp_path) if not d.startswith("events")]  # no m_a run


def test_add_scalars_key_cannot_leave_the_log_dir(tmp_path):
    logdir = tmp_path / "logs"
    outside = r"must be a relative path inside the log dir"
    with tblog.SummaryWriter(logdir) as w, pytest.raises(ValueError, match=outside):
        w.add_scalars("main", {"ok": 1.0, "a/../../x": 1.0}, 0)
    assert sorted(os.listdir(tmp_path)) == ["logs"]
    assert [n for n in os.listdir(logdir) if "tfevents" not in n] == []  # nothing logged


def test_nul_in_the_main_tag_is_cleaned_as_the_warning_says(tmp_path):
    with tblog.SummaryWriter(tmp_path) as w, pytest.warns(UserWarning, match="writing 'lo_ss'"):
        w.add_scalars("lo\x00ss", {"a": 1.5}, 3)
    run = tmp_path / "lo_ss_a"
    assert [(e.step, float(array(e))) for e in accumulator(run).Tensors("lo_ss")] == [(3, 1.5)]


def test_tag_utf8_cannot_encode_raises_at_the_call(tmp_path):
    with tblog.SummaryWriter(tmp_path) as w:
        for call in (
            lambda: w.add_scalar("bad\ud800", 1.0, 0),
            lambda: w.add_histogram("bad\ud800", np.arange(3.0), 0),
            lambda: w.add_text("bad\ud800", "x", 0),
            lambda: w.log_metrics({"bad\ud800": 1.0}, 0),
        ):
            with pytest.raises(ValueError, match="UTF-8"):
                call()
        w.add_scalar("good", 1.0, 0)
        w.flush()  # nothing left to fail later
    assert [e.step for e in accumulator(tmp_path).Tensors("good")] == [0]


def test_meta_device_tensor_raises_at_the_call(tmp_path):
    torch = pytest.importorskip("torch")
    meta = torch.empty((), device="meta")
    with tblog.SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="scalar_value is a 'meta' device tensor"):
            w.add_scalar("s", meta, 0)
        with pytest.raises(ValueError, match="values is a 'meta' device tensor"):
            w.add_histogram("h", torch.empty(10, device="meta"), 0)
        w.add_scalar("s", 1.0, 1)
        w.flush()  # no error left for a later call
    assert [e.step for e in accumulator(tmp_path).Tensors("s")] == [1]


@pytest.mark.parametrize("rate", [2**32, 1e12])
def test_audio_sample_rate_out_of_range_names_the_argument(tmp_path, rate):
    with tblog.SummaryWriter(tmp_path) as w, pytest.raises(ValueError, match="sample_rate"):
        w.add_audio("a", np.zeros(100), 0, sample_rate=rate)


@pytest.mark.parametrize("walltime", ["soon", b"1", object(), [1.0]])
def test_non_numeric_walltime_names_the_argument(tmp_path, walltime):
    with tblog.SummaryWriter(tmp_path) as w:
        for call in (
            lambda: w.add_scalar("s", 1.0, 0, walltime=walltime),
            lambda: w.add_scalars("m", {"a": 1.0}, 0, walltime=walltime),
            lambda: w.add_histogram("h", np.arange(3.0), 0, walltime=walltime),
            lambda: w.add_text("t", "x", 0, walltime=walltime),
            lambda: w.file_writer.add_summary(scalar.scalar_pb("f", 1.0), 0, walltime=walltime),
        ):
            with pytest.raises(TypeError, match="walltime must be a number"):
                call()
    from tblog.summary import FileWriter

    tf1 = FileWriter(str(tmp_path / "tf1"))
    with pytest.raises(TypeError, match="walltime must be a number"):
        tf1.add_event(event_pb2.Event(step=1), walltime=walltime)
    tf1.close()


def _summary_calls():
    import numpy as np

    from tblog.core.summaries import histogram, image, scalar, tensor, text

    return {
        "scalar_pb": lambda tag: scalar.scalar_pb(tag, 1.0),
        "tensor_pb": lambda tag: tensor.tensor_pb(tag, np.zeros(2)),
        "text_pb": lambda tag: text.text_pb(tag, "hello"),
        "histogram_pb": lambda tag: histogram.histogram_pb(tag, np.arange(5.0)),
        "image_pb": lambda tag: image.image_pb(tag, np.zeros((3, 2, 2), np.uint8)),
    }


@pytest.mark.parametrize("kind", sorted(_summary_calls()))
def test_summary_functions_share_the_one_tag_validator(kind):
    """The pure summary functions judge tags as the front-ends do (``tags.clean_tag``):
    the same errors for a non-str, an empty or a non-UTF-8 tag, and the same cleaning."""
    from tblog.core.tags import clean_tag

    build = _summary_calls()[kind]
    for bad in (3, "", "bad\ud800"):
        with pytest.raises((TypeError, ValueError)) as ours:
            build(bad)
        with pytest.raises((TypeError, ValueError)) as front:
            clean_tag(bad)
        assert (type(ours.value), str(ours.value)) == (type(front.value), str(front.value))
    with pytest.warns(UserWarning, match="cannot use"):
        summary = build("/a\x01b")
    assert summary.value[0].tag.startswith("a_b")
