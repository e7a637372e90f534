"""The two hooks the resume marking needs in the write path (what
:class:`tblog.checkpoint.recorder.CheckpointRecorder` needs from the writer).

- :func:`observe_batches`: on the writer thread, before the items of a batch taken off the
  queue are encoded, the writer calls ``observer(batch)`` with the batch as a ``list`` of
  queued items (scalar tuples ``(run, tag, value, step, wall, encoding)`` and the typed
  items of :mod:`tblog.core.write.encoder`). The observer may insert items into the list in
  place (nothing else); inserted items are encoded in their place, as if queued there. It
  returns ``True`` to stay installed, ``False`` to be removed. It must not block.
- :func:`before_close`: a function run on the caller's thread when the writer's ``close()``
  starts, before its final flush, so that it can still queue items.

Both are :class:`tblog.core.write.queue.EventWriter` methods; these functions name the
contract in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Observer = Callable[[list[Any]], bool]


def observe_batches(event_writer: Any, observer: Observer) -> None:
    """Call ``observer(batch)`` on ``event_writer``'s thread before each batch is encoded,
    until it returns ``False``. Several observers run in the order they were added."""
    event_writer.observe_batches(observer)


def before_close(event_writer: Any, fn: Callable[[], None]) -> None:
    """Call ``fn()`` once, on the closing thread, when ``event_writer.close()`` starts."""
    event_writer.before_close(fn)
