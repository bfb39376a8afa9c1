"""What every task shares: turning library errors into one line and an exit code, and what a
run says: text lines for people, or with `--json` one JSON document on stdout. The only place
besides the collection modules that imports invoke.

The JSON document of every task has the same envelope (README, "Scripting with --json"):
`{"command": "s3.up", "ok": true, "exit_code": 0, "error": null, ...the task's fields}`. It is
printed once, here, when the task ends, however it ends: `ok` and `exit_code` come from the same
exit, so they cannot disagree.
"""

from __future__ import annotations

import contextvars
import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from invoke import Exit, task

from vam.aws.client import explain
from vam.core.errors import VamError
from vam.core.terminal import INTERRUPTED, INTERRUPTED_CODE, PIPE_CLOSED_CODE, silence_stdout
from vam.tasks import COLLECTIONS

# the help of every task's --json (README, "Scripting with --json")
JSON_HELP = "print one JSON document on stdout instead of text (also on failure)"


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


@dataclass
class Run:
    """One run of a task: its name, whether it answers in JSON, and the fields gathered so far."""

    command: str
    as_json: bool
    fields: dict[str, Any] = field(default_factory=dict)
    lines: bool = False  # JSON lines (vam watch): the document is the stream's last line

    def document(self, code: int, error: str | None) -> dict[str, Any]:
        envelope = {"command": self.command, "ok": code == 0, "exit_code": code, "error": error}
        return {**envelope, **{k: v for k, v in self.fields.items() if k not in envelope}}

    def finish(self, code: int, error: str | None) -> None:
        if self.as_json:
            indent = None if self.lines else 1
            print(
                json.dumps(self.document(code, error), indent=indent, ensure_ascii=False),
                flush=True,
            )


_RUN: contextvars.ContextVar[Run | None] = contextvars.ContextVar("vam_run", default=None)


def json_output() -> bool:
    """True while a task runs with --json: text is not printed, the JSON document is."""
    run = _RUN.get()
    return run is not None and run.as_json


def result(**fields: Any) -> None:
    """Add fields to this run's JSON document (kept even if the task fails later)."""
    run = _RUN.get()
    if run is not None:
        run.fields.update(fields)


def _command_name(fn: Callable, name: str | None) -> str:
    """The task's name as typed: `s3.up`, `aws.setup-bucket`, `handoff`."""
    task_name = name or fn.__name__.replace("_", "-")  # invoke's auto-dashed names
    module = fn.__module__.rsplit(".", 1)[-1]
    return f"{module}.{task_name}" if module in COLLECTIONS else task_name


def _exit_message(exc: Exit) -> str | None:
    return exc.message.removeprefix("vam: ") if exc.message else None


def vam_task(*args: Any, json_lines: bool = False, **kwargs: Any) -> Callable:
    """`@task`, plus: a VamError or AWS failure exits with one clear line instead of a traceback,
    and with --json (a `json_` argument) stdout holds one JSON document however the task ends.
    `json_lines`: the task prints one JSON object per line as it goes (vam watch), and the
    document is one more line, the last."""

    def decorate(fn: Callable) -> Any:
        command = _command_name(fn, kwargs.get("name"))

        @functools.wraps(fn)
        def body(c, *a, **kw):
            run = Run(command, bool(kw.get("json_")), lines=json_lines)
            token = _RUN.set(run)
            try:
                value = fn(c, *a, **kw)
            except Exit as exc:
                run.finish(exc.code, _exit_message(exc))
                raise
            except KeyboardInterrupt:
                run.finish(INTERRUPTED_CODE, INTERRUPTED)
                raise Exit(f"vam: {INTERRUPTED}", code=INTERRUPTED_CODE) from None
            except BrokenPipeError:
                # the reader of our output has gone (`vam … --json | head`): stop quietly
                silence_stdout()
                raise Exit(code=PIPE_CLOSED_CODE) from None
            except Exception as exc:
                message, code = one_line(exc)
                # one line whatever the library wrote (botocore's texts can span several)
                message = " ".join(message.split())
                run.finish(code, message)
                if debug_enabled():
                    raise
                raise Exit(f"vam: {message}", code=code) from None
            else:
                run.finish(0, None)
                return value
            finally:
                _RUN.reset(token)

        return task(*args, **kwargs)(body)

    return decorate


def confirmed(question: str, yes: bool, unasked: VamError) -> bool:
    """True with --yes, or when the person answers y at the `[y/N]` prompt. Without a terminal
    to ask on, `unasked` (a one-line refusal naming --yes) is raised."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise unasked
    if json_output():  # stdout is for the JSON document only: ask on stderr
        print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
        return input().strip().lower() in ("y", "yes")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def say(text: str = "") -> None:
    """A line for people; with --json it is left out (the document carries the facts)."""
    if not json_output():
        print(text, flush=True)


def warn(*notes: str) -> None:
    """What the person should hear that is not an error: one line each on stderr (stdout may
    be --json)."""
    for note in notes:
        print(f"vam: warning: {note}", file=sys.stderr, flush=True)


def report_checks(checks: list) -> None:
    """One ✓/✗ line per check (doctor, aws.check), then exit 1 if any failed."""
    result(
        checks=[
            {"ok": ch.ok, "label": ch.label, "detail": ch.detail, "fix": ch.fix} for ch in checks
        ]
    )
    for check in checks:
        say(check.line())
    failed = [ch for ch in checks if not ch.ok]
    result(passed=len(checks) - len(failed), failed=len(failed))
    if failed:
        raise Exit(f"vam: {len(failed)} of {len(checks)} checks failed", code=1)
    say(f"all {len(checks)} checks passed")
