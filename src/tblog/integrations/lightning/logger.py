"""``TBLogger``: Lightning's ``TensorBoardLogger`` on tblog's writer core.

Imported only when ``tblog.TBLogger`` is first used: it imports ``lightning`` (preferred)
or ``pytorch_lightning``, whichever is installed, and subclasses that package's ``Logger``.
A Trainer from either package accepts it (Trainers duck-type their loggers).
"""

from __future__ import annotations

import inspect
import os
import time
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from tblog.checkpoint.recorder import CheckpointRecorder
from tblog.core.storage import open_storage
from tblog.integrations.lightning import _compat, _graph, _hparams, _layout, _ranks, _trainer
from tblog.integrations.lightning._compat import (
    PACKAGE,
    rank_zero_experiment,
    rank_zero_only,
    rank_zero_warn,
)
from tblog.integrations.lightning._ranks import rank_zero_or_per_rank
from tblog.system import run_info
from tblog.writer import distributed
from tblog.writer.summary_writer import SummaryWriter

_WRITER_KWARGS = frozenset(inspect.signature(SummaryWriter).parameters) - {"log_dir"}


class TBLogger(_compat.loggers.Logger):  # type: ignore[misc, name-defined]
    """Log to ``<save_dir>/<name>/version_<N>[/<sub_dir>]`` in TensorBoard format; a drop-in
    for Lightning's ``TensorBoardLogger`` (same arguments, layout and files).

    ``save_dir``: local path or fsspec URL. ``name``: experiment sub-directory (``""`` or
    ``None``: none). ``version``: ``None`` claims the next free ``version_<N>`` atomically
    (or, when the Trainer resumes from a checkpoint under ``<save_dir>/<name>/<version>/``,
    that version); an int selects ``version_<int>``; a string is the directory name.
    ``log_graph``: trace ``model.example_input_array`` into the Graphs dashboard.
    ``default_hp_metric``: log ``hp_metric = -1`` with hyperparameters logged without
    metrics (once per run directory). ``prefix``: put before every metric key, joined with
    ``-``. ``**writer_kwargs``: passed to :class:`tblog.SummaryWriter` (``max_queue``,
    ``flush_secs``, ``filename_suffix``, ...). Raises ``TypeError`` for unknown keywords or
    wrongly typed arguments.

    Resuming with ``trainer.fit(..., ckpt_path=...)`` continues the same run directory from
    the restored step: TensorBoard drops what the earlier process logged from that step on
    (how the logger learns of the restore: :mod:`tblog.integrations.lightning._trainer`).
    Only global rank 0 writes; with ``per_rank=True`` (a writer keyword) every rank also
    writes its ``log_metrics`` into its own run ``<log_dir>/rank_<r>`` (rank 0 into the main
    run too). Without ``version`` the ranks take rank 0's version from the process group's
    store when they first need it, waiting up to 5 minutes for rank 0 to choose it
    (:mod:`tblog.integrations.lightning._ranks`).
    """

    NAME_HPARAMS_FILE = "hparams.yaml"
    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        save_dir: str | os.PathLike[str],
        name: str | None = "lightning_logs",
        version: int | str | None = None,
        log_graph: bool = False,
        default_hp_metric: bool = True,
        prefix: str = "",
        sub_dir: str | os.PathLike[str] | None = None,
        **writer_kwargs: Any,
    ) -> None:
        super().__init__()
        if not isinstance(save_dir, (str, os.PathLike)):
            raise TypeError(f"save_dir must be a path or URL string, got {type(save_dir).__name__}")
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, (int, str))
        ):
            raise TypeError(f"version must be an int, a str or None, got {type(version).__name__}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {type(name).__name__}")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        unknown = sorted(set(writer_kwargs) - _WRITER_KWARGS)
        if unknown:
            raise TypeError(
                f"unexpected writer keyword(s) {unknown}; SummaryWriter takes {sorted(_WRITER_KWARGS)}"
            )
        self._root_dir = os.fspath(save_dir)  # TensorBoardLogger's attribute name
        self._name = name or ""
        self._version = version
        self._sub_dir = None if sub_dir is None else os.fspath(sub_dir)
        self._log_graph = bool(log_graph)
        self._default_hp_metric = default_hp_metric
        self._prefix = prefix
        self._writer_kwargs = writer_kwargs
        self._per_rank = bool(writer_kwargs.get("per_rank", False))
        # per_rank: the store key of rank 0's version, and whether rank 0 published it
        self._version_key = _ranks.version_key() if self._per_rank else ""
        self._version_published = version is not None
        self._kwargs = writer_kwargs  # TensorBoardLogger's name for them
        self._experiment: SummaryWriter | None = None
        self._continuing = False  # the run directory held event files when opened
        self._hparams_saved = False
        self._session: dict[str, Any] | None = None
        # log_hyperparams calls not written yet: (flat params, metrics, step); written at
        # the writer's next use, once the run's version is settled (see log_hyperparams)
        self._pending_hparams: list[tuple[dict[str, Any], Any, int | None]] = []
        self._version_given = version is not None
        self._last_step = -1  # the highest step logged: saved in checkpoints (_trainer)
        self.hparams: dict[str, Any] | Namespace = {}

    # ------------------------------------------------------------------ layout
    # Every path is built from the properties, never from the attributes behind them, so a
    # subclass overriding ``name``, ``version``, ``save_dir``, ``root_dir``, ``sub_dir`` or
    # ``log_dir`` moves the run as it moves ``TensorBoardLogger``'s.
    @property
    def name(self) -> str:
        """The experiment name (sub-directory of ``save_dir``)."""
        return self._name

    @property
    def version(self) -> int | str:
        """The run's version; claimed on first access (see the class docstring)."""
        if self._version is None:
            if self._per_rank and _compat.rank() != 0:
                agreed = _ranks.rank_zero_version(self._version_key, self._get_next_version)
                if agreed is None:  # no process group yet: a guess, kept only by _open
                    return self._get_next_version()
                self._version = agreed
            else:
                self._version = self._get_next_version()
        if not self._version_published and _compat.rank() == 0:
            self._version_published = not self._per_rank or _ranks.publish_version(
                self._version_key, self._version
            )
        return self._version

    def _get_next_version(self) -> int | str:
        """The version a logger made with ``version=None`` takes (``TensorBoardLogger``'s
        hook of the same name, which subclasses override to choose their own)."""
        return self._resolve_version()

    @property
    def save_dir(self) -> str:
        """The ``save_dir`` given to the constructor."""
        return self._root_dir

    @property
    def _save_dir(self) -> str:
        return self._root_dir

    @property
    def root_dir(self) -> str:
        """``<save_dir>/<name>``: the parent of every version directory (the constructor's
        ``save_dir``: a subclass overriding the ``save_dir`` property moves checkpoints, not
        logs, as with ``TensorBoardLogger``)."""
        return os.path.join(self._root_dir, self.name)

    @property
    def sub_dir(self) -> str | None:
        return self._sub_dir

    @property
    def log_dir(self) -> str:
        """``<save_dir>/<name>/version_<N>[/<sub_dir>]`` (a string version is used as is)."""
        version = self.version if isinstance(self.version, str) else f"version_{self.version}"
        log_dir = os.path.join(self.root_dir, version)
        if isinstance(self.sub_dir, str):
            log_dir = os.path.join(log_dir, self.sub_dir)
        return os.path.expanduser(os.path.expandvars(log_dir))

    def _resolve_version(self) -> int | str:
        if _compat.rank() != 0:
            return _layout.next_version(self.root_dir)  # rank 0's choice is broadcast
        return _layout.claim_version(self.root_dir)

    @property
    def _fs(self) -> Any:
        """TensorBoardLogger's fsspec filesystem of ``root_dir`` (its attribute, kept for code
        that reaches for it; TBLogger itself reads and writes through ``tblog.core.storage``).
        Made on first use."""
        return _compat.cloud_io.get_filesystem(self._root_dir)

    # ------------------------------------------------------------------ experiment
    @property
    def experiment(self) -> SummaryWriter:
        """The run's :class:`tblog.SummaryWriter` (a dummy on ranks other than 0, unless
        ``per_rank``: there the writer of the rank's run)."""
        if self._per_rank and _compat.rank() != 0:
            if self._experiment is None:
                self._experiment = self._open()
            return self._experiment
        exp = self._rank_zero_experiment
        if self._pending_hparams and exp is self._experiment:  # not Lightning's dummy
            _hparams.write_pending(self, exp)
        return exp

    @property
    @rank_zero_experiment
    def _rank_zero_experiment(self) -> SummaryWriter:
        if self._experiment is None:
            self._experiment = self._open()
        return self._experiment

    def _open(self) -> SummaryWriter:
        if self._per_rank and self._version is None and _compat.rank() != 0:
            self._version = self.version  # a guess (no group yet), moved by log_graph
        log_dir = self.log_dir
        if self.root_dir:  # made even when a subclass puts log_dir elsewhere, as Lightning does
            _layout.make_dirs(self.root_dir)
        self._continuing = _layout.has_event_files(log_dir)
        # per_rank: rank 0 writes the main run and rank_0, the others their rank run
        return SummaryWriter(log_dir=log_dir, rank_zero_only=self._per_rank, **self._writer_kwargs)

    # ------------------------------------------------------------------ logging
    @rank_zero_or_per_rank
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log each value of ``metrics`` (numbers, one-element tensors, or dicts of them for
        ``add_scalars``) at ``step``. Tensors are handed to the writer unconverted: they are
        read on the writer thread, not here. Raises ``ValueError`` for other values."""
        if self._prefix:
            metrics = self._fabric_add_prefix(metrics)
        exp = self._experiment
        if exp is None or self._pending_hparams:
            exp = self.experiment
        exp.log_metrics(metrics, step)
        if type(step) is int and step > self._last_step:
            self._last_step = step

    def _fabric_add_prefix(self, metrics: Mapping[str, Any]) -> Mapping[str, Any]:
        return _compat.fabric_utils._add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR)  # type: ignore[no-any-return]

    @rank_zero_only
    def log_hyperparams(
        self,
        params: Mapping[str, Any] | Namespace | Any,
        metrics: dict[str, Any] | float | None = None,
        step: int | None = None,
    ) -> None:
        """Record hyperparameters: a mapping (``dict``, OmegaConf ``DictConfig``), a
        ``Namespace`` or a dataclass; nested keys are flattened with ``/`` as Lightning does
        (:mod:`tblog.integrations.lightning._hparams`). Raises ``TypeError`` for other types.

        They go into the run directory as the hparams plugin's session, so the HPARAMS tab
        lists the run with every scalar it logs as a metric, and into ``hparams.yaml``.
        ``metrics`` (a dict, or one number for ``hp_metric``) are logged as scalars at ``step``.
        They are written at the logger's next use (its ``experiment``, ``log_metrics``,
        ``log_graph``, ``save``, ``finalize``) or at exit, into the version the run settles
        in: a resumed fit moves to its checkpoint's version after this call.
        """
        params = _hparams.as_mapping(params)
        flat = _hparams.session_values(params, self._sanitize_params)
        self.hparams = _hparams.merged(self.hparams, params)
        if metrics is not None and not isinstance(metrics, dict):
            metrics = {"hp_metric": metrics}
        # Written at the writer's next use, not here: the Trainer calls this before
        # log_graph, where a resumed fit moves to its checkpoint's version, which already
        # holds its session (and hp_metric) from the first fit.
        if not self._pending_hparams:
            _hparams.write_at_exit(self)  # if nothing uses the writer again
        self._pending_hparams.append((flat, metrics, step))

    def _write_hparams(self) -> None:
        """Write the pending ``log_hyperparams`` calls (only rank 0 has any): the
        ``experiment`` property writes them, opening the run if needed."""
        if self._pending_hparams:
            _ = self.experiment

    @staticmethod
    def _sanitize_params(params: dict[str, Any]) -> dict[str, Any]:
        """Flattened hyperparameters -> the values recorded (numbers and strings); as
        ``TensorBoardLogger._sanitize_params``, a hook subclasses may override."""
        return {key: _hparams.session_value(value) for key, value in params.items()}

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Trace ``model`` with ``input_array`` (default ``model.example_input_array``) into
        the Graphs dashboard when the logger was made with ``log_graph=True``. (Called by
        the Trainer on every rank, after any restore: a ``per_rank`` logger's other ranks
        follow rank 0 into its version here.)"""
        if _compat.rank() == 0:
            self._trace_graph(model, input_array)
            self._write_hparams()  # into the version the run continues in
        elif self._per_rank:
            _ranks.follow_rank_zero(self, model)

    def _trace_graph(self, model: Any, input_array: Any) -> None:
        self._on_fit_model(model)
        if not self._log_graph or self._continuing:
            return  # a continued run already holds the graph
        input_array = (
            getattr(model, "example_input_array", None) if input_array is None else input_array
        )
        problem = _graph.untraceable(input_array)
        if problem is not None:
            rank_zero_warn(problem)
            return
        before = getattr(model, "_on_before_batch_transfer", None)
        transfer = getattr(model, "_apply_batch_transfer_handler", None)
        if callable(before) and callable(transfer):
            input_array = transfer(before(input_array))
        with _compat.jit_is_scripting(model):
            self.experiment.add_graph(model, input_array)

    # ------------------------------------------------------------------ checkpoints
    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Record the checkpoint just saved (path, step, monitored score) and flush, so the
        log on disk is at least as recent as the checkpoint."""
        cb = checkpoint_callback
        path = getattr(cb, "_last_checkpoint_saved", None) or getattr(cb, "last_model_path", None)
        path = path or getattr(cb, "best_model_path", None)
        if not path:
            return
        step = int(getattr(cb, "_last_global_step_saved", None) or 0)
        # ``cb`` is a new weakref proxy at each call: the callback is known by its
        # state_key (unique among a Trainer's callbacks, Lightning checks)
        key = (step, getattr(cb, "state_key", None) or str(path))
        if key == getattr(self, "_recorded_save", None):
            # the same checkpoint again at the same step (ModelCheckpoint's save_last copy,
            # last.ckpt, right after the epoch file): one record, one point per step
            return
        self._recorded_save = key
        CheckpointRecorder(self.experiment).saved(
            step, str(path), _trainer.checkpoint_metrics(cb, str(path))
        )

    def _on_fit_model(self, model: Any) -> None:
        """At ``log_graph`` (called by the Trainer before training, after a restore): carry
        the logger's identity in the Trainer's checkpoints, and continue the run of the
        checkpoint being resumed from (:mod:`tblog.integrations.lightning._trainer`)."""
        trainer = _trainer.trainer_of(model)
        package = None if trainer is None else _trainer.trainer_package(trainer)
        if package is None:
            return
        _compat.register_as_tensorboard_logger(TBLogger, package)
        _trainer.attach_state_callback(trainer, self)
        ckpt_path = getattr(trainer, "ckpt_path", None)
        if not ckpt_path or not _trainer.fitting(trainer):
            return
        identity, global_step = _trainer.read_identity(str(ckpt_path), self)
        if identity is not None:
            version: int | str | None = identity.version
            step = max(identity.step, 0)
        else:  # saved without tblog's callback: the version folder it lies in
            version = _layout.version_of_checkpoint(self.root_dir, ckpt_path)
            step = global_step or 0
        if version is not None and version != self.version and not self._version_given:
            self._move_to(trainer, version)
        self._last_step = max(self._last_step, step)
        CheckpointRecorder(self.experiment).restored(step, str(ckpt_path))

    def _move_to(self, trainer: Any, version: int | str) -> None:
        """Continue in ``version`` instead of the version claimed for this fit: what this
        fit logged there (before a restore, or under a rank's guess) moves with it, and the
        claimed directory goes."""
        old_dir, old_version_dir = self.log_dir, self._version_dir()
        if self._experiment is not None:
            self._experiment.close()
            self._experiment = None
        self._version = version
        if not _layout.is_remote(old_dir):
            rank = _compat.rank()
            rank_run = distributed.rank_run(rank, distributed.world_size()) if rank else None
            _trainer.move_run(old_dir, old_version_dir, self.log_dir, rank_run)
            # the moved files hold this process's run info: the next writer adds none
            run_info.written_to(os.path.join(self.log_dir, rank_run) if rank_run else self.log_dir)
        _trainer.move_checkpoint_dirs(trainer, old_version_dir, self._version_dir())
        self._hparams_saved = False

    def _version_dir(self) -> str:
        version = self.version if isinstance(self.version, str) else f"version_{self.version}"
        return os.path.join(self.root_dir, version)

    # ------------------------------------------------------------------ lifecycle
    @rank_zero_only
    def save(self) -> None:
        """Write ``hparams.yaml`` once the run directory exists, as ``TensorBoardLogger``
        does. The Trainer calls this after every ``log_metrics``; unlike
        ``TensorBoardLogger`` it does not wait for a flush: the writer thread appends local
        event files at least every 0.5 s, and ``after_save_checkpoint`` and ``finalize``
        flush, so the log on disk is always at least as recent as the last checkpoint."""
        self._write_hparams()
        if self._hparams_saved:
            return
        dir_path = self.log_dir
        storage = open_storage(dir_path)  # local or fsspec, one code path
        if not storage.isdir(dir_path):
            return
        if self.NAME_HPARAMS_FILE not in storage.listdir(dir_path):
            hparams_file = storage.join(dir_path, self.NAME_HPARAMS_FILE)
            _compat.saving.save_hparams_to_yaml(hparams_file, self.hparams)
        self._hparams_saved = True

    @rank_zero_or_per_rank
    def finalize(self, status: str) -> None:
        """Flush and close the run's event file; on ``"success"`` also mark the hparams
        session as ended and write ``hparams.yaml``. Logging afterwards opens a new file."""
        self._write_hparams()
        exp = self._experiment
        if exp is not None:
            session = self._session
            if status == "success" and session and not session["ended"] and exp.writer is not None:
                from tblog.core.summaries import hparams

                metrics = dict.fromkeys(session["metrics"], 0.0)
                end = hparams.hparams_pb(session["hparams"], metrics)[2]
                experiment = _hparams.session_experiment(exp, self.log_dir, session["hparams"])
                if experiment is not None:
                    exp.writer.summary("", experiment, 0, time.time())
                exp.writer.summary("", end, 0, time.time())
                session["ended"] = True
            self._experiment = None
            exp.close()
        if status == "success":
            self.save()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_experiment"] = None
        return state


_compat.register_as_tensorboard_logger(TBLogger, PACKAGE)
