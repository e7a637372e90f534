"""``python -m tblog ...``: the ``tblog`` command (``python -m tblog run train.py ...``)."""

from __future__ import annotations

import sys

from tblog.cli import main

if __name__ == "__main__":
    sys.exit(main())
