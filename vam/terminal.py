"""How a run that ends early looks at the terminal: Ctrl-C and a closed output pipe.

Shared by the tasks (vam/tasks/base.py) and the console script (vam/cli.py), which also catches
them before any task runs. Kept free of invoke and boto3 so the console script can import it
before the (slow) task modules.
"""

from __future__ import annotations

import os
import sys

INTERRUPTED = "interrupted; run the same command again to continue"
INTERRUPTED_CODE = 130  # 128 + SIGINT, what shells report for Ctrl-C
# what a shell reports for a program stopped by SIGPIPE (128 + 13): `vam … | head` ended early
PIPE_CLOSED_CODE = 141


def silence_stdout() -> None:
    """Point stdout at the null device, so the flush at exit after a closed pipe stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (captured in-process): nothing to flush
        pass
