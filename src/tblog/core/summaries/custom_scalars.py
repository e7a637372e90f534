"""Custom Scalars layouts: plugin ``custom_scalars``, tag ``custom_scalars__config__``.

A rank-0 DT_STRING tensor holding a serialized ``Layout`` (docs/event-format.md §6.8). The
layout is given as torch takes it: ``{category: {chart title: [kind, tags]}}`` where kind
is ``"Multiline"`` (tags are regexes, one line each) or ``"Margin"`` (tags are
``[value, lower, upper]``).
"""

from __future__ import annotations

from typing import Any

from tblog.core.proto import plugins_pb2, summary_pb2
from tblog.core.summaries.common import (
    DATA_CLASS_TENSOR,
    metadata,
    string_tensor_proto,
    summary_value,
)

PLUGIN_NAME = "custom_scalars"
CONFIG_TAG = "custom_scalars__config__"


def _tags(where: str, tags: Any) -> list[str]:
    if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
        raise TypeError(f"{where} tags must be a list of str, got {type(tags).__name__}")
    for t in tags:
        if not isinstance(t, str) or not t:
            raise TypeError(f"{where} tags must be non-empty str, got {t!r}")
    return list(tags)


def layout_proto(layout: dict[str, dict[str, list[Any]]]) -> plugins_pb2.Layout:
    """The ``Layout`` proto of a torch-style layout dict (see the module docstring).

    Raises ``TypeError`` for a malformed dict and ``ValueError`` for an unknown chart kind
    or a margin chart without exactly three tags.
    """
    if not isinstance(layout, dict):
        raise TypeError(f"layout must be a dict, got {type(layout).__name__}")
    proto = plugins_pb2.Layout()
    for title, charts in layout.items():
        if not isinstance(title, str):
            raise TypeError(f"layout category titles must be str, got {title!r}")
        if not isinstance(charts, dict):
            raise TypeError(
                f"layout[{title!r}] must be a dict of charts, got {type(charts).__name__}"
            )
        category = proto.category.add(title=title)
        for chart_title, spec in charts.items():
            where = f"layout[{title!r}][{chart_title!r}]"
            if not isinstance(chart_title, str):
                raise TypeError(f"chart titles must be str, got {chart_title!r}")
            if not isinstance(spec, (list, tuple)) or len(spec) != 2:
                raise TypeError(f"{where} must be [kind, tags], got {spec!r:.80}")
            kind, tags = spec
            chart = category.chart.add(title=chart_title)
            if kind == "Multiline":
                chart.multiline.tag.extend(_tags(where, tags))
            elif kind == "Margin":
                value, lower, upper = _margin(where, tags)
                chart.margin.series.add(value=value, lower=lower, upper=upper)
            else:
                raise ValueError(f"{where} kind must be 'Multiline' or 'Margin', got {kind!r}")
    return proto


def _margin(where: str, tags: Any) -> list[str]:
    checked = _tags(where, tags)
    if len(checked) != 3:
        raise ValueError(
            f"{where} margin chart needs [value, lower, upper] tags, got {len(checked)}"
        )
    return checked


def layout_pb(layout: dict[str, dict[str, list[Any]]]) -> summary_pb2.Summary:
    """Summary holding a Custom Scalars layout (see :func:`layout_proto` for ``layout``)."""
    data = layout_proto(layout).SerializeToString()
    return summary_value(
        CONFIG_TAG,
        string_tensor_proto(data, shape=()),
        metadata(PLUGIN_NAME, b"", DATA_CLASS_TENSOR),
    )
