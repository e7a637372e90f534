"""The one hook the resume marking needs in the write path: see each batch before it is encoded.

Contract (what :class:`tblog.core.api.recorder.CheckpointRecorder` needs from the writer):
on the writer thread, before the items of a batch taken off the queue are encoded, the
writer calls ``observer(batch)`` with the batch as a ``list`` of queued item tuples (the
kinds of ``tblog.core.write.writer``: ``(SCALAR, run, tag, value, step, wall)``,
``(SUMMARY, run, Summary, step, wall)``, ...). The observer may insert items into the
list in place (nothing else); inserted items are encoded in their place, as if queued
there. It returns ``True`` to stay installed, ``False`` to be removed. It must not block:
it runs on the writer thread, which is the only one writing files.

On the current ``EventWriter`` the hook wraps the instance's ``_handle(batch, touched)``,
called once per batch by ``_drain`` (which re-queues ``batch[self._done:]`` of the same
list on failure, so in-place insertion keeps its accounting right). A writer that offers
a public ``observe_batches(observer)`` is used instead.

And one more: :func:`before_close` runs a function on the caller's thread when the writer's
``close()`` starts, before its final flush, so that it can still queue items (on the
current writer: the instance's ``close`` is wrapped; a public ``before_close(fn)`` wins).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Observer = Callable[[list[tuple[Any, ...]]], bool]
_lock = threading.Lock()


def observe_batches(event_writer: Any, observer: Observer) -> None:
    """Call ``observer(batch)`` on ``event_writer``'s thread before each batch is encoded,
    until it returns ``False``. Several observers run in the order they were added."""
    public = getattr(type(event_writer), "observe_batches", None)
    if public is not None:
        public(event_writer, observer)
        return
    with _lock:
        observers: list[Observer] | None = event_writer.__dict__.get("_tblog_observers")
        if observers is not None:
            observers.append(observer)
            return
        observers = [observer]
        handle = type(event_writer)._handle.__get__(event_writer)

        def _observed_handle(batch: list[tuple[Any, ...]], touched: set[str]) -> None:
            for fn in list(observers):
                if not fn(batch):
                    observers.remove(fn)
            if not observers:
                with _lock:  # nothing left to observe: back to the plain method
                    if not observers:
                        event_writer.__dict__.pop("_handle", None)
                        event_writer.__dict__.pop("_tblog_observers", None)
            handle(batch, touched)

        event_writer.__dict__["_tblog_observers"] = observers
        event_writer.__dict__["_handle"] = _observed_handle


def before_close(event_writer: Any, fn: Callable[[], None]) -> None:
    """Call ``fn()`` once, on the closing thread, when ``event_writer.close()`` starts."""
    public = getattr(type(event_writer), "before_close", None)
    if public is not None:
        public(event_writer, fn)
        return
    with _lock:
        hooks: list[Callable[[], None]] | None = event_writer.__dict__.get("_tblog_on_close")
        if hooks is not None:
            hooks.append(fn)
            return
        hooks = [fn]
        close = type(event_writer).close.__get__(event_writer)

        def _close(*args: Any, **kwargs: Any) -> None:
            with _lock:
                todo = list(hooks)
                hooks.clear()
                event_writer.__dict__.pop("close", None)
                event_writer.__dict__.pop("_tblog_on_close", None)
            try:
                if not event_writer.closed:
                    for f in todo:
                        f()
            finally:
                close(*args, **kwargs)

        event_writer.__dict__["_tblog_on_close"] = hooks
        event_writer.__dict__["close"] = _close
