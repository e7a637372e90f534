"""The public writer contract adapters use (#22): ``SummaryWriter.log_metrics``,
``scalar_encoding``, the writer of a rank that writes nothing, and tf.summary's histogram
(one tf-style builder in core) against TensorFlow's own, all read back by TensorBoard."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tb import accumulator, array, legacy_accumulator

import tblog
from tblog.core.write.encoder import SIMPLE_VALUE, TENSOR


def _legacy_scalars(run_dir) -> dict[str, list[tuple[int, float, float]]]:
    """``{tag: [(step, value, wall_time)]}`` as the legacy EventAccumulator reads them
    (it reads ``simple_value`` scalars only, into ``Scalars``)."""
    acc = legacy_accumulator(str(run_dir))
    return {
        tag: [(e.step, e.value, e.wall_time) for e in acc.Scalars(tag)]
        for tag in acc.Tags()["scalars"]
    }


def _runs(logdir) -> list[str]:
    return sorted(
        os.path.relpath(root, logdir)
        for root, _, files in os.walk(logdir)
        if any(".tfevents." in f for f in files)
    )


def test_log_metrics_equals_add_scalar_and_add_scalars(tmp_path):
    metrics = {"loss": 0.5, "acc": np.float32(0.25), "n": 3, "lr": {"enc": 1e-3, "dec": 2e-3}}
    ours = tblog.SummaryWriter(tmp_path / "ours")
    ours.log_metrics(metrics, 7)
    ours.close()
    ref = tblog.SummaryWriter(tmp_path / "ref")
    for key, value in metrics.items():
        if isinstance(value, dict):
            ref.add_scalars(key, value, 7)
        else:
            ref.add_scalar(key, value, 7)
    ref.close()

    assert _runs(tmp_path / "ours") == _runs(tmp_path / "ref") == [".", "lr_dec", "lr_enc"]
    walls = set()
    for run in _runs(tmp_path / "ref"):
        got = _legacy_scalars(tmp_path / "ours" / run)
        want = _legacy_scalars(tmp_path / "ref" / run)
        assert {t: [p[:2] for p in s] for t, s in got.items()} == {
            t: [p[:2] for p in s] for t, s in want.items()
        }
        walls |= {p[2] for s in got.values() for p in s}
    assert len(walls) == 1  # one wall time for the whole call
    assert _legacy_scalars(tmp_path / "ours")["loss"][0][:2] == (7, 0.5)


def test_log_metrics_takes_tensors_and_cleans_tags_as_add_scalar(tmp_path):
    torch = pytest.importorskip("torch")
    w = tblog.SummaryWriter(tmp_path)
    with pytest.warns(UserWarning):
        w.log_metrics({"t": torch.tensor(1.5), "/lead": torch.tensor([2.0]), "a\x01b": 3.0}, 2)
    w.close()
    got = _legacy_scalars(tmp_path)
    assert {t: [p[:2] for p in s] for t, s in got.items()} == {
        "t": [(2, 1.5)],
        "lead": [(2, 2.0)],
        "a_b": [(2, 3.0)],
    }


def test_log_metrics_bad_value_names_the_key_and_keeps_the_earlier_ones(tmp_path):
    w = tblog.SummaryWriter(tmp_path)
    with pytest.raises(ValueError, match="metric 'bad'"):
        w.log_metrics({"good": 1.0, "bad": "text", "after": 2.0}, 1)
    with pytest.raises(ValueError, match="metric 'vec'"):
        w.log_metrics({"vec": np.ones(3)}, 1)
    w.close()
    assert list(_legacy_scalars(tmp_path)) == ["good"]


def test_log_metrics_run_is_a_checked_sub_run(tmp_path):
    w = tblog.SummaryWriter(tmp_path)
    w.log_metrics({"x": 1.0, "d": {"k": 2.0}}, 4, run="val")
    for bad in ("../out", "/abs"):
        with pytest.raises(ValueError, match="relative path"):
            w.log_metrics({"x": 1.0}, 4, run=bad)
    w.close()
    assert [(p[0], p[1]) for p in _legacy_scalars(tmp_path / "val")["x"]] == [(4, 1.0)]
    assert [(p[0], p[1]) for p in _legacy_scalars(tmp_path / "val" / "d_k")["d"]] == [(4, 2.0)]
    assert not (tmp_path / "out").exists()


def test_scalar_encoding_follows_style_and_log_metrics_uses_it(tmp_path):
    torch_style = tblog.SummaryWriter(tmp_path / "torch")
    tf_style = tblog.SummaryWriter(tmp_path / "tf", style="tf.summary")
    assert (torch_style.scalar_encoding, tf_style.scalar_encoding) == (SIMPLE_VALUE, TENSOR)
    with pytest.raises(AttributeError):
        torch_style.scalar_encoding = TENSOR  # type: ignore[misc]
    for w in (torch_style, tf_style):
        w.log_metrics({"m": 0.75}, 3)
        w.close()
    assert [(p[0], p[1]) for p in _legacy_scalars(tmp_path / "torch")["m"]] == [(3, 0.75)]
    assert "m" not in _legacy_scalars(tmp_path / "tf")  # a tensor, not a simple_value
    (event,) = accumulator(str(tmp_path / "tf")).Tensors("m")
    assert (event.step, float(array(event))) == (3, 0.75)


# ---------------------------------------------------------------------- rank zero
def _public_methods() -> list[str]:
    return sorted(
        name
        for name, member in inspect.getmembers(tblog.SummaryWriter)
        if not name.startswith("_") and inspect.isfunction(member) and name != "get_logdir"
    )


def _dummy_args(name: str) -> list[object]:
    """An ``object()`` for each required positional argument of ``SummaryWriter.<name>``."""
    params = inspect.signature(getattr(tblog.SummaryWriter, name)).parameters.values()
    return [
        object()
        for p in list(params)[1:]
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def test_every_public_method_does_nothing_on_a_rank_that_writes_nothing(tmp_path, monkeypatch):
    names = _public_methods()
    assert {"add_scalar", "add_image", "add_graph", "add_summary", "log_metrics"} <= set(names)
    monkeypatch.setenv("RANK", "1")
    w = tblog.SummaryWriter(tmp_path / "r1")
    assert isinstance(w, tblog.SummaryWriter)
    assert w.writer is None
    assert w.get_logdir() == str(tmp_path / "r1")
    for name in names:
        # add_figure closes the figures it is given (close=True) even here, as on rank 0
        kwargs = {"close": False} if name == "add_figure" else {}
        assert getattr(w, name)(*_dummy_args(name), **kwargs) is None, name
    w.file_writer.add_summary(b"")  # the FileWriter surface writes nothing either
    assert list(w.all_writers) == [str(tmp_path / "r1")]
    with w:
        pass
    assert not (tmp_path / "r1").exists()


def test_the_same_calls_raise_on_a_writing_rank(tmp_path, monkeypatch):
    """The no-op test above is meaningful: each add_* rejects the dummy arguments when it
    writes (everything but what takes no argument)."""
    monkeypatch.setenv("RANK", "1")
    w = tblog.SummaryWriter(tmp_path, rank_zero_only=False)
    assert w.writer is not None
    for name in _public_methods():
        args = _dummy_args(name)
        if name.startswith("add_") and args:
            with pytest.raises((TypeError, ValueError, AttributeError)):
                getattr(w, name)(*args)
    w.close()


def test_a_subclass_stays_itself_on_a_rank_that_writes_nothing(tmp_path, monkeypatch):
    class Mine(tblog.SummaryWriter):
        def log_loss(self, value: float) -> None:
            self.add_scalar("loss", value)

    monkeypatch.setenv("RANK", "2")
    w = Mine(tmp_path, comment="x")
    assert isinstance(w, Mine) and w.writer is None
    w.log_loss(1.0)
    w.close()
    assert not tmp_path.joinpath("x").exists() and not list(tmp_path.iterdir())
    monkeypatch.setenv("RANK", "0")
    w = Mine(tmp_path)
    assert type(w) is Mine
    w.log_loss(1.0)
    w.close()
    assert [(p[0], p[1]) for p in _legacy_scalars(tmp_path)["loss"]] == [(0, 1.0)]


# ---------------------------------------------------------------------- tf-style histogram
@pytest.mark.parametrize(
    "values",
    [
        np.array([1.0, 3.0, 2.0, 2.5]),
        np.array([1.0, np.nan, 3.0]),
        np.array([1.0, np.inf, 3.0, 2.0]),
        np.array([-np.inf, 1.0, 3.0]),
        np.array([np.inf, -np.inf]),
        np.full(5, 2.0),
        np.zeros(0),
    ],
    ids=["finite", "nan", "inf", "-inf", "both-inf", "constant", "empty"],
)
def test_tf_style_histogram_matches_tf_summary(tmp_path, values):
    tf = pytest.importorskip("tensorflow")
    import tblog.summary as tb_summary

    for api, name in ((tf.summary, "tf"), (tb_summary, "tblog")):
        w = api.create_file_writer(str(tmp_path / name))
        with w.as_default(step=1):
            api.histogram("h", values, buckets=4)
        w.close()
    (theirs,) = accumulator(str(tmp_path / "tf")).Tensors("h")
    (ours,) = accumulator(str(tmp_path / "tblog")).Tensors("h")
    np.testing.assert_array_equal(array(ours), array(theirs))  # NaN == NaN here
