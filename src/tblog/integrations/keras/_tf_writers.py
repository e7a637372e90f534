"""Default summary writers during ``fit``/``evaluate``, as ``keras.callbacks.TensorBoard``
installs them (``_push_writer``/``_pop_writer``), for :class:`tblog.TBCallback`.

When ``update_freq`` is not ``"epoch"``, Keras makes its train writer the default
``tf.summary`` writer from ``on_train_begin`` on (re-pushed at each train batch with the
global batch as step and ``record_if(step % update_freq == 0)``), and its validation writer
during each evaluation (the global test batch as step); ``tf.summary`` calls in a layer's
``call()`` or a custom ``train_step`` land in those runs. :class:`SummaryDefaults` does the
same for the callback's runs, with

- ``tblog.summary`` writers attached to the callback's own writers (same file), on every
  backend;
- on the TensorFlow backend, real ``tf.summary`` writers as well. TensorFlow writes their
  events into a private temporary directory (never a second file in the run directory:
  TensorBoard's Python loader reads a run's files in name order and never returns to an
  older one); :meth:`SummaryDefaults.forward` copies each new event, unchanged, into the
  callback's run file (at each epoch end, evaluation end and train end), so both loaders
  see every point in one file. When another callback's writer is already the default
  (``keras.callbacks.TensorBoard`` in the same ``fit``), tf.summary calls land in its run
  and no TensorFlow writer is pushed over it: one default writer exists at a time, and
  Keras' pops must find the writers it pushed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from tblog.core.format import records
from tblog.core.storage import is_event_file
from tblog.summary import SummaryFileWriter, record_if


class _TfRun:
    """One run's ``tf.summary`` writer, writing into a private temporary directory."""

    def __init__(self, tf: Any) -> None:
        self.dir = tempfile.mkdtemp(prefix="tblog-tf-summary-")
        self.writer = tf.summary.create_file_writer(self.dir)
        self.offset = 0
        self.name: str | None = None
        self.still_default = False  # another callback may restore it as the default later

    def new_events(self) -> list[bytes]:
        """Flush the writer; the events written since the last call (file_version left out)."""
        import os

        self.writer.flush()
        if self.name is None:
            names = sorted(n for n in os.listdir(self.dir) if is_event_file(n))
            if not names:
                return []
            self.name = names[0]
        with open(os.path.join(self.dir, self.name), "rb") as f:
            f.seek(self.offset)
            buf = f.read()
        from tblog.core.proto import event_pb2

        out = []
        end = 0
        for after, data in records.iter_records(buf):
            end = after  # a truncated last record is read next time
            if event_pb2.Event.FromString(data).WhichOneof("what") != "file_version":
                out.append(data)
        self.offset += end
        return out

    def close(self) -> None:
        self.writer.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def default_tf_writer() -> Any:
    """The current default ``tf.summary`` writer of this thread, or ``None``.

    TensorFlow has no public getter: this reads ``summary_ops_v2._summary_state.writer``
    (checked against TensorFlow 2.21; ``test_tf_summary_keras.py`` tests it).
    """
    from tensorflow.python.ops import summary_ops_v2

    return summary_ops_v2._summary_state.writer


class _TfDefault:
    """``tf_writer.as_default(step)`` that, on exit, restores the previous default only if
    its writer is still the default (else another callback pushed over it and restores it
    itself; the writer is then kept open, see :meth:`SummaryDefaults.close`)."""

    def __init__(self, tf_run: _TfRun, step: int) -> None:
        self._run = tf_run
        self._context = tf_run.writer.as_default(step)

    def __enter__(self) -> None:
        self._context.__enter__()

    def __exit__(self, *exc: object) -> None:
        if default_tf_writer() is self._run.writer:
            self._context.__exit__(*exc)
        else:
            self._run.still_default = True


class SummaryDefaults:
    """The stack of default writers a :class:`TBCallback` pushes, as Keras' callback does.

    ``writer_for(run)`` returns the callback's ``tblog.SummaryWriter`` of ``run``;
    ``update_freq`` is ``"epoch"`` (nothing is pushed, as Keras) or an int.
    """

    def __init__(self, writer_for: Callable[[str], Any], update_freq: int | str) -> None:
        self._writer_for = writer_for
        self._freq = update_freq
        self._stack: list[list[Any]] = []
        self._ours: dict[str, SummaryFileWriter] = {}
        self._tf: dict[str, _TfRun] = {}
        self.test_batch = 0  # Keras' global test batch (never reset)

    def _tf_module(self) -> Any:
        keras = sys.modules.get("keras")
        if keras is None or keras.backend.backend() != "tensorflow":
            return None
        return sys.modules.get("tensorflow")

    def push(self, run: str, step: int) -> None:
        """Make ``run``'s writers the defaults at ``step`` (Keras' ``_push_writer``)."""
        if self._freq == "epoch":
            return
        freq = int(self._freq)

        def should_record() -> bool:
            return step % freq == 0

        contexts: list[Any] = []
        core = self._writer_for(run).writer
        if core is not None:  # None on ranks that write nothing
            ours = self._ours.get(run)
            if ours is None or ours.event_writer is not core:
                ours = self._ours[run] = SummaryFileWriter.attach(core)
            contexts += [ours.as_default(step, flush=False), record_if(should_record)]
            tf = self._tf_module()
            current = None if tf is None else default_tf_writer()
            mine = {r.writer for r in self._tf.values()}
            # Another callback's writer is the default (keras.callbacks.TensorBoard in the
            # same fit): tf.summary calls already land in its run; pushing over it would
            # break the pairing of its own pushes and pops.
            if tf is not None and (current is None or current in mine):
                tf_run = self._tf.get(run)
                if tf_run is None:
                    tf_run = self._tf[run] = _TfRun(tf)
                contexts += [_TfDefault(tf_run, step), tf.summary.record_if(should_record)]
        for context in contexts:
            context.__enter__()
        self._stack.append(contexts)  # empty when nothing is written: pop stays paired

    def pop(self) -> None:
        """Restore the writers that were the defaults before the last :meth:`push`."""
        if not self._stack:
            return
        exc = sys.exc_info()
        for context in reversed(self._stack.pop()):
            context.__exit__(*exc)

    def test_begin(self) -> None:
        """``on_test_begin``: the validation writers at Keras' global test batch."""
        self.push("validation", self.test_batch)

    def test_batch_begin(self) -> None:
        """``on_test_batch_begin``: the next global test batch."""
        self.test_batch += 1
        self.repush("validation", self.test_batch)

    def test_end(self) -> None:
        """``on_test_end``: pop the validation writers and forward; after a standalone
        ``evaluate`` (nothing left pushed) drop the ``tf.summary`` writers too."""
        self.pop()
        if self._stack:
            self.forward()
        else:
            self.close()

    def repush(self, run: str, step: int) -> None:
        """Keras' ``_pop_writer(); _push_writer(writer, step)`` at each batch."""
        self.pop()
        self.push(run, step)

    def forward(self) -> None:
        """Copy what the ``tf.summary`` writers wrote since the last call into the runs."""
        for run, tf_run in self._tf.items():
            events = tf_run.new_events()
            if events:
                core = self._writer_for(run).writer
                if core is not None:
                    for data in events:
                        core.event("", data)

    def close(self) -> None:
        """Pop everything, forward what is left and drop the ``tf.summary`` writers."""
        while self._stack:
            self.pop()
        try:
            self.forward()
        finally:
            for tf_run in self._tf.values():
                if not tf_run.still_default:
                    tf_run.close()
            self._tf.clear()
            self._ours.clear()
