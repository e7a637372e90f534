"""``WriterBase``: the state and shared helpers of ``tblog.SummaryWriter``, which its method
groups (:mod:`~tblog.writer.media`, :mod:`~tblog.writer.graphs`,
:mod:`~tblog.writer.file_writer`) inherit, so none of them declares its host's attributes.

A writer that exists writes: on a rank that must not write, ``tblog.SummaryWriter`` gives a
writer whose public methods do nothing instead (``summary_writer.py``), so nothing here
checks for a missing EventWriter.
"""

from __future__ import annotations

import time
from typing import Any

from tblog.core.convert import to_step, to_wall_time
from tblog.core.tags import clean_tag
from tblog.core.write.writer import EventWriter

_time = time.time


class WriterBase:
    """``log_dir``, the EventWriter (``_writer``), the encodings and the tag cache."""

    def __init__(
        self,
        log_dir: str,
        event_writer: EventWriter | None,
        scalar_encoding: int,
        histogram_encoding: str,
        legacy_media: bool = False,
    ) -> None:
        self.log_dir = log_dir
        self._tags: dict[str, str] = {}
        self._scalar_encoding = scalar_encoding
        self._histogram_encoding = histogram_encoding
        # images, figures, video, audio in the legacy image/audio fields (torch) or as the
        # plugins' tensors (tf.summary)
        self._legacy_media = legacy_media
        # None only on the writer of a rank that writes nothing, whose methods never use it
        self._writer: EventWriter = event_writer  # type: ignore[assignment]

    def _tag(self, tag: Any, name: str = "tag") -> str:
        """``tag`` cleaned as :func:`tblog.core.tags.clean_tag` cleans it (cached)."""
        cleaned = self._tags.get(tag) if type(tag) is str else None
        if cleaned is None:
            cleaned = clean_tag(tag, name)
            self._tags[tag] = cleaned
        return cleaned

    def _summary(
        self, summary: Any, global_step: Any, walltime: float | None, run: str = ""
    ) -> None:
        """Queue ``summary`` in ``run`` at ``global_step`` (now when ``walltime`` is None)."""
        wall = _time() if walltime is None else to_wall_time(walltime)
        self._writer.summary(run, summary, to_step(global_step), wall)
