"""``tblog.SummaryWriter``: the API of ``torch.utils.tensorboard.SummaryWriter`` on our core.

Every ``add_*`` turns its input into a Summary with the pure functions of
``tblog.core.summaries`` and queues it on the :class:`~tblog.core.write.writer.EventWriter`;
nothing here touches the disk. Framework tensors are accepted without importing their
framework (``tblog.core.convert``); ``add_graph`` dispatches to the model's integration.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tblog.core import convert, registry
from tblog.core.convert import MAX_STEP, MIN_STEP, prepare_scalar, to_step, to_wall_time
from tblog.core.tags import check_run_name
from tblog.core.write.encoder import SIMPLE_VALUE, TENSOR
from tblog.core.write.queue import EventWriter
from tblog.writer.distributed import DEFAULT_REDUCE_TIMEOUT, Ranks, check_reduce
from tblog.writer.file_writer import FileWriterMethods
from tblog.writer.graphs import GraphMethods
from tblog.writer.media import MediaMethods
from tblog.writer.ranks import RankGate, global_rank

_time = time.time
# What each style writes: (scalar encoding, histogram encoding, legacy media fields,
# metadata on every event)
_STYLES = {
    "torch": (SIMPLE_VALUE, "histo", True, False),
    "tf.summary": (TENSOR, "tensor", False, True),
}


def default_logdir(comment: str = "") -> str:
    """``runs/<Mon DD_HH-MM-SS>_<host><comment>``, as torch names it."""
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")


class SummaryWriter(RankGate, MediaMethods, GraphMethods, FileWriterMethods):
    """Writes TensorBoard event files for a log dir; a drop-in for torch's SummaryWriter.

    ``log_dir`` may be a local path or any fsspec URL (``memory://``, ``s3://``, ...).
    ``purge_step``: points at or after this step written earlier to the run are dropped by
    TensorBoard (resume). ``max_queue``: queued items that wake the writer thread.
    ``flush_secs``: longest time data stays in memory. ``rank_zero_only``: under
    ``torch.distributed``, processes whose global rank is not 0 write nothing.
    ``per_rank``: every rank also writes what it logs into its own run
    ``<log_dir>/rank_<r>`` (rank 0 too; :mod:`tblog.writer.distributed`).
    ``reduce_timeout``: seconds a cross-rank reduction (``add_scalar(..., reduce=...)``) may
    take before it fails with ``ReduceError`` (default 300).
    ``storage_options``: fsspec options for URL log dirs (e.g. ``endpoint_url`` for S3).
    ``style``: ``"torch"`` writes scalars as ``simple_value`` and histograms as
    ``HistogramProto`` and images, figures, video and audio in the legacy ``image`` and
    ``audio`` fields, as torch's writer does (what tbparse and the legacy
    ``EventAccumulator`` API read); ``"tf.summary"`` writes tf.summary's tensor encodings,
    the plugin metadata on every event (what Keras' callback writes).
    ``run_info``: log the run's provenance (command, cwd, git commit, host, rank, versions)
    as the text ``run/info``, once per log dir per process (``None``: unless the
    environment sets ``TBLOG_RUN_INFO=0``). ``system_stats``: run a
    :class:`tblog.SystemMonitor` (every 10 s, into ``<log_dir>/system``) until closed.
    """

    #: The step of the checkpoint last restored into this writer's runs (set by the
    #: checkpoint recorder until its next save at a later step), else ``None``: what the
    #: step counters of other hooks (``watch``) continue from after a resume.
    restored_step: int | None = None
    #: The steps above ``restored_step`` of checkpoints an earlier process saved that are
    #: still on disk: the recorder wrote their ``checkpoint/step`` points again at the
    #: resume, so a save of the resumed loop at one of them writes only its text.
    carried_saves: frozenset[int] = frozenset()

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 4096,
        flush_secs: float = 120,
        filename_suffix: str = "",
        *,
        rank_zero_only: bool = True,
        per_rank: bool = False,
        reduce_timeout: float = DEFAULT_REDUCE_TIMEOUT,
        storage_options: dict[str, Any] | None = None,
        style: str = "torch",
        run_info: bool | None = None,
        system_stats: bool = False,
    ) -> None:
        if style not in _STYLES:
            raise ValueError(f"style must be one of {sorted(_STYLES)}, got {style!r}")
        scalar_encoding, histogram_encoding, legacy_media, metadata_every = _STYLES[style]
        path = os.fspath(default_logdir(comment) if log_dir is None else log_dir)
        # self._writes is False on a rank that writes nothing (RankGate); the EventWriter
        # reopens itself when used after close(), as torch's writer does
        options = {
            "max_queue": max_queue,
            "flush_secs": flush_secs,
            "filename_suffix": filename_suffix,
            "purge_step": purge_step,
            "storage_options": storage_options,
            "metadata_every": metadata_every,
        }
        self._ranks = Ranks(path, self._writes, per_rank, rank_zero_only, reduce_timeout, options)
        super().__init__(
            path, self._ranks.events, scalar_encoding, histogram_encoding, legacy_media
        )
        self.purge_step = purge_step
        self._hparams_runs: set[str] = set()  # runs that hold an add_hparams session
        self._monitor: Any = None  # the system_stats SystemMonitor, until close()
        events = self._ranks.events
        if events is not None and run_info is not False:
            from tblog.system.run_info import queue_run_info

            queue_run_info(events, global_rank(), purge_step or 0, run_info)
        if events is not None and system_stats:
            from tblog.system.monitor import SystemMonitor

            # per rank into the rank's run (its own sub-run: wall-clock steps never meet a
            # training step's START); stops itself once this writer is closed
            rank = self._ranks.run
            run = f"{rank}/system" if rank else "system"
            self._monitor = SystemMonitor(self, run=run).start()

    # ------------------------------------------------------------------ basics
    def get_logdir(self) -> str:
        """The directory this writer writes to."""
        return self.log_dir

    @property
    def writer(self) -> EventWriter | None:
        """The underlying :class:`EventWriter` (``None`` on non-zero ranks)."""
        return self._writer

    @property
    def scalar_encoding(self) -> int:
        """How this writer encodes scalars: ``SIMPLE_VALUE`` (torch) or ``TENSOR`` (tf.summary)."""
        return self._scalar_encoding

    # ------------------------------------------------------------------ scalars
    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: Any = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
        reduce: str | None = None,
    ) -> None:
        """Log one scalar. ``scalar_value``: a number or one-element array/tensor.

        Written as ``simple_value`` (as torch writes it), or with ``new_style=True`` as a
        rank-0 float32 tensor with the scalars metadata (``double_precision`` is accepted
        for compatibility: DT_DOUBLE scalars are dropped by TensorBoard's Rust loader).
        ``reduce``: ``"mean"``, ``"sum"``, ``"min"`` or ``"max"`` across the ranks of the
        default process group, issued without waiting; every rank must make the call
        (:mod:`tblog.writer.distributed`).
        """
        w = self._writer
        t = self._tags.get(tag) if type(tag) is str else None
        if t is None:
            t = self._tag(tag)
        if reduce is not None:
            wall = _time() if walltime is None else to_wall_time(walltime)
            encoding = TENSOR if new_style else self._scalar_encoding
            self._ranks.scalar("", t, scalar_value, to_step(global_step), wall, encoding, reduce)
            return
        if type(scalar_value) is not float:
            scalar_value = prepare_scalar(scalar_value)
        # int64 bounds as literals (constants, cheaper than globals on this hot path)
        if (
            type(global_step) is not int
            or not -9223372036854775808 <= global_step <= 9223372036854775807
        ):
            global_step = to_step(global_step)  # raises outside int64
        # The one scalar entry point (add_scalars and log_metrics use it too). Inlining its
        # body here measured 0.271 vs 0.293 us/call (8%, under the 15% that would justify a
        # hand-kept copy).
        w.scalar(
            "",
            t,
            scalar_value,
            global_step,
            _time() if walltime is None else to_wall_time(walltime),
            TENSOR if new_style else self._scalar_encoding,
        )

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: dict[str, Any],
        global_step: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log several scalars under ``main_tag``, one run per key (torch's layout:
        ``<log_dir>/<main_tag with / as _>_<key>``). Raises ``ValueError`` for a key that
        would make a run outside the log dir (``..``), before anything is logged."""
        wall = _time() if walltime is None else to_wall_time(walltime)
        self._add_scalars(main_tag, tag_scalar_dict, to_step(global_step), wall, "")

    def _add_scalars(
        self,
        main_tag: Any,
        tag_scalar_dict: Any,
        step: int,
        wall: float,
        parent: str,
        reduce: str | None = None,
    ) -> None:
        main = self._tag(main_tag)
        if not isinstance(tag_scalar_dict, dict):
            raise TypeError(f"tag_scalar_dict must be a dict, got {type(tag_scalar_dict).__name__}")
        prefix = (parent + "/" if parent else "") + main.replace("/", "_") + "_"
        items = [
            (check_run_name(prefix + self._tag(key, "tag_scalar_dict key"), "run"), value)
            for key, value in tag_scalar_dict.items()
        ]
        encoding = self._scalar_encoding
        if reduce is not None:
            for run, value in items:
                self._ranks.scalar(run, main, value, step, wall, encoding, reduce)
            return
        values = [(run, prepare_scalar(value)) for run, value in items]
        scalar = self._writer.scalar
        for run, value in values:
            scalar(run, main, value, step, wall, encoding)

    def log_metrics(
        self,
        metrics: Mapping[str, Any],
        step: Any = None,
        *,
        run: str = "",
        reduce: str | None = None,
    ) -> None:
        """Log each item of ``metrics`` at ``step``, all at one wall time: a number or a
        one-element tensor as :meth:`add_scalar` logs it (this writer's scalar encoding, the
        tag cleaned the same way), a dict as :meth:`add_scalars` does. ``run``: a sub-run
        of the log dir (``""``: the writer's own; :func:`~tblog.core.tags.check_run_name`).

        The loggers' hot path (Lightning's ``TBLogger``, the Keras callback). Raises
        ``ValueError`` naming the metric whose value is not a number, a one-element tensor
        or a dict of them (the metrics before it are logged). ``reduce``: as in
        :meth:`add_scalar`, for every value (a dict's too, in key order)."""
        if reduce is not None:
            check_reduce(reduce)
        if run:
            run = check_run_name(run, "run")
        step = step if type(step) is int else to_step(step)
        if not MIN_STEP <= step <= MAX_STEP:
            step = to_step(step)
        wall = _time()
        tags = self._tags
        scalar = self._writer.scalar if reduce is None else self._ranks.reduced(reduce)
        encoding = self._scalar_encoding
        for key, value in metrics.items():
            try:
                if type(value) is not float:
                    if isinstance(value, dict):
                        self._add_scalars(key, value, step, wall, run, reduce)
                        continue
                    if reduce is None:
                        value = prepare_scalar(value)
                tag = tags.get(key) if type(key) is str else None
                if tag is None:
                    tag = self._tag(key)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"metric {key!r}: cannot log {value!r:.80} ({exc}); expected a str key"
                    " and a number, a one-element tensor or a dict of them"
                ) from exc
            scalar(run, tag, value, step, wall, encoding)

    def add_tensor(
        self, tag: str, tensor: Any, global_step: Any = None, walltime: float | None = None
    ) -> None:
        """Log a raw tensor (any numeric dtype and shape)."""
        from tblog.core.summaries import tensor as tensor_summary

        self._summary(
            tensor_summary.tensor_pb(self._tag(tag), convert.to_numpy(tensor)),
            global_step,
            walltime,
        )

    # ------------------------------------------------------------------ histograms
    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: Any = None,
        bins: Any = "tensorflow",
        walltime: float | None = None,
        max_bins: int | None = None,
    ) -> None:
        """Log a histogram of ``values``. ``bins``: ``"tensorflow"`` (TensorBoard's
        exponential buckets), an int, a numpy bin rule name or an array of edges."""
        from tblog.core.summaries import histogram

        tag = self._tag(tag)
        step = to_step(global_step)
        wall = _time() if walltime is None else to_wall_time(walltime)
        encoding = self._histogram_encoding
        adapter = registry.adapter_for(values)
        if adapter is not None and adapter.histogram_pb is not None:
            deferred = (
                adapter.defer_histogram(tag, values, bins, max_bins, encoding)
                if adapter.defer_histogram is not None
                else None
            )
            if deferred is not None:
                # CUDA: the writer thread completes the summary once the copy has landed.
                summary, fill = deferred
                self._writer.call(fill)
                self._summary(summary, step, wall)
                return
            summary = adapter.histogram_pb(tag, values, bins, max_bins, encoding)
        else:
            summary = histogram.histogram_pb(
                tag, convert.to_numpy(values), bins=bins, max_bins=max_bins, encoding=encoding
            )
        self._summary(summary, step, wall)

    def add_histogram_raw(
        self,
        tag: str,
        min: float,  # noqa: A002 - torch's argument names
        max: float,  # noqa: A002
        num: int,
        sum: float,  # noqa: A002
        sum_squares: float,
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a histogram given its statistics and buckets (``bucket_limits`` are right edges)."""
        from tblog.core.summaries import histogram

        self._summary(
            histogram.histogram_raw_pb(
                self._tag(tag),
                min,
                max,
                num,
                sum,
                sum_squares,
                convert.to_numpy(bucket_limits),
                convert.to_numpy(bucket_counts),
                encoding=self._histogram_encoding,
            ),
            global_step,
            walltime,
        )

    def add_hparams(
        self,
        hparam_dict: dict[str, Any],
        metric_dict: dict[str, Any],
        hparam_domain_discrete: dict[str, list[Any]] | None = None,
        run_name: str | None = None,
        global_step: Any = None,
    ) -> None:
        """Log hyperparameters and their metrics to the HPARAMS dashboard.

        Written into this writer's own run by default (``run_name``: a sub-run, relative,
        without ``..``); a later call without ``run_name`` (the run has its session) makes a
        sub-run named by the time, as torch names each call's, so every call is a session.
        The dashboard shows each metric's last value in the run: a metric
        whose tag the run already logs adds no point; a new one is logged as a scalar at
        ``global_step``, or by default at the run's last logged step (0 in an empty run).
        Raises ``TypeError``/``ValueError`` for bad arguments, before writing anything.
        """
        from tblog.core.summaries import hparams
        from tblog.core.tags import check_run_name

        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("hparam_dict and metric_dict must be dicts")
        wall = _time()
        sessions = self._hparams_runs
        if run_name is None:
            run = "" if "" not in sessions else check_run_name(str(wall))
        else:
            run = check_run_name(run_name)
        step = to_step(global_step)
        metrics = {self._tag(key): value for key, value in metric_dict.items()}
        summaries = hparams.hparams_pb(
            hparam_dict,
            metrics,
            hparam_domain_discrete,
            start_time_secs=wall,
            bool_as_number=self._scalar_encoding == SIMPLE_VALUE,  # torch style: as torch
        )
        values = [(key, prepare_scalar(value)) for key, value in metrics.items()]
        steps = hparams_metric_steps(self, run, list(metrics), global_step)
        for summary in summaries:
            self._summary(summary, step, wall, run=run)
        for key, value in values:
            if key in steps:
                self._writer.scalar(run, key, value, steps[key], wall, self._scalar_encoding)
        sessions.add(run)

    # ------------------------------------------------------------------ lifecycle
    def restart(self, step: int) -> None:
        """Tell TensorBoard the run resumes at ``step``: points at or after it that an
        earlier process wrote are dropped by both loaders, in every run of this writer."""
        self._writer.restart(to_step(step))

    def flush(self) -> None:
        """Return once everything logged so far is written to the log dir (a no-op once
        closed)."""
        if not self._writer.closed:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the event files. Idempotent; the next ``add_*`` reopens (new
        event files in the same runs), as torch's writer does. A ``system_stats`` monitor
        takes its last sample and stops before this returns (it does not restart)."""
        self._writer.close()
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.stop(timeout=30)

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hparams_metric_steps(
    writer: SummaryWriter, run: str, tags: list[str], global_step: Any = None
) -> dict[str, int]:
    """``{tag: step}`` at which ``add_hparams`` logs its metrics in ``run`` of ``writer``:
    none for the tags the run already logs (the hparams dashboard shows their last value),
    ``global_step`` (if given) or else the run's last logged step for the others.

    Flushes the writer and reads the run's event files once.
    """
    core = writer.writer
    if core is None or not tags:
        return {}
    from tblog.core.read import events as read_events
    from tblog.core.read.scan import load_run

    core.flush()
    storage, run_dir = core.storage, core.run_dir(run)
    series = {}
    if storage.isdir(run_dir):
        series = load_run(storage, read_events.event_paths(storage, run_dir), purge=False).series
    given = global_step is not None
    last = (int(s.steps.max()) for s in series.values() if s.steps.size)
    step = to_step(global_step) if given else max(last, default=0)
    return {tag: step for tag in tags if tag not in series}
