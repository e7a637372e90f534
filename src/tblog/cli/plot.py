"""``tblog plot``: a matplotlib PNG of scalar series, one panel per tag, one line per run."""

from __future__ import annotations

import math

import numpy as np

from tblog.core.read.scan import Series


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average (``weight`` in ``[0, 1)``).

    Non-finite values are passed through and do not enter the average.
    Raises ``ValueError`` when ``weight`` is outside ``[0, 1)``.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {weight}")
    values = np.asarray(values, dtype=np.float64)
    if weight == 0.0:
        return values.copy()
    out = np.empty_like(values)
    last = 0.0
    count = 0
    for i, v in enumerate(values.tolist()):
        if not math.isfinite(v):
            out[i] = v
            continue
        last = last * weight + (1.0 - weight) * v
        count += 1
        out[i] = last / (1.0 - weight**count)
    return out


def plot_scalars(
    data: dict[str, dict[str, Series]],
    output: str,
    *,
    smoothing: float = 0.0,
    width: int = 1200,
    height: int = 800,
    log_y: bool = False,
) -> int:
    """Write a PNG of ``width`` x ``height`` pixels to ``output``; returns the number of
    lines drawn (0: nothing matched, no file written).

    ``data`` is ``{run: {tag: Series}}`` (from :func:`tblog.core.read.scan.load`). Raises
    ``ValueError`` on a non-positive size or a bad ``smoothing``.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive pixels, got {width}x{height}")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    by_tag: dict[str, list[tuple[str, Series]]] = {}
    for run, tags in data.items():
        for tag, s in tags.items():
            if s.values is not None and s.steps.size:
                by_tag.setdefault(tag, []).append((run, s))
    if not by_tag:
        return 0
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    n = len(by_tag)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    axes = fig.subplots(rows, cols, squeeze=False)
    runs = sorted({run for series in by_tag.values() for run, _ in series})
    cmap = matplotlib.colormaps["tab10"]
    colour = {run: cmap(i % 10) for i, run in enumerate(runs)}
    lines = 0
    for ax, tag in zip(axes.ravel(), sorted(by_tag), strict=False):
        for run, s in by_tag[tag]:
            assert s.values is not None
            order = np.argsort(s.steps, kind="stable")
            steps, values = s.steps[order], s.values[order]
            if smoothing:
                ax.plot(steps, values, color=colour[run], alpha=0.25, linewidth=1)
                values = smooth(values, smoothing)
            ax.plot(steps, values, color=colour[run], label=run, linewidth=1.5)
            lines += 1
        ax.set_title(tag, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        if log_y:
            ax.set_yscale("log")
        if len(runs) <= 12:
            ax.legend(fontsize=8)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(output, format="png", dpi=dpi)
    return lines
