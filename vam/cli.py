"""The `vam` console script: the same task namespace as `invoke` run from the checkout.

Imports nothing slow at module level: Ctrl-C in the second it takes to load invoke, boto3 and
the tasks still ends in one line, not a traceback.
"""

from __future__ import annotations

import sys

from vam import __version__
from vam.core.terminal import (
    INTERRUPTED,
    INTERRUPTED_CODE,
    PIPE_CLOSED_CODE,
    silence_stdout,
    tolerate_any_console,
)


def main() -> None:
    # before anything is printed: a ✓ on Jan's redirected cp1252 output must not end the run
    tolerate_any_console()
    # Ctrl-C or a closed pipe (`vam --list | head`) can come before any task runs, so they are
    # caught here as well as in every task (vam/tasks/base.py)
    try:
        try:
            from vam.tasks import namespace_for
            from vam.tasks.program import VamProgram

            namespace = namespace_for(sys.argv)
            VamProgram(namespace=namespace, name="vam", binary="vam", version=__version__).run()
        finally:
            # Python's signal docs ("Note on SIGPIPE"): flush here, where a closed pipe can still
            # be handled. Text that waits in the buffer (stdout to a pipe is block-buffered) would
            # otherwise fail at interpreter exit: "Exception ignored … BrokenPipeError"
            if sys.stdout is not None:
                sys.stdout.flush()
    except KeyboardInterrupt:
        print(f"vam: {INTERRUPTED}", file=sys.stderr)
        sys.exit(INTERRUPTED_CODE)
    except BrokenPipeError:
        silence_stdout()
        sys.exit(PIPE_CLOSED_CODE)
