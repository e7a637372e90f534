"""``tblog.CheckpointManager``: crash-safe checkpoints for plain training loops.

Checkpoints are files ``<directory>/<prefix>-<step><suffix>``; the directory listing is
the only state (no index file to get out of step with the files). A save writes a hidden
temporary file in the same directory, syncs it and renames it into place, so a crash
never leaves a half-written checkpoint under a checkpoint name. Saves and restores are
recorded in the run of ``writer`` by :class:`tblog.checkpoint.recorder.CheckpointRecorder`; after a
restore of step N, TensorBoard shows one point per step whether the loop resumes at N + 1 or
runs N again.

State is saved in the format of the framework adapter that saves checkpoints (torch's
``torch.save``/``torch.load`` when torch is installed; :func:`tblog.core.registry.checkpoint_adapter`);
``save_fn(state, path)`` and ``load_fn(path) -> state`` plug in anything else.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Callable
from typing import Any

from tblog.checkpoint.recorder import CheckpointRecorder
from tblog.core import registry
from tblog.core.convert import to_step

SaveFn = Callable[[Any, str], None]
LoadFn = Callable[[str], Any]


class DamagedCheckpointError(RuntimeError):
    """A checkpoint file that cannot be loaded (empty, truncated, corrupt); ``path`` names
    it (the newest one when several were tried); the loader's error is its ``__cause__``."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class CheckpointManager:
    """Keeps the checkpoints of one training run in ``directory`` (a local path).

    ``max_to_keep``: newest checkpoints kept (``None`` keeps all); older ones are deleted
    unless ``keep_every_n_steps`` preserves them (the first checkpoint, then the first one
    at least that many steps after the last preserved one). ``save_interval_steps``:
    :meth:`save` only writes at steps that are multiples of it (``force=True`` overrides).
    ``writer``: a ``tblog.SummaryWriter``, or a sequence of them (saves are recorded in the
    first; a restore marks them all, e.g. train and validation writers), or ``None``.
    ``save_fn``/``load_fn``: how state is written/read (default: torch). ``prefix`` and
    ``suffix`` name the files (``suffix`` defaults to ``.pt`` with torch, else ``.ckpt``).
    Raises ``ValueError``/``TypeError`` for bad arguments.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_to_keep: int | None = 5,
        keep_every_n_steps: int | None = None,
        save_interval_steps: int | None = None,
        writer: Any = None,
        save_fn: SaveFn | None = None,
        load_fn: LoadFn | None = None,
        prefix: str = "ckpt",
        suffix: str | None = None,
    ) -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a path, got {type(directory).__name__}")
        if "://" in os.fspath(directory):
            raise ValueError(f"directory must be a local path, got the URL {directory!r}")
        _check_positive("max_to_keep", max_to_keep)
        _check_positive("keep_every_n_steps", keep_every_n_steps)
        _check_positive("save_interval_steps", save_interval_steps)
        if (save_fn is None) != (load_fn is None):
            raise ValueError("save_fn and load_fn must be given together")
        if not isinstance(prefix, str) or not prefix or os.sep in prefix or "/" in prefix:
            raise ValueError(f"prefix must be a non-empty file name part, got {prefix!r}")
        self.directory = os.path.abspath(os.fspath(directory))
        self.max_to_keep = max_to_keep
        self.keep_every_n_steps = keep_every_n_steps
        self.save_interval_steps = save_interval_steps
        self.recorder = CheckpointRecorder(writer)
        self.writers = self.recorder.writers
        self._save_fn = save_fn
        self._load_fn = load_fn
        self.prefix = prefix
        self._adapter = None if save_fn is not None else registry.checkpoint_adapter()
        if suffix is None:
            suffix = ".ckpt" if self._adapter is None else self._adapter.checkpoint_suffix
        self.suffix = suffix
        self._pattern = re.compile(re.escape(prefix) + r"-(\d+)" + re.escape(self.suffix) + r"\Z")
        self._restored_step: int | None = None
        os.makedirs(self.directory, exist_ok=True)
        self._remove_stale_temporaries()

    # ------------------------------------------------------------------ listing
    def _listing(self) -> list[tuple[int, str]]:
        found = []
        for name in os.listdir(self.directory):
            m = self._pattern.match(name)
            if m:
                found.append((int(m.group(1)), os.path.join(self.directory, name)))
        return sorted(found)

    @property
    def checkpoints(self) -> list[str]:
        """Paths of the checkpoints on disk, oldest step first."""
        return [path for _, path in self._listing()]

    @property
    def steps(self) -> list[int]:
        """Steps of the checkpoints on disk, ascending."""
        return [step for step, _ in self._listing()]

    @property
    def latest_checkpoint(self) -> str | None:
        """Path of the checkpoint with the highest step, or ``None``."""
        listing = self._listing()
        return listing[-1][1] if listing else None

    def path_for(self, step: int) -> str:
        """The file name a checkpoint of ``step`` has."""
        step = to_step(step, "step", non_negative=True)
        return os.path.join(self.directory, f"{self.prefix}-{step}{self.suffix}")

    def step_of(self, path: str | os.PathLike[str]) -> int:
        """The step in a checkpoint file name; raises ``ValueError`` for other names."""
        m = self._pattern.match(os.path.basename(os.fspath(path)))
        if m is None:
            raise ValueError(
                f"path must name a checkpoint like {self.prefix}-<step>{self.suffix}, got {path!r}"
            )
        return int(m.group(1))

    # ------------------------------------------------------------------ save
    def should_save(self, step: int) -> bool:
        """Whether :meth:`save` at ``step`` writes: ``step`` is a multiple of
        ``save_interval_steps`` (if set) and not the step just restored."""
        step = to_step(step, "step", non_negative=True)
        if step == self._restored_step:
            return False
        return self.save_interval_steps is None or step % self.save_interval_steps == 0

    def save(
        self,
        step: int,
        state: Any,
        *,
        metrics: dict[str, Any] | None = None,
        force: bool = False,
    ) -> str | None:
        """Save ``state`` (e.g. a dict of state dicts) as the checkpoint of ``step``.

        Returns the checkpoint's path, or ``None`` when :meth:`should_save` says no (and
        ``force`` is false). Atomic: written to a temporary file, synced, renamed. The save
        is recorded in the writer's run (``metrics`` included). Every writer of the process
        is flushed before the save, so all that was logged before a checkpoint is on disk with it.
        Raises ``ValueError``/``TypeError`` for a bad ``step``; errors of ``save_fn``.
        """
        step = to_step(step, "step", non_negative=True)
        if not force and not self.should_save(step):
            return None
        path = self.path_for(step)
        self.recorder.before_save()
        # hidden, and ending like the checkpoint (Keras insists on ``.weights.h5``)
        tmp = os.path.join(self.directory, f".tmp-{os.getpid()}-{os.path.basename(path)}")
        try:
            self._save(state, tmp)
            _fsync_path(tmp)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        _fsync_path(self.directory)
        self._restored_step = None
        self._prune()
        self.recorder.saved(step, path, metrics)
        return path

    def _save(self, state: Any, path: str) -> None:
        if self._save_fn is not None:
            self._save_fn(state, path)
            return
        self._format().save_checkpoint(state, path)  # type: ignore[misc]

    def _prune(self) -> None:
        if self.max_to_keep is None:
            return
        listing = self._listing()
        if len(listing) <= self.max_to_keep:
            return
        preserved = self._preserved([step for step, _ in listing])
        for step, path in listing[: -self.max_to_keep]:
            if step not in preserved:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)

    def _preserved(self, steps: list[int]) -> set[int]:
        n = self.keep_every_n_steps
        if n is None:
            return set()
        kept: set[int] = set()
        last: int | None = None
        for step in steps:
            if last is None or step >= last + n:
                kept.add(step)
                last = step
        return kept

    # ------------------------------------------------------------------ restore
    def restore(
        self, path: str | os.PathLike[str] | None = None, *, fallback: bool = False
    ) -> tuple[int, Any] | None:
        """Load the latest checkpoint (or ``path``) and return ``(step, state)``.

        Returns ``None`` when the directory holds no checkpoint (and no ``path`` given).
        Every writer's runs are marked at the first step logged from ``step`` on (TensorBoard
        drops what the crashed process logged from there); a following ``save(step, ...)`` is skipped,
        the checkpoint being on disk already. Raises ``ValueError`` for a ``path`` that does
        not name a checkpoint, ``FileNotFoundError`` when it does not exist, and
        :class:`DamagedCheckpointError` (naming the file, the loader's error chained) when
        it cannot be loaded (an empty or truncated file). With ``fallback``, a checkpoint
        that cannot be loaded is skipped with a warning naming it and the next older one is
        tried; the restore record names the skipped files; :class:`DamagedCheckpointError`
        when none can be loaded.
        """
        listing = self._listing()
        if path is None:
            if not listing:
                return None
            step, first = listing[-1]
        else:
            first = os.fspath(path)
            step = self.step_of(first)
            if not os.path.exists(first):
                raise FileNotFoundError(f"no checkpoint at {first!r}")
        candidates = [(step, first)]
        if fallback:
            candidates += [(s, p) for s, p in reversed(listing) if s < step]
        failed: list[tuple[str, Exception]] = []
        for step, path in candidates:
            try:
                state = self._load(path)
            except Exception as exc:  # noqa: BLE001 - named, chained, raised below
                failed.append((path, exc))
                continue
            if failed:
                skipped = ", ".join(f"{p!r} ({_describe(e)})" for p, e in failed)
                warnings.warn(
                    f"tblog: skipped checkpoint(s) that could not be loaded: {skipped}; "
                    f"restored {path!r}",
                    RuntimeWarning,
                    stacklevel=2,
                )
            self._restored_step = step
            damaged = {p for p, _ in failed}
            on_disk = [s for s, p in self._listing() if p not in damaged]
            self.recorder.restored(step, path, on_disk=on_disk, skipped=[p for p, _ in failed])
            return step, state
        if len(failed) == 1:
            bad, error = failed[0]
            raise DamagedCheckpointError(
                f"cannot load checkpoint {bad!r}: {_describe(error)}", bad
            ) from error
        tried = "; ".join(f"{p!r} ({_describe(e)})" for p, e in failed)
        raise DamagedCheckpointError(
            f"no checkpoint in {self.directory!r} could be loaded: {tried}", failed[0][0]
        ) from failed[0][1]

    def _format(self) -> registry.Adapter:
        if self._adapter is None:
            raise RuntimeError(
                "no installed framework saves checkpoints (torch does): pass save_fn and load_fn"
            )
        return self._adapter

    def _load(self, path: str) -> Any:
        if self._load_fn is not None:
            return self._load_fn(path)
        return self._format().load_checkpoint(path)  # type: ignore[misc]

    def _remove_stale_temporaries(self) -> None:
        """Delete temporaries left by crashed processes (never a live process's)."""
        tmp = re.compile(r"\.tmp-(\d+)-" + self._pattern.pattern)
        for name in os.listdir(self.directory):
            m = tmp.match(name)
            if m and not _pid_alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.directory, name))

    def __repr__(self) -> str:
        return f"CheckpointManager({self.directory!r}, steps={self.steps})"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _check_positive(name: str, value: int | None) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int or None, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def _fsync_path(path: str) -> None:
    """fsync a file or directory (durability across power loss; best effort for dirs)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if os.path.isdir(path) else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
