"""Files written by the anchors (torch.utils.tensorboard, tensorboardX, tf.summary) read
by the one reader exactly as TensorBoard's loaders, the legacy ``EventAccumulator`` and
tbparse read them: legacy ``simple_value`` and ``HistogramProto`` values migrated as
TensorBoard migrates them, tensor-encoded ones as written."""

from __future__ import annotations

import numpy as np
import pytest
import tb

import tblog

STEPS = 60


def _workload(w) -> None:
    rng = np.random.default_rng(3)
    for step in range(STEPS):
        w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("nested/acc", step / STEPS, step)
        if step % 10 == 0:
            w.add_histogram("weights", rng.normal(size=500), step)
            w.add_text("note", f"step {step}", step)
    w.add_scalars("group", {"a": 1.0, "b": 2.0}, 5)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    from tensorboardX import SummaryWriter as XWriter
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    root = tmp_path_factory.mktemp("anchors")
    for name, cls in (("torch", TorchWriter), ("tbx", XWriter), ("tblog", tblog.SummaryWriter)):
        w = cls(str(root / name))
        _workload(w)
        w.close()
    import tensorflow as tf

    with tf.summary.create_file_writer(str(root / "tf")).as_default():
        rng = np.random.default_rng(3)
        for step in range(STEPS):
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
            if step % 10 == 0:
                tf.summary.histogram("weights", rng.normal(size=500), step=step)
    return root


def _ours(logdir):
    frame = tblog.scalars(str(logdir))
    out = {}
    for run, tag, step, value in zip(frame.run, frame.tag, frame.step, frame.value, strict=True):
        out.setdefault((run, tag), []).append((int(step), float(value)))
    return out


def _same(got, want):
    assert set(got) == set(want)
    for key in want:
        assert [s for s, _ in got[key]] == [s for s, _ in want[key]], key
        np.testing.assert_allclose(
            [v for _, v in got[key]], [v for _, v in want[key]], rtol=1e-6, err_msg=str(key)
        )


def test_scalars_match_server_loader(logs):
    _same(_ours(logs), {k: v for k, v in tb.mux_scalars(logs).items() if v})


@pytest.mark.parametrize("name", ["torch", "tbx"])
def test_scalars_match_legacy_accumulator(logs, name):
    """torch's and tensorboardX's ``simple_value`` scalars, run by run (``add_scalars``
    writes sub-runs), as the legacy ``EventAccumulator.Scalars`` returns them."""
    ours = _ours(logs)
    runs = {run for run, _ in ours if run.split("/")[0] == name}
    assert len(runs) == 3
    for run in runs:
        acc = tb.legacy_accumulator(logs / run)
        want = {
            (run, t): [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]
        }
        _same({k: v for k, v in ours.items() if k[0] == run}, want)


def test_scalars_match_tbparse(logs):
    from tbparse import SummaryReader

    for name in ("torch", "tbx", "tf"):
        reader = SummaryReader(str(logs / name), extra_columns={"dir_name"})
        # tbparse lists tf.summary's tensor-encoded scalars under .tensors
        frame = reader.tensors if name == "tf" else reader.scalars
        want = {}
        cols = (frame.dir_name, frame.tag, frame.step, frame.value)
        for run, tag, step, value in zip(*cols, strict=True):
            if np.asarray(value).ndim == 0:  # (tf's .tensors also hold its histograms)
                want.setdefault((run or ".", tag), []).append((int(step), float(value)))
        got = {k: v for k, v in _ours(logs / name).items()}
        _same(got, want)


def test_histograms_match_tensorboard_and_tbparse(logs):
    from tbparse import SummaryReader

    frame = tblog.histograms(str(logs))
    assert set(frame.run) == {"torch", "tbx", "tblog", "tf"}
    for run in ("torch", "tbx", "tblog", "tf"):
        ours = frame[frame.run == run]
        acc = tb.accumulator(logs / run)
        want = acc.Tensors("weights")
        assert ours.step.tolist() == [e.step for e in want] == list(range(0, STEPS, 10)), run
        for edges, counts, e in zip(ours.edges, ours.counts, want, strict=True):
            arr = tb.array(e)
            np.testing.assert_allclose(edges, np.append(arr[:, 0], arr[-1, 1]), rtol=1e-6)
            np.testing.assert_allclose(counts, arr[:, 2])
            assert counts.sum() == 500
    # tbparse gives torch's HistogramProto as written: the same counts, empty ends kept
    raw = SummaryReader(str(logs / "torch")).histograms
    ours = frame[frame.run == "torch"]
    assert raw.step.tolist() == ours.step.tolist()
    for counts, theirs in zip(ours.counts, raw.counts, strict=True):
        nz = np.flatnonzero(np.asarray(theirs) > 0)
        np.testing.assert_array_equal(counts, np.asarray(theirs)[nz[0] : nz[-1] + 1])


def test_hparams_table_matches_tensorboard(tmp_path):
    """``tblog.hparams``: one row per session, hparams and final metrics, as TensorBoard's
    hparams plugin data (session start info + the metric series) gives them; torch's and
    tblog's ``add_hparams`` give the same table."""
    from tensorboard.plugins.hparams import plugin_data_pb2
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    for name, cls in (("torch", TorchWriter), ("tblog", tblog.SummaryWriter)):
        for i, lr in enumerate((0.1, 0.01)):
            w = cls(str(tmp_path / name / f"trial{i}"))
            w.add_hparams(
                {"lr": lr, "opt": "adam", "bn": i == 0}, {"hp/acc": 0.5 + i}, run_name="s"
            )
            w.close()
    tables = {}
    for name in ("torch", "tblog"):
        table = tblog.hparams(str(tmp_path / name))
        mux = tb.multiplexer(tmp_path / name)
        sessions = mux.PluginRunToTagToContent("hparams")
        want = {}
        for run, tags in sessions.items():
            if "_hparams_/session_start_info" not in tags:
                continue
            data = plugin_data_pb2.HParamsPluginData.FromString(
                tags["_hparams_/session_start_info"]
            )
            hp = data.session_start_info.hparams
            acc = [float(tb.array(e).item()) for e in mux.Tensors(run, "hp/acc")]
            want[run] = {k: getattr(hp[k], hp[k].WhichOneof("kind")) for k in hp}
            want[run]["hp/acc"] = acc[-1]
        got = {row.pop("run"): row for row in table.to_dict("records")}
        assert got == want and len(got) == 2
        # (how a bool hparam is written is the writer's business: torch writes a number)
        tables[name] = sorted(
            tuple(sorted((k, x) for k, x in v.items() if k != "bn")) for v in got.values()
        )
    assert tables["torch"] == tables["tblog"]
