"""Argument parsing for the ``tblog`` command (work in progress: ``board`` only)."""

from __future__ import annotations

import argparse


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tblog")
    parser.parse_args(argv)
    return 0
