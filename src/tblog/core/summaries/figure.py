"""Figures: matplotlib figures rendered with the Agg canvas and logged as images.

matplotlib is optional and imported only when a figure is logged. The figure's own
canvas is put back after rendering, so interactive figures keep working.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from tblog.core.proto import summary_pb2
from tblog.core.summaries.image import image_pb, images_pb
from tblog.core.tags import clean_tag


def _check_figure(figure: Any) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a test dependency
        raise TypeError(
            "figure must be a matplotlib Figure, and matplotlib is not installed"
        ) from None
    if not isinstance(figure, Figure):
        raise TypeError(
            f"figure must be a matplotlib Figure or a list of them, got {type(figure).__name__}"
        )


def render_figure(figure: Any) -> np.ndarray:
    """Render a matplotlib ``Figure`` with Agg: uint8 ``[H, W, 3]`` RGB (alpha dropped)."""
    _check_figure(figure)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    original = figure.canvas
    try:
        canvas: Any = FigureCanvasAgg(figure)
        canvas.draw()
        rgb = np.array(np.asarray(canvas.buffer_rgba())[..., :3])
    finally:
        figure.set_canvas(original)
    return rgb


def close_figures(figure: Any) -> None:
    """Close a figure (or a list of them) in pyplot; figures pyplot never saw need nothing."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    for f in figure if isinstance(figure, (list, tuple)) else [figure]:
        pyplot.close(f)


def figure_pb(
    tag: str, figure: Any, close: bool = True, *, legacy: bool = False
) -> summary_pb2.Summary:
    """Summary of a rendered figure, or of a list of same-sized figures tiled into one grid
    (as torch does). ``close``: close them in pyplot afterwards. ``legacy``: the legacy
    ``Summary.Image`` field (:func:`~tblog.core.summaries.image.image_pb`). Raises
    ``TypeError`` for non-figures and ``ValueError`` for an empty list or figures of
    different sizes."""
    tag = clean_tag(tag)
    if isinstance(figure, (list, tuple)):
        if not figure:
            raise ValueError("figure must not be an empty list")
        frames = [render_figure(f) for f in figure]
        if len({f.shape for f in frames}) != 1:
            sizes = sorted({f.shape[1::-1] for f in frames})
            raise ValueError(f"figures in one list must have the same size, got {sizes}")
        summary = images_pb(tag, np.stack(frames), "NHWC", legacy=legacy)
    else:
        summary = image_pb(tag, render_figure(figure), "HWC", legacy=legacy)
    if close:
        close_figures(figure)
    return summary
