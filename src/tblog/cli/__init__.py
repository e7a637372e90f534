"""The ``tblog`` command: ``ls``, ``export``, ``plot`` and ``board`` over a log dir."""

from __future__ import annotations

from tblog.cli.board import start_tensorboard

__all__ = ["main", "start_tensorboard"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tblog`` console script; returns the exit status."""
    from tblog.cli.commands import run

    return run(argv)
