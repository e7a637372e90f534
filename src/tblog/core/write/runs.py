"""Run files: one event file per run directory, its name, its first records, restarts.

A run's file is opened when its first bytes are written (never by the encoder), so every
storage error happens in :meth:`RunFiles.write`, where the bytes stay pending for a retry.
A run's first records are ``file_version``, then a ``SessionLog START`` (at
``events.NO_PURGE_STEP``, where it purges nothing) when the
directory held no event file (so that later restarts purge under TensorBoard's Python
loader, which ignores a run's first START), or at the purge step of a resume otherwise.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

from tblog.core.format import events, records
from tblog.core.storage import EventFile, Storage

_counter = itertools.count()
_counter_lock = threading.Lock()
_HOST = socket.gethostname().replace("/", "_") or "localhost"


def event_file_name(suffix: str = "", now: float | None = None) -> str:
    """A unique event file name: ``events.out.tfevents.<secs>.<host>.<pid>.<n><suffix>``."""
    with _counter_lock:
        n = next(_counter)
    secs = int(time.time() if now is None else now)
    return f"events.out.tfevents.{secs:010d}.{_HOST}.{os.getpid()}.{n}{suffix}"


def _name_secs(name: str) -> int:
    """The seconds field of ``events.out.tfevents.<secs>...`` (-1 when absent)."""
    rest = name.partition("tfevents.")[2]
    digits = rest.split(".", 1)[0]
    return int(digits) if digits.isdigit() else -1


class _Run:
    """One run directory's event file and the framed records not yet written to it."""

    __slots__ = ("_encoders", "_metadata_every", "file", "path", "pending")

    def __init__(self, path: str, metadata_every: bool) -> None:
        self.path = path
        self.file: EventFile | None = None
        self.pending: list[Any] = []
        self._metadata_every = metadata_every
        self._encoders: dict[int, events.ScalarEncoder] = {}

    def encoder(self, encoding: int) -> events.ScalarEncoder:
        enc = self._encoders.get(encoding)
        if enc is None:
            enc = events.ScalarEncoder(encoding, metadata_every=self._metadata_every)
            self._encoders[encoding] = enc
        return enc


class RunFiles:
    """The runs of one log dir (writer thread only, except :meth:`open_main` in ``__init__``).

    ``purge_step``: the step of a resume; a run whose directory already holds event files
    starts its file with a START at that step (set again by :meth:`restart`).
    """

    def __init__(
        self,
        storage: Storage,
        logdir: str,
        suffix: str = "",
        purge_step: int | None = None,
        metadata_every: bool = False,
    ) -> None:
        self.storage = storage
        self.logdir = logdir
        self._suffix = suffix
        self._purge_step = purge_step
        self._metadata_every = metadata_every
        self._runs: dict[str, _Run] = {}
        self._reopened: set[str] = set()  # run dirs this writer wrote before a reopen

    def run_dir(self, run: str) -> str:
        return self.storage.join(self.logdir, run) if run else self.logdir

    def names(self) -> list[str]:
        """The runs written so far, the main run (``""``) first."""
        return list(self._runs)

    def get(self, run: str) -> _Run:
        """The run (created, without touching the storage, on first use)."""
        r = self._runs.get(run)
        if r is None:
            r = self._runs[run] = _Run(self.run_dir(run), self._metadata_every)
        return r

    def open(self, run: str) -> None:
        """Open ``run``'s file now and write its first records (raises storage errors)."""
        r = self.get(run)
        if r.file is None:
            self._open(r)
        self.write([run])

    def restart(self, step: int, wall_time: float) -> None:
        """A START at ``step`` into every run (the main run included), and into the files
        of runs first used later whose directories already hold event files."""
        self._purge_step = step
        self._reopened.clear()  # a new resume applies to every run
        self.get("")
        frame = records.frame(events.session_start_event(step, wall_time))
        for r in self._runs.values():
            r.pending.append(frame)

    def pending(self) -> bool:
        """True when some run holds bytes not yet written."""
        return any(r.pending for r in self._runs.values())

    def write(self, runs: Iterable[str] | None = None) -> None:
        """Write the pending bytes of ``runs`` (default: all), opening files as needed. On an
        error the bytes stay pending (tried again next time) and the error propagates."""
        chosen = self._runs.values() if runs is None else [self._runs[r] for r in runs]
        for r in chosen:
            if not r.pending:
                continue
            if r.file is None:
                self._open(r)
            data = b"".join(r.pending)
            assert r.file is not None
            r.file.write(data)  # raises: the bytes stay pending
            r.pending.clear()

    def _open(self, r: _Run) -> None:
        storage = self.storage
        storage.makedirs(r.path)
        existing = storage.event_files(r.path)
        # TensorBoard reads a run's files in name order. A file opened in the same second
        # as an existing one (a resume right after a crash, a second writer) takes the
        # next second in its name so it sorts after them whatever its pid and counter.
        now = time.time()
        secs = max([int(now), *(s + 1 for s in map(_name_secs, existing) if s >= int(now))])
        file = storage.open_append(storage.join(r.path, event_file_name(self._suffix, secs)))
        first = [records.frame(events.file_version_event(now))]
        if not existing:
            first.append(records.frame(events.session_start_event(events.NO_PURGE_STEP, now)))
        elif self._purge_step is not None and r.path not in self._reopened:
            first.append(records.frame(events.session_start_event(self._purge_step, now)))
        r.pending[:0] = first
        r.file = file

    def flush(self) -> None:
        """Write everything pending and flush every open file."""
        self.write()
        for r in self._runs.values():
            if r.file is not None:
                r.file.flush()

    def close(self) -> list[BaseException]:
        """Write, flush and close every file; return the errors (each file is tried)."""
        errors: list[BaseException] = []
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - reported by the queue
            errors.append(exc)
        for r in self._runs.values():
            if r.file is not None:
                try:
                    r.file.close()
                except Exception as exc:  # noqa: BLE001
                    errors.append(exc)
                r.file = None
        return errors

    def reopen(self) -> None:
        """Forget every run (closed files): the next bytes of each run go to a new file.
        A resume's purge step is not applied again to the runs this writer already wrote
        (their points since the resume are its own); runs it first writes after the reopen
        still start at it."""
        self._reopened.update(r.path for r in self._runs.values())
        self._runs.clear()

    def forget_after_fork(self) -> list[EventFile]:
        """In a forked child: drop the parent's runs and pending bytes (the parent writes
        them); return its open files, which the child must neither flush nor close."""
        files = [r.file for r in self._runs.values() if r.file is not None]
        self._runs.clear()
        self._purge_step = None
        return files
