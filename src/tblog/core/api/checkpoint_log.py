"""Recording checkpoint saves and restores in a run (shared by every checkpoint hook).

A save writes a ``checkpoint/step`` scalar (one point per checkpoint, value = its step) and
a ``checkpoint/saved`` text entry (step, path, metrics). A restore at step N marks every
run of the writer so that both TensorBoard loaders drop the points that the crashed
process wrote at or after N (see ``../shared/event-format.md`` section 2):

- the Python loader (``--load_fast=false``) purges on a ``SessionLog START`` at N
  (``writer.restart(N)``; the core puts a START at step 0 in each run's first file, since
  the loader ignores the first START it sees);
- the Rust data server (``--load_fast=true``) ignores START; a new point at step s drops
  that tag's points at steps >= s. Tags that the resumed process logs again from N on are
  therefore fine, but a tag that the crashed run logged after N and the resumed run never
  logs again (or logs first at a later step) would keep its stale points. So before the
  START we write, for every tag with points at or after N, one *placeholder* point at N
  that the data server stores as data loss (which drops the stale points and is never
  served): a rank-1 float tensor for scalar tags, an empty one for blob (image, audio)
  tags, a ``simple_value`` for tensor tags (histograms, text, ...). The Python loader purges the
  placeholders themselves with the START that follows them.

A run whose files hold no START yet (one started by ``torch.utils.tensorboard`` or
``tf.summary``) gets one more START, which the Python loader ignores as its first.

Limits: restore before the resumed process logs anything at or after N; the scan reads
the run's event files once (about 2 s per 500k events on a loaded 2-core machine; for an
fsspec URL, plus downloading them).

The restore also logs ``checkpoint/step`` at N again (the START purges the record of the
save at N, but the checkpoint file is still there) and a ``checkpoint/restored`` text.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from tblog.core.format import events, records
from tblog.core.proto import event_pb2, summary_pb2, tensor_pb2
from tblog.core.read.reader import parse_events
from tblog.core.write.storage import Storage, is_event_file, open_storage

SCALAR_TAG = "checkpoint/step"
SAVED_TAG = "checkpoint/saved"
RESTORED_TAG = "checkpoint/restored"


def _fmt_metrics(metrics: Mapping[str, Any] | None) -> str:
    if not metrics:
        return ""
    parts = []
    for key, value in metrics.items():
        try:
            parts.append(f"{key}={float(value):.6g}")
        except (TypeError, ValueError):
            parts.append(f"{key}={value}")
    return " (" + ", ".join(parts) + ")"


def record_save(
    writer: Any, step: int, path: str, metrics: Mapping[str, Any] | None = None
) -> None:
    """Record in ``writer``'s run that a checkpoint of ``step`` was saved at ``path``.

    ``writer``: a ``tblog.SummaryWriter`` (or ``None``: nothing is recorded).
    ``metrics``: optional name -> number (or printable) shown in the text entry.
    """
    if writer is None:
        return
    step = int(step)
    writer.add_scalar(SCALAR_TAG, float(step), step)
    writer.add_text(SAVED_TAG, f"step {step}: `{path}`{_fmt_metrics(metrics)}", step)


def record_restore(writer: Any, step: int, path: str | None = None) -> None:
    """Record a restore at ``step`` and mark the run so curves continue at ``step``.

    ``writer``: a ``tblog.SummaryWriter`` (or ``None``). Every run it writes (its log dir
    and the ``add_scalars`` sub-runs beside it) is marked with :func:`mark_resume`.
    """
    if writer is None:
        return
    step = int(step)
    mark_resume(writer, step)
    writer.add_scalar(SCALAR_TAG, float(step), step)
    where = f" from `{path}`" if path else ""
    writer.add_text(RESTORED_TAG, f"resumed at step {step}{where}", step)


def mark_resume(writer: Any, step: int) -> None:
    """Make both TensorBoard loaders drop what earlier processes logged at or after ``step``.

    ``writer``: a ``tblog.SummaryWriter`` (or ``None``). Writes the data-server
    placeholders described in the module docstring into its log dir and into its
    ``add_scalars`` sub-runs (sub-directories with files from the same processes), then calls
    ``writer.restart(step)``. Raises ``TypeError`` for a writer without ``restart``.
    """
    if writer is None:
        return
    if not callable(getattr(writer, "restart", None)):
        raise TypeError(
            f"writer must be a tblog.SummaryWriter (with restart()), got {type(writer).__name__}"
        )
    step = int(step)
    core = getattr(writer, "writer", None)  # the EventWriter; None on non-zero ranks
    if core is not None:
        wall = time.time()
        for run, (tags, has_start) in _scan_runs(core.storage, core.logdir, step).items():
            if tags:
                core.event(run, _placeholder_event(tags, step, wall))
            if not has_start:
                # the Python loader ignores the first START of a run: give it one
                core.event(run, events.session_start_event(step, wall))
    writer.restart(step)


def stale_tags(
    logdir: str, step: int, storage_options: dict[str, Any] | None = None
) -> dict[str, dict[str, str]]:
    """``{run: {tag: kind}}`` of the summary tags with a point at a step >= ``step``, for
    the run in ``logdir`` (a path or fsspec URL; run ``""``) and its sub-runs (run = the
    sub-directory's name; see ``_run_dirs``). ``kind`` is ``"scalar"``, ``"blob"`` or
    ``"tensor"``. A corrupt record ends the scan of its file.
    """
    storage = open_storage(logdir, storage_options)
    return {run: tags for run, (tags, _) in _scan_runs(storage, storage.root, step).items()}


def _scan_runs(storage: Storage, logdir: str, step: int) -> dict[str, tuple[dict[str, str], bool]]:
    """``{run: (stale tags, whether its files hold a SessionLog START)}``."""
    out: dict[str, tuple[dict[str, str], bool]] = {}
    for run, run_dir in _run_dirs(storage, logdir):
        kinds: dict[str, str] = {}
        stale: dict[str, str] = {}
        has_start = False
        for name in sorted(storage.listdir(run_dir)):
            if is_event_file(name):
                data = storage.read(storage.join(run_dir, name)) or b""
                has_start |= _scan_events(data, name, step, kinds, stale)
        out[run] = (stale, has_start)
    return out


_WRITER_ID = re.compile(r"tfevents\.\d+\.(.+)\.(\d+)\.\d+")


def _writer_ids(names: Iterable[str]) -> set[tuple[str, str]]:
    """``{(host, pid)}`` of the processes that wrote these event files (by their names)."""
    return {(m.group(1), m.group(2)) for m in map(_WRITER_ID.search, names) if m}


def _run_dirs(storage: Storage, logdir: str) -> Iterable[tuple[str, str]]:
    """The writer's own run and its sub-runs: the immediate sub-directories with event
    files written by a process that also wrote the log dir's own event files (what
    ``add_scalars`` makes), not unrelated runs that happen to live below the log dir."""
    names = storage.listdir(logdir)
    if not names:
        return
    yield "", logdir
    ours = _writer_ids(names)
    for name in sorted(names):
        if not ours or is_event_file(name):
            continue
        sub = storage.join(logdir, name)
        inside = storage.listdir(sub)
        if inside != [name] and _writer_ids(inside) & ours:  # [name]: a file, not a dir
            yield name, sub


def _scan_events(
    data: bytes, name: str, step: int, kinds: dict[str, str], stale: dict[str, str]
) -> bool:
    """Add the tags of an event file's bytes with points at steps >= ``step`` to
    ``stale``; return whether it holds a SessionLog START."""
    has_start = False
    try:
        for event in parse_events(data, check_crc=False, source=name):
            what = event.WhichOneof("what")
            if what == "session_log":
                has_start |= event.session_log.status == event_pb2.SessionLog.START
                continue
            if what != "summary":
                continue
            for value in event.summary.value:
                kind = kinds.get(value.tag)
                if kind is None:
                    kind = kinds[value.tag] = _kind(value)  # the first value decides
                if event.step >= step:
                    stale[value.tag] = kind
    except records.DataLossError:
        pass  # what precedes a torn or corrupt record still counts
    return has_start


_BLOB_PLUGINS = frozenset({"images", "audio"})


def _kind(value: summary_pb2.Summary.Value) -> str:
    """How the data server stores a tag, judged from its first value (as it does)."""
    data_class: int = value.metadata.data_class
    if data_class == summary_pb2.DATA_CLASS_SCALAR:
        return "scalar"
    if data_class == summary_pb2.DATA_CLASS_BLOB_SEQUENCE:
        return "blob"
    if data_class == summary_pb2.DATA_CLASS_TENSOR:
        return "tensor"
    which = value.WhichOneof("value")
    plugin: str = value.metadata.plugin_data.plugin_name
    if which == "simple_value" or plugin == "scalars":
        return "scalar"
    if which in ("image", "audio") or plugin in _BLOB_PLUGINS:
        return "blob"
    return "tensor"


def _placeholder_event(tags: dict[str, str], step: int, wall_time: float) -> bytes:
    """One event with a data-server placeholder at ``step`` per tag (no metadata)."""
    summary = summary_pb2.Summary()
    for tag, kind in sorted(tags.items()):
        value = summary.value.add(tag=tag)
        if kind == "tensor":
            value.simple_value = math.nan  # not a tensor: data loss for a tensor series
        elif kind == "scalar":
            # rank 1: data loss for the data server, which wants rank 0; still one number
            # (NaN) for the Python loader should it keep it (--purge_orphaned_data=false)
            value.tensor.dtype = tensor_pb2.DT_FLOAT
            value.tensor.tensor_shape.dim.add(size=1)
            value.tensor.float_val.append(math.nan)
        else:
            value.tensor.dtype = tensor_pb2.DT_FLOAT  # no strings: data loss for blobs
            value.tensor.tensor_shape.dim.add(size=0)
    return events.summary_event(summary, step, wall_time)
