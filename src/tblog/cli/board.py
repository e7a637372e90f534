"""Starting a real TensorBoard server on a log dir (``tblog board`` and the e2e tests).

One implementation of "run ``tensorboard --logdir``, wait until it answers, stop it".
TensorBoard itself is an optional dependency: it is looked up only when a server starts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import IO

SAMPLES_PER_PLUGIN = "scalars=100000,images=1000,histograms=10000"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tensorboard_command(
    logdir: str,
    port: int,
    host: str = "127.0.0.1",
    load_fast: bool | str = False,
    reload_interval: float = 1,
    samples_per_plugin: str = SAMPLES_PER_PLUGIN,
) -> list[str]:
    """The argv that starts TensorBoard from this Python environment.

    ``load_fast``: TensorBoard's ``--load_fast`` (``True``: the Rust data server, ``False``:
    the Python loader, or ``"auto"``). Raises ``ValueError`` on a bad ``port`` and ``RuntimeError`` when TensorBoard is not
    installed.
    """
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be an int in 1..65535, got {port!r}")
    try:
        import importlib.util

        found = importlib.util.find_spec("tensorboard") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise RuntimeError("TensorBoard is not installed: pip install tensorboard")
    return [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        os.fspath(logdir),
        "--host",
        host,
        "--port",
        str(port),
        "--reload_interval",
        str(reload_interval),
        f"--load_fast={_load_fast_flag(load_fast)}",
        "--samples_per_plugin",
        samples_per_plugin,
    ]


def _load_fast_flag(load_fast: bool | str) -> str:
    if isinstance(load_fast, bool):
        return "true" if load_fast else "false"
    if load_fast in ("true", "false", "auto"):
        return load_fast
    raise ValueError(f"load_fast must be a bool or 'true'/'false'/'auto', got {load_fast!r}")


def start_tensorboard(
    logdir: str,
    port: int,
    host: str = "127.0.0.1",
    load_fast: bool | str = False,
    *,
    log: IO[bytes] | int | None = None,
    reload_interval: float = 1,
    samples_per_plugin: str = SAMPLES_PER_PLUGIN,
) -> subprocess.Popen[bytes]:
    """Start ``tensorboard --logdir logdir`` in its own process group and return it.

    ``log``: where the server's stdout/stderr go (a binary file, ``subprocess.DEVNULL``,
    or ``None`` to inherit ours). It does not wait for the server: see :func:`wait_ready`.
    Raises ``RuntimeError`` when TensorBoard is not installed.
    """
    argv = tensorboard_command(logdir, port, host, load_fast, reload_interval, samples_per_plugin)
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        env=env,
        start_new_session=True,
    )


def url_for(host: str, port: int) -> str:
    """``http://host:port`` (IPv6 hosts bracketed)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float = 60) -> None:
    """Poll ``url + '/data/runs'`` until it answers 200.

    Raises ``RuntimeError`` when the process exits first, ``TimeoutError`` after ``timeout``
    seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            raise RuntimeError(f"TensorBoard exited with status {code} before answering")
        try:
            with urllib.request.urlopen(url + "/data/runs", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"TensorBoard did not answer at {url} within {timeout:g} s")
        time.sleep(0.2)


def stop_tensorboard(proc: subprocess.Popen[bytes], grace: float = 5) -> None:
    """Terminate the server's process group (TensorBoard and its data server), then kill."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(grace)


def ssh_hint(port: int, remote_host: str | None = None) -> str:
    """The ``ssh -L`` line that forwards ``port`` from this machine to a laptop."""
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "user"
    host = remote_host or socket.gethostname()
    return f"ssh -N -L {port}:127.0.0.1:{port} {user}@{host}"
