"""A real ``tensorboard --logdir`` server for tests, on a free loopback port.

    with TensorBoardServer(logdir, load_fast=True) as tb:
        tb.wait_for(lambda: tb.scalars("run", "loss"))
        tb.get_json("/data/plugin/scalars/tags")

The server is started with ``tblog.cli.board.start_tensorboard`` (the code ``tblog board``
runs) and is always stopped on exit, its data server included.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

from tblog.cli.board import free_port, start_tensorboard, stop_tensorboard, url_for, wait_ready

T = TypeVar("T")


class TensorBoardServer:
    """``tensorboard --logdir D --host 127.0.0.1 --port <free> --reload_interval 1
    --load_fast=<load_fast> --samples_per_plugin scalars=100000,images=1000,histograms=10000``.
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        load_fast: bool = False,
        start_timeout: float = 90,
        host: str = "127.0.0.1",
    ) -> None:
        self.logdir = os.fspath(logdir)
        self.load_fast = load_fast
        self.start_timeout = start_timeout
        self.host = host
        self.port = 0
        self.url = ""
        self.proc: Any = None
        self._log: Any = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> TensorBoardServer:
        last: Exception | None = None
        for _ in range(3):  # a free port can be taken between picking and binding it
            self.port = free_port(self.host)
            self.url = url_for(self.host, self.port)
            self._log = _tmpfile()
            self.proc = start_tensorboard(
                self.logdir, self.port, self.host, self.load_fast, log=self._log
            )
            try:
                wait_ready(self.proc, self.url, timeout=self.start_timeout)
                return self
            except RuntimeError as exc:  # exited early: maybe the port; try another
                last = RuntimeError(f"{exc}\n--- TensorBoard output ---\n{self.output()}")
                self.stop()
            except BaseException:
                self.stop()
                raise
        assert last is not None
        raise last

    def stop(self) -> None:
        if self.proc is not None:
            stop_tensorboard(self.proc)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        """What the server printed so far (for failure messages)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        self._log.seek(0, os.SEEK_END)
        return text[-20000:]

    def __enter__(self) -> TensorBoardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP ------------------------------------------------------------------------
    def _full(self, path: str, params: dict[str, Any]) -> str:
        url = self.url + (path if path.startswith("/") else "/" + path)
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        return url

    def get(self, path: str, **params: Any) -> bytes:
        """Raw body of ``GET path?params``; raises ``urllib.error.HTTPError`` on 4xx/5xx."""
        return self._open(self._full(path, params))

    def _open(self, req: urllib.request.Request | str) -> bytes:
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 and hasattr(exc, "add_note"):
                exc.add_note(f"--- TensorBoard output ---\n{self.output()[-6000:]}")
            raise

    def get_json(self, path: str, **params: Any) -> Any:
        return json.loads(self.get(path, **params))

    def post_json(self, path: str, body: Any) -> Any:
        """POST ``body`` as JSON (``Content-Type: application/json``, which hparams needs)."""
        req = urllib.request.Request(
            self._full(path, {}),
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        return json.loads(self._open(req))

    def post_form(self, path: str, fields: list[tuple[str, str]]) -> Any:
        """POST form fields (``scalars_multirun``, ``timeseries/timeSeries``)."""
        req = urllib.request.Request(
            self._full(path, {}),
            data=urllib.parse.urlencode(fields).encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return json.loads(self._open(req))

    def runs(self) -> list[str]:
        return list(self.get_json("/data/runs"))

    def scalars(self, run: str, tag: str) -> list[tuple[int, float]]:
        """``[(step, value)]`` of one scalar series; ``[]`` while not loaded (or absent)."""
        try:
            rows = self.get_json("/data/plugin/scalars/scalars", run=run, tag=tag)
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 404, 500):
                return []
            raise
        return [(int(step), float(value)) for _, step, value in rows]

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 60, interval: float = 0.25
    ) -> T:
        """Call ``predicate`` until it returns something truthy (TensorBoard loads
        asynchronously); return that. Raises ``TimeoutError`` with the last value/error."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = predicate()
                if last:
                    return last  # type: ignore[no-any-return]
            except (urllib.error.URLError, ConnectionError, KeyError, IndexError) as exc:
                last = exc
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no data after {timeout:g} s; last: {last!r:.500}\n"
                    f"--- TensorBoard output ---\n{self.output()}"
                )
            time.sleep(interval)


def _tmpfile() -> Any:
    import tempfile

    return tempfile.TemporaryFile(prefix="tensorboard-")
