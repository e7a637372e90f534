"""watch/unwatch: parameter, gradient and activation histograms and norms every log_freq
steps, read back with TensorBoard and compared with the same values logged by hand."""

from __future__ import annotations

import numpy as np
import pytest
import tb
import torch
from torch import nn

import tblog
from tblog.integrations.torch import unwatch, watch


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Sequential(nn.Linear(8, 3)))


def _batches(n):
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(16, 6, generator=g), torch.randn(16, 3, generator=g)) for _ in range(n)]


def _train(model, batches, on_step=None):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for i, (x, y) in enumerate(batches):
        if on_step:
            on_step(i, "before")
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        if on_step:
            on_step(i, "after")
        opt.step()


def _hist(acc, tag):
    return [(e.step, tb.array(e)) for e in acc.Tensors(tag)]


def _no_hooks(model):
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
    for p in model.parameters():
        assert not p._backward_hooks


PARAMS = ["0/weight", "0/bias", "2.0/weight", "2.0/bias"]


def test_watch_all_matches_hand_logged_values(tmp_path):
    freq, steps = 3, 8
    model, batches = _model(), _batches(steps)
    with tblog.SummaryWriter(tmp_path / "watch") as w:
        watch(model, w, log="all", log_freq=freq)
        _train(model, batches)
        unwatch(model)
    _no_hooks(model)

    # The same training, logged by hand through the numpy histogram path.
    ref_model = _model()
    named = dict(ref_model.named_parameters())
    acts = {}
    for name, m in ref_model.named_modules():
        if name:
            m.register_forward_hook(lambda mod, a, out, n=name: acts.__setitem__(n, out.detach()))
    norms = {}
    ref = tblog.SummaryWriter(tmp_path / "ref")

    def on_step(i, when):
        if i % freq:
            return
        for tag in PARAMS:
            p = named[tag.replace("/", ".")]
            if when == "before":
                ref.add_histogram(f"parameters/{tag}", p.detach().numpy(), i)
                norms[(f"parameters_norm/{tag}", i)] = float(torch.linalg.vector_norm(p.detach()))
            else:
                ref.add_histogram(f"gradients/{tag}", p.grad.numpy(), i)
                norms[(f"gradients_norm/{tag}", i)] = float(torch.linalg.vector_norm(p.grad))
        if when == "after":
            for name, out in acts.items():
                ref.add_histogram(f"activations/{name}", out.numpy(), i)

    _train(ref_model, batches, on_step)
    ref.close()

    ours, theirs = tb.accumulator(str(tmp_path / "watch")), tb.accumulator(str(tmp_path / "ref"))
    hist_tags = sorted(ours.PluginTagToContent("histograms"))
    expected = sorted(
        [f"{k}/{t}" for k in ("parameters", "gradients") for t in PARAMS]
        + [f"activations/{n}" for n in ("0", "1", "2", "2.0")]
    )
    assert hist_tags == expected == sorted(theirs.PluginTagToContent("histograms"))
    for tag in hist_tags:
        a, b = _hist(ours, tag), _hist(theirs, tag)
        assert [s for s, _ in a] == [s for s, _ in b] == [0, 3, 6]
        for (_, x), (_, y) in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    scalar_tags = sorted(ours.PluginTagToContent("scalars"))
    assert scalar_tags == sorted({t for t, _ in norms})
    for tag in scalar_tags:
        got = [(e.step, float(tb.array(e))) for e in ours.Tensors(tag)]
        want = [(s, norms[(tag, s)]) for s in (0, 3, 6)]
        assert [s for s, _ in got] == [s for s, _ in want]
        np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-6)


def test_gradients_only_no_hooks_between_logging_steps(tmp_path):
    model, batches = _model(), _batches(5)
    registered = []
    with tblog.SummaryWriter(tmp_path) as w:
        watch(model, w, log="gradients", log_freq=4)

        def on_step(i, when):
            if when == "after":
                registered.append(sum(len(p._backward_hooks or {}) for p in model.parameters()))

        _train(model, batches, on_step)
        # Eval forwards are not steps and log nothing.
        model.eval()
        with torch.no_grad():
            model(batches[0][0])
        unwatch(model)
    _no_hooks(model)
    # Gradient hooks exist only during the logging steps 0 and 4.
    assert [n > 0 for n in registered] == [True, False, False, False, True]
    acc = tb.accumulator(str(tmp_path))
    assert sorted(acc.PluginTagToContent("histograms")) == sorted(f"gradients/{t}" for t in PARAMS)
    assert [e.step for e in acc.Tensors("gradients/0/weight")] == [0, 4]
    assert [e.step for e in acc.Tensors("gradients_norm/2.0/bias")] == [0, 4]


def test_rewatch_replaces_and_unwatch_stops(tmp_path):
    model, batches = _model(), _batches(4)
    with tblog.SummaryWriter(tmp_path) as w:
        watch(model, w, log="parameters", log_freq=1)
        watch(model, w, log="parameters", log_freq=2)
        _train(model, batches[:2])
        unwatch(model)
        unwatch(model)  # idempotent
        _train(model, batches[2:])
    _no_hooks(model)
    acc = tb.accumulator(str(tmp_path))
    assert [e.step for e in acc.Tensors("parameters/0/weight")] == [0]
    assert [e.step for e in acc.Tensors("parameters_norm/0/weight")] == [0]


def test_bad_arguments(tmp_path):
    model = _model()
    with tblog.SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="log must be"):
            watch(model, w, log="weights")
        with pytest.raises(ValueError, match="log_freq"):
            watch(model, w, log_freq=0)
        with pytest.raises(TypeError, match="model"):
            watch(object(), w)
        with pytest.raises(TypeError, match="writer"):
            watch(model, object())
    _no_hooks(model)


def test_bfloat16_model(tmp_path):
    model, batches = _model().to(torch.bfloat16), _batches(2)
    batches = [(x.to(torch.bfloat16), y.to(torch.bfloat16)) for x, y in batches]
    with tblog.SummaryWriter(tmp_path) as w:
        watch(model, w, log="all", log_freq=1)
        _train(model, batches)
        unwatch(model)
    acc = tb.accumulator(str(tmp_path))
    for tag, numel in [
        ("parameters/0/weight", 48),
        ("gradients/2.0/bias", 3),
        ("activations/1", 128),
    ]:
        hist = _hist(acc, tag)
        assert [s for s, _ in hist] == [0, 1]
        assert all(h[:, 2].sum() == numel for _, h in hist)
    norms = [float(tb.array(e)) for e in acc.Tensors("parameters_norm/0/weight")]
    assert len(norms) == 2 and all(n > 0 for n in norms)


def test_non_zero_rank_installs_no_hooks(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    model = _model()
    w = tblog.SummaryWriter(tmp_path)
    watch(model, w, log="all", log_freq=1)
    _no_hooks(model)
    _train(model, _batches(1))
    w.close()
    assert not list(tmp_path.iterdir())
