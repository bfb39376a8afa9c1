"""What every task shares: turning library errors into one line and an exit code, and loading the
configuration. The only place besides the collection modules that imports invoke."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

from invoke import Exit, task

from vam.awsclient import explain
from vam.errors import VamError
from vam.terminal import INTERRUPTED, INTERRUPTED_CODE, PIPE_CLOSED_CODE, silence_stdout


def debug_enabled() -> bool:
    # only the long flag: -d is what people type for a dry run (vam/tasks/program.py)
    return bool(os.environ.get("VAM_DEBUG")) or "--debug" in sys.argv[1:]


def one_line(exc: BaseException) -> tuple[str, int]:
    """Any exception as (message, exit code), never a traceback."""
    if isinstance(exc, VamError):
        return str(exc), exc.exit_code
    aws = explain(exc)
    if aws is not None:
        return str(aws), aws.exit_code
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno == 28:  # ENOSPC
            return f"disk full{where}; free some space and run the same command again", 1
        return f"{exc.strerror or exc}{where}; check the path and its permissions", 1
    return (
        f"unexpected error: {type(exc).__name__}: {exc} (run again with VAM_DEBUG=1 for details)",
        1,
    )


def vam_task(*args: Any, **kwargs: Any) -> Callable:
    """`@task`, plus: a VamError or AWS failure exits with one clear line instead of a traceback."""

    def decorate(fn: Callable) -> Any:
        @functools.wraps(fn)
        def body(c, *a, **kw):
            try:
                return fn(c, *a, **kw)
            except Exit:
                raise
            except KeyboardInterrupt:
                raise Exit(f"vam: {INTERRUPTED}", code=INTERRUPTED_CODE) from None
            except BrokenPipeError:
                # the reader of our output has gone (`vam … --json | head`): stop quietly
                silence_stdout()
                raise Exit(code=PIPE_CLOSED_CODE) from None
            except Exception as exc:
                if debug_enabled():
                    raise
                message, code = one_line(exc)
                # one line whatever the library wrote (botocore's texts can span several)
                raise Exit(f"vam: {' '.join(message.split())}", code=code) from None

        return task(*args, **kwargs)(body)

    return decorate


def confirmed(question: str, yes: bool, unasked: VamError) -> bool:
    """True with --yes, or when the person answers y at the `[y/N]` prompt. Without a terminal
    to ask on, `unasked` (a one-line refusal naming --yes) is raised."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise unasked
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def say(text: str = "") -> None:
    print(text, flush=True)


def warn(*notes: str) -> None:
    """What the person should hear that is not an error: one line each on stderr (stdout may
    be --json)."""
    for note in notes:
        print(f"vam: warning: {note}", file=sys.stderr, flush=True)


def report_checks(checks: list) -> None:
    """One ✓/✗ line per check (doctor, aws.check), then exit 1 if any failed."""
    for check in checks:
        say(check.line())
    failed = [ch for ch in checks if not ch.ok]
    if failed:
        raise Exit(f"vam: {len(failed)} of {len(checks)} checks failed", code=1)
    say(f"all {len(checks)} checks passed")
