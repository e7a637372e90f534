"""Patch mode without editing the script: ``tblog run``, ``python -m tblog run`` and the
``TBLOG_PATCH`` environment variable (read at interpreter start by a ``.pth`` file that
``tblog install-pth`` writes; see :func:`pth_line`)."""

from __future__ import annotations

import os
import runpy
import sys
import sysconfig
from collections.abc import Mapping, Sequence

from tblog.patching import DEFAULT_KINDS, KINDS, patch

ENV = "TBLOG_PATCH"
PTH_NAME = "tblog-patch.pth"
_FALSE = ("", "0", "false", "no", "off")
_TRUE = ("1", "true", "yes", "on")

USAGE = """usage: tblog run [--keras] [--lightning] [--only KINDS] (SCRIPT | -m MODULE) [ARGS ...]

Run a Python script (or module, with -m) with tblog.patch() applied first: every
torch.utils.tensorboard / tensorboardX writer it makes is tblog's (--keras: Keras'
TensorBoard callback too; --lightning: Lightning's TensorBoardLogger too; --only: exactly
these, comma-separated, of torch,tensorboardX,keras,lightning). The script sees
sys.argv = [SCRIPT, ARGS ...], as under python.
"""


def kinds_from_env(environ: Mapping[str, str] | None = None) -> set[str] | None:
    """The kinds ``TBLOG_PATCH`` asks for, or ``None`` when it asks for no patch.

    ``TBLOG_PATCH=1`` (``true``, ``yes``, ``on``): torch and tensorboardX, plus Keras with
    ``TBLOG_PATCH_KERAS=1`` and Lightning with ``TBLOG_PATCH_LIGHTNING=1``;
    ``TBLOG_PATCH=torch,keras,lightning``: exactly those. Raises ``ValueError`` for an
    unknown kind."""
    env = os.environ if environ is None else environ
    value = env.get(ENV, "").strip()
    if value.lower() in _FALSE:
        return None
    if value.lower() in _TRUE:
        kinds = set(DEFAULT_KINDS)
        for kind in ("keras", "lightning"):
            if env.get(f"{ENV}_{kind.upper()}", "").strip().lower() in _TRUE:
                kinds.add(kind)
        return kinds
    return parse_kinds(value, ENV)


def parse_kinds(value: str, where: str) -> set[str]:
    """``"torch,keras"`` -> ``{"torch", "keras"}`` (case-insensitive); ``ValueError`` for
    an unknown kind."""
    by_lower = {k.lower(): k for k in KINDS}
    kinds = set()
    for part in value.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in by_lower:
            raise ValueError(f"{where}: unknown kind {part.strip()!r}; expected some of {KINDS}")
        kinds.add(by_lower[name])
    return kinds


def patch_kinds(kinds: set[str]) -> None:
    """:func:`tblog.patch` of exactly ``kinds``."""
    patch(
        "torch" in kinds,
        "tensorboardX" in kinds,
        keras="keras" in kinds,
        lightning="lightning" in kinds,
    )


def patch_from_env() -> bool:
    """Apply the patch ``TBLOG_PATCH`` asks for; whether it did. A bad value is reported on
    stderr (at interpreter start an exception would stop every Python program)."""
    try:
        kinds = kinds_from_env()
    except ValueError as exc:
        print(f"tblog: {exc}; not patching", file=sys.stderr)
        return False
    if kinds is None:
        return False
    patch_kinds(kinds)
    return True


def pth_line() -> str:
    """The one line of ``tblog-patch.pth``: imports nothing unless ``TBLOG_PATCH`` is set."""
    return (
        "import os; os.environ.get('TBLOG_PATCH', '').strip().lower() not in "
        "('', '0', 'false', 'no', 'off') and __import__('tblog.patching.startup')\n"
    )


def install_pth(directory: str | None = None, remove: bool = False) -> str:
    """Write (or with ``remove`` delete) ``tblog-patch.pth`` in ``directory`` (default this
    interpreter's site-packages); returns its path."""
    path = os.path.join(directory or sysconfig.get_paths()["purelib"], PTH_NAME)
    if remove:
        if os.path.exists(path):
            os.remove(path)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(pth_line())
    return path


def run(argv: Sequence[str]) -> int:
    """``tblog run [options] (SCRIPT | -m MODULE) [ARGS ...]``; returns the exit status
    (the script's ``sys.exit`` status propagates as ``SystemExit``)."""
    args = list(argv)
    kinds = set(DEFAULT_KINDS)
    while args and args[0].startswith("-") and args[0] != "-m":
        option = args.pop(0)
        if option in ("-h", "--help"):
            print(USAGE, end="")
            return 0
        if option in ("--keras", "--lightning"):
            kinds.add(option[2:])
        elif option == "--only" and args:
            try:
                kinds = parse_kinds(args.pop(0), "--only")
            except ValueError as exc:
                print(f"tblog run: {exc}", file=sys.stderr)
                return 2
        elif option.startswith("--only="):
            try:
                kinds = parse_kinds(option.partition("=")[2], "--only")
            except ValueError as exc:
                print(f"tblog run: {exc}", file=sys.stderr)
                return 2
        else:
            print(f"tblog run: unknown option {option!r}\n{USAGE}", file=sys.stderr, end="")
            return 2
    module = bool(args) and args[0] == "-m"
    if module:
        args.pop(0)
    if not args:
        print(f"tblog run: a script or -m MODULE is required\n{USAGE}", file=sys.stderr, end="")
        return 2
    patch_kinds(kinds)
    target, rest = args[0], args[1:]
    if module:
        sys.argv = [target, *rest]  # run_module sets argv[0] to the module's file
        sys.path.insert(0, os.getcwd())
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        if not os.path.exists(target):
            print(f"tblog run: no such file: {target!r}", file=sys.stderr)
            return 2
        sys.argv = [target, *rest]
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        runpy.run_path(target, run_name="__main__")
    return 0
