"""``watch(model, writer)``: histograms and norms of parameters, gradients and activations.

A step is one forward call of the watched model in training mode; every ``log_freq``-th
step (steps 0, ``log_freq``, ...) is a logging step. Only the model's forward pre-hook
runs on other steps, so their cost is one Python call and a modulo. On a logging step the
pre-hook adds one-shot hooks: forward hooks on the submodules (activations) and gradient
hooks on the parameters (gradients); they remove themselves once they fire.

Everything is reduced on the tensor's device (``_histogram.reduce_on_device``). On CUDA the
packed results are copied to pinned host memory without blocking and written once their
CUDA event has completed, checked (without waiting) at the next steps; ``unwatch`` and a
new logging step wait for what is still pending. Tags (shared with the Keras callback):
``parameters/<module path>/<param>``, ``gradients/<module path>/<param>``,
``activations/<module path>``, and the scalars ``parameters_norm/...``, ``gradients_norm/...``.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch

from tblog.core.summaries import histo_proto, histogram
from tblog.core.summaries.counting import Counted
from tblog.core.summaries.histogram import tensorflow_edges
from tblog.integrations.torch._histogram import _STATS, reduce_on_device, reduce_on_host

LOG_KINDS = {
    "gradients": ("gradients",),
    "parameters": ("parameters",),
    "activations": ("activations",),
    "all": ("parameters", "gradients", "activations"),
}

_watched: weakref.WeakKeyDictionary[torch.nn.Module, _Watch] = weakref.WeakKeyDictionary()


class _Pending:
    """Packed device results of one logging step on their way to the host."""

    __slots__ = ("event", "host", "items", "step")

    def __init__(self, step: int) -> None:
        self.step = step
        self.items: list[tuple[str, bool, torch.Tensor]] = []  # (tag, with_norm, packed)
        self.host: torch.Tensor | None = None
        self.event: torch.cuda.Event | None = None


class _Watch:
    """Hooks and state of one watched model."""

    def __init__(
        self, model: torch.nn.Module, writer: Any, kinds: tuple[str, ...], freq: int, first: int
    ) -> None:
        self.model = weakref.ref(model)
        self.writer = writer
        self.kinds = kinds
        self.freq = freq
        self.step = first - 1  # incremented at each training forward call
        self.edges = tensorflow_edges()
        self.pending: list[_Pending] = []
        self.current: _Pending | None = None
        self.one_shot: list[Any] = []  # gradient hooks of the current logging step
        self.forward_once: list[Any] = []  # activation hooks of the current logging step
        self.handles = [
            model.register_forward_pre_hook(self._pre_forward),
            model.register_forward_hook(self._post_forward),
        ]
        self.params = [
            (_param_tag(name), p) for name, p in model.named_parameters() if p is not None
        ]
        self.modules = [(name, m) for name, m in model.named_modules() if name]

    # ------------------------------------------------------------------ hooks
    def _pre_forward(self, module: torch.nn.Module, args: Any) -> None:
        if not module.training:
            return
        self.step += 1
        if self.one_shot:
            self._remove_one_shot()  # gradient hooks of the last logging step
        if self.current is not None:
            self._ship(self.current)  # its backward, if any, is over
        if self.pending:
            self._drain(wait=False)
        if self.step % self.freq:
            return
        self._drain(wait=True)
        self.current = cur = _Pending(self.step)
        self.pending.append(cur)
        if "parameters" in self.kinds:
            with torch.no_grad():
                for tag, p in self.params:
                    self._reduce(cur, f"parameters/{tag}", p, with_norm=True)
        if "activations" in self.kinds:
            for name, m in self.modules:
                self.forward_once.append(m.register_forward_hook(self._activation_hook(name, cur)))
        if "gradients" in self.kinds:
            wanted = [(tag, p) for tag, p in self.params if p.requires_grad]
            left = [len(wanted)]
            for tag, p in wanted:
                self.one_shot.append(p.register_hook(self._grad_hook(tag, cur, left)))
        elif "activations" not in self.kinds:
            self._ship(cur)
            self._drain(wait=False)

    def _post_forward(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if not self.forward_once:
            return
        for handle in self.forward_once:
            handle.remove()
        self.forward_once = []
        if "gradients" not in self.kinds and self.current is not None:
            self._ship(self.current)
            self._drain(wait=False)

    def _activation_hook(self, name: str, cur: _Pending) -> Any:
        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            with torch.no_grad():
                for suffix, t in _tensors(output):
                    self._reduce(cur, f"activations/{name}{suffix}", t, with_norm=False)

        return hook

    def _grad_hook(self, tag: str, cur: _Pending, left: list[int]) -> Any:
        fired = [False]

        def hook(grad: torch.Tensor) -> None:
            # Inert after its first call; removed at the next step (not from inside backward).
            if fired[0] or cur.host is not None:
                return
            fired[0] = True
            with torch.no_grad():
                self._reduce(cur, f"gradients/{tag}", grad, with_norm=True)
            left[0] -= 1
            if left[0] == 0:
                self._ship(cur)
                self._drain(wait=False)

        return hook

    # ------------------------------------------------------------------ reduction and output
    def _reduce(self, cur: _Pending, tag: str, t: torch.Tensor, with_norm: bool) -> None:
        if t.numel() == 0 or t.is_complex():
            return
        packed = reduce_on_host(t, self.edges)  # CPU floats: the numpy path, much faster
        if packed is None:
            packed = reduce_on_device(t, self.edges, "tensorflow")
        if with_norm:
            norm = torch.linalg.vector_norm(
                t.detach().to(torch.float64 if t.dtype == torch.float64 else torch.float32)
            )
            packed = torch.cat([packed, norm.to(torch.float64).reshape(1)])
        cur.items.append((tag, with_norm, packed))

    def _ship(self, cur: _Pending) -> None:
        """Start the copy of ``cur`` to the host (non-blocking on CUDA)."""
        if cur.host is not None:
            return
        if not cur.items:
            cur.host = torch.empty(0, dtype=torch.float64)
            return
        flat = torch.cat([p.reshape(-1) for _, _, p in cur.items])
        if flat.device.type == "cuda":
            host = torch.empty(flat.shape, dtype=flat.dtype, pin_memory=True)
            host.copy_(flat, non_blocking=True)
            cur.event = torch.cuda.Event()
            cur.event.record(torch.cuda.current_stream(flat.device))
            cur.host = host
        else:
            cur.host = flat.cpu()
        if self.current is cur:
            self.current = None

    def _drain(self, wait: bool) -> None:
        """Write every shipped step whose copy is complete (all of them when ``wait``)."""
        while self.pending:
            cur = self.pending[0]
            if cur.host is None:
                if not wait:
                    return
                self._ship(cur)  # a step whose backward never came: log what it has
            if cur.event is not None and not cur.event.query():
                if not wait:
                    return
                cur.event.synchronize()
            self.pending.pop(0)
            self._write(cur)

    def _write(self, cur: _Pending) -> None:
        assert cur.host is not None
        values = cur.host.numpy()
        offset = 0
        k = self.edges.size - 1
        for tag, with_norm, packed in cur.items:
            n = packed.numel()
            chunk = values[offset : offset + n]
            offset += n
            stats, counts = chunk[:_STATS], chunk[_STATS : _STATS + k]
            if not np.isfinite(stats[:4]).all() or stats[4]:
                continue  # NaN/inf values: TensorBoard cannot show a histogram of them
            vmin, vmax, total, sumsq, _, below, above = (float(v) for v in stats)
            found = Counted(counts, vmin, vmax, int(below), int(above), total, sumsq)
            edges, all_counts = histogram.count_all(self.edges, found)
            limits, buckets = histo_proto.torch_buckets(edges, all_counts)
            self.writer.add_histogram_raw(
                tag,
                vmin,
                vmax,
                float(all_counts.sum()),
                total,
                sumsq,
                limits,
                buckets,
                global_step=cur.step,
            )
            if with_norm:
                kind, _, rest = tag.partition("/")
                self.writer.add_scalar(f"{kind}_norm/{rest}", float(chunk[-1]), cur.step)

    def _remove_one_shot(self) -> None:
        for handle in self.one_shot:
            handle.remove()
        self.one_shot = []

    def close(self) -> None:
        for handle in self.handles + self.forward_once:
            handle.remove()
        self.forward_once = []
        self._remove_one_shot()
        if self.current is not None:
            self._ship(self.current)
        self._drain(wait=True)


def _param_tag(name: str) -> str:
    path, _, leaf = name.rpartition(".")
    return f"{path}/{leaf}" if path else leaf


def _tensors(output: Any, suffix: str = "") -> list[tuple[str, torch.Tensor]]:
    if isinstance(output, torch.Tensor):
        return [(suffix, output)]
    if isinstance(output, (tuple, list)):
        return [x for i, o in enumerate(output) for x in _tensors(o, f"{suffix}/{i}")]
    if isinstance(output, dict):
        return [x for k, o in output.items() for x in _tensors(o, f"{suffix}/{k}")]
    return []


def watch(
    model: torch.nn.Module,
    writer: Any,
    log: str = "gradients",
    log_freq: int = 100,
    *,
    start_step: int | None = None,
) -> None:
    """Log histograms (and norms) of ``model``'s parameters, gradients and/or activations.

    ``writer``: a ``tblog.SummaryWriter`` (or anything with ``add_histogram_raw`` and
    ``add_scalar``). ``log``: ``"gradients"``, ``"parameters"``, ``"activations"`` or
    ``"all"``. ``log_freq``: log every ``log_freq``-th training forward call (the steps
    that are multiples of it). ``start_step``: the step of the next training forward call;
    by default 0, or N + 1 after the checkpoint of step N was restored into ``writer``'s
    runs (``CheckpointManager.restore``, any checkpoint hook): a resumed run continues its
    steps instead of logging at 0, ``log_freq``, ... again. Watching a model again
    replaces its earlier hooks. Raises ``TypeError``/``ValueError`` for a non-module, a
    bad ``log``, a non-positive ``log_freq`` or a negative ``start_step``.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if log not in LOG_KINDS:
        raise ValueError(f"log must be one of {sorted(LOG_KINDS)}, got {log!r}")
    if isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1:
        raise ValueError(f"log_freq must be a positive int, got {log_freq!r}")
    for method in ("add_histogram_raw", "add_scalar"):
        if not callable(getattr(writer, method, None)):
            raise TypeError(f"writer must have {method}(), got {type(writer).__name__}")
    if start_step is None:
        restored = getattr(writer, "restored_step", None)
        start_step = 0 if restored is None else restored + 1
    elif isinstance(start_step, bool) or not isinstance(start_step, int) or start_step < 0:
        raise ValueError(f"start_step must be a non-negative int, got {start_step!r}")
    unwatch(model)
    from tblog.writer.summary_writer import SummaryWriter

    if isinstance(writer, SummaryWriter) and writer.writer is None:
        return  # a non-zero rank under rank_zero_only: no hooks, no cost
    _watched[model] = _Watch(model, writer, LOG_KINDS[log], log_freq, start_step)


def unwatch(model: torch.nn.Module) -> None:
    """Remove every hook ``watch`` added to ``model`` (writing what is still pending)."""
    state = _watched.pop(model, None)
    if state is not None:
        state.close()
