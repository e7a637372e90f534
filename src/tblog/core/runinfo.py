"""What a run was made by: the command line, working directory, git commit (and whether the
tree was dirty), host, rank and world size, Python and the versions of the frameworks the
process has already imported, as the Markdown table a writer logs once per run under
:data:`TAG` (``tblog ls`` shows it as one line).

Pure: imports no framework (versions are read from ``sys.modules``), and runs ``git`` only
in :func:`git_state` (a subprocess with a short timeout; nothing when git is missing or the
directory is no repository).
"""

from __future__ import annotations

import os
import platform
import shlex
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence

TAG = "run/info"
GIT_TIMEOUT_S = 2.0
# modules whose version is reported when the process has imported them (never imported here)
FRAMEWORKS = (
    "torch",
    "tensorflow",
    "keras",
    "jax",
    "flax",
    "lightning",
    "pytorch_lightning",
    "transformers",
    "accelerate",
    "ignite",
    "stable_baselines3",
    "numpy",
)


def git_state(cwd: str, timeout: float = GIT_TIMEOUT_S) -> tuple[str, bool] | None:
    """``(commit, dirty)`` of the git work tree holding ``cwd``, or ``None`` (no git, no
    repository, or git took longer than ``timeout`` seconds). Untracked files do not make
    the tree dirty; changes to tracked files do."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit.strip(), bool(status and status.strip())


def framework_versions(modules: Mapping[str, object] | None = None) -> dict[str, str]:
    """``{name: version}`` of the :data:`FRAMEWORKS` present in ``modules`` (default
    ``sys.modules``): only frameworks already imported."""
    loaded = sys.modules if modules is None else modules
    out = {}
    for name in FRAMEWORKS:
        module = loaded.get(name)
        if module is not None:
            out[name] = str(getattr(module, "__version__", "?"))
    return out


def world_size_from_env() -> int | None:
    """The world size the launcher put in the environment (torchrun, SLURM, MPI)."""
    for var in ("WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return None


def collect(
    rank: int = 0,
    world_size: int | None = None,
    *,
    argv: Sequence[str] | None = None,
    cwd: str | None = None,
    git: bool = True,
) -> dict[str, str]:
    """The run's facts as ``{field: text}``, in display order."""
    cwd = os.getcwd() if cwd is None else cwd
    info = {
        "command": shlex.join(sys.argv if argv is None else argv),
        "cwd": cwd,
    }
    state = git_state(cwd) if git else None
    if state is not None:
        info["git_commit"] = state[0]
        info["git_dirty"] = "yes" if state[1] else "no"
    info["host"] = socket.gethostname()
    info["pid"] = str(os.getpid())
    info["rank"] = str(rank)
    info["world_size"] = str(world_size if world_size is not None else 1)
    info["python"] = platform.python_version()
    for name, version in framework_versions().items():
        info[name] = version
    return info


def _cell(text: str) -> str:
    """A Markdown table cell: pipes escaped, line breaks as spaces."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def markdown(info: Mapping[str, str]) -> str:
    """``info`` as a two-column Markdown table (what TensorBoard's text plugin renders)."""
    rows = [f"| {_cell(k)} | {_cell(v)} |" for k, v in info.items()]
    return "\n".join(["| field | value |", "|---|---|", *rows])


def parse_markdown(text: str) -> dict[str, str]:
    """The ``{field: text}`` of a table :func:`markdown` made (other lines ignored)."""
    out = {}
    for line in text.splitlines()[2:]:
        cells = _split_row(line)
        if len(cells) == 2:
            out[cells[0]] = cells[1]
    return out


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if not (line.startswith("|") and line.endswith("|")):
        return []
    cells, cur, i = [], "", 1
    while i < len(line) - 1:
        c = line[i]
        if c == "\\" and i + 1 < len(line) - 1:
            cur += line[i + 1]
            i += 2
            continue
        if c == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    cells.append(cur.strip())
    return cells


def one_line(info: Mapping[str, str]) -> str:
    """A short line for ``tblog ls``: host, rank/world, git commit (dirty), command."""
    parts = [info.get("host", "?")]
    if "rank" in info:
        parts.append(f"rank {info['rank']}/{info.get('world_size', '?')}")
    if "git_commit" in info:
        dirty = " dirty" if info.get("git_dirty") == "yes" else ""
        parts.append(f"git {info['git_commit'][:10]}{dirty}")
    if "python" in info:
        parts.append(f"python {info['python']}")
    parts.append(info.get("command", ""))
    return "  ".join(parts)
