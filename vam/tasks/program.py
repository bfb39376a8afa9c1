"""The invoke Program behind the `vam` console script (and the demo's in-process runs).

Two changes to invoke's: the core flags that only matter for shell commands are gone (vam's
tasks run none, and `vam s3.up --dry` used to be taken as invoke's `--dry` and upload for real),
and a command line invoke cannot read gets one `vam:` line with the nearest task or option.
"""

from __future__ import annotations

import difflib
import logging
import re

from invoke import Exit, Program
from invoke.exceptions import ParseError
from invoke.parser import Argument

from vam.core.errors import UsageError

# invoke's core flags for run()/sudo() (echo, pty, hide, warn, dry, timeouts, sudo prompt) and
# its runtime config file: vam runs no shell commands, so they would only be accepted and ignored
_SHELL_FLAGS = {
    "command-timeout",
    "config",
    "dry",
    "echo",
    "hide",
    "prompt-for-sudo-password",
    "pty",
    "warn-only",
}
# what people type when they mean a dry run
_DRY_RUN_HABITS = {"-d", "-n", "--dry", "--dryrun", "--dry_run", "--simulate", "--whatif"}


class VamProgram(Program):
    def core_args(self) -> list[Argument]:
        kept = []
        for arg in super().core_args():
            if arg.name in _SHELL_FLAGS:
                continue
            if arg.name == "debug":
                # -d is what people type for a dry run: --debug is long-only
                arg = Argument(
                    names=("debug",),
                    kind=bool,
                    default=False,
                    help="Show the full traceback when a command fails.",
                )
            kept.append(arg)
        return kept

    def parse_core(self, argv: list[str] | None) -> None:
        # invoke's --debug sets every library's logging to DEBUG: botocore then logs each request
        # with its headers, the AWS session token included. vam's --debug shows the traceback
        # of a failure (vam/tasks/base.py) and nothing else.
        root = logging.getLogger()
        level, handlers = root.level, list(root.handlers)
        try:
            super().parse_core(argv)
        finally:
            root.setLevel(level)
            root.handlers[:] = handlers

    def update_config(self, merge: bool = True) -> None:
        # invoke fills run/sudo/timeout overrides from the flags dropped above; vam has none
        self.config.load_overrides({}, merge=False)
        self.config.load_runtime(merge=False)
        if merge:
            self.config.merge()

    def task_list_opener(self, extra: str = "") -> str:
        # invoke titles a bundled namespace "Subcommands"; say "Available tasks" like
        # `invoke --list` does
        bundled, self.namespace = self.namespace, None
        try:
            return super().task_list_opener(extra)
        finally:
            self.namespace = bundled

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as exc:
            raise self._usage_error(self.explain_parse_error(exc)) from None
        except ValueError as exc:
            # invoke casts typed flags (int, …) while parsing and lets a ValueError escape as a
            # traceback; a person who typed `--next two` gets one line instead
            task = self._task_in_argv()
            see = f"`vam --help {task}`" if task else "`vam --list`"
            raise self._usage_error(
                f"an option's value cannot be read ({exc}); see {see}"
            ) from None

    def _usage_error(self, message: str) -> Exit:
        """A command line vam cannot read: one line on stderr and, when the line asked for
        --json, the same failure as a JSON document on stdout (as any task's failure is)."""
        if "--json" in self.argv[1:]:
            from vam.tasks.base import Run

            Run(self._task_in_argv() or "vam", as_json=True).finish(UsageError.exit_code, message)
        return Exit(f"vam: {message}", code=UsageError.exit_code)

    def parse_cleanup(self) -> None:
        try:
            super().parse_cleanup()
        except ParseError as exc:  # `vam --help s3.upp`
            raise Exit(f"vam: {self.explain_parse_error(exc)}", code=UsageError.exit_code) from None

    def _task_in_argv(self) -> str | None:
        names = self.collection.task_names if self.collection is not None else {}
        return next((t for t in self.argv[1:] if t in names), None)

    def explain_parse_error(self, exc: ParseError) -> str:
        """invoke's parse error as what went wrong, the nearest right spelling, where to look."""
        text = str(exc)
        context = exc.context if exc.context is not None and exc.context.name else None
        task = context.name if context is not None else self._task_in_argv()
        see = f"see `vam --help {task}`" if task else "`vam --list` shows every task"
        unknown = re.fullmatch(r"No idea what '(.*)' is!", text)
        if unknown:
            token = unknown.group(1)
            if token.startswith("-"):
                flags = sorted(f for f in (context.flags if context else {}) if f != "--help")
                if token in _DRY_RUN_HABITS and "--dry-run" in flags:
                    near = ["--dry-run"]
                else:
                    near = difflib.get_close_matches(token.lower(), flags, n=2, cutoff=0.6)
                hint = f"did you mean {' or '.join(near)}? " if near else ""
                return f"{task or 'vam'} has no option {token}; {hint}{see}"
            tasks = sorted(self.collection.task_names) if self.collection is not None else []
            group = [t for t in tasks if t.startswith(f"{token.lower()}.")]
            if group:  # `vam s3 up`
                after = self.argv[self.argv.index(token) + 1 :] if token in self.argv else []
                meant = f"{token.lower()}.{after[0]}" if after else ""
                example = meant if meant in group else group[0]
                return (
                    f"{token!r} is a group of tasks: name one with a dot, e.g. `vam {example}`; "
                    f"`vam --list {token.lower()}` lists them"
                )
            near = difflib.get_close_matches(token.lower(), tasks, n=3, cutoff=0.6)
            if context is not None and not near:
                return (
                    f"unexpected {token!r} after {task}: options are --name value, each "
                    f"given once; {see}"
                )
            hint = f"did you mean {' or '.join(near)}? " if near else ""
            return f"no task {token!r}; {hint}`vam --list` shows every task"
        required = re.fullmatch(r"'(.+)' did not receive required positional arguments: (.+)", text)
        if required:  # invoke's word for a task argument without a default
            flags = [
                f"--{n.strip(chr(39))}".replace("_", "-") for n in required.group(2).split(", ")
            ]
            return f"{required.group(1)} needs {' and '.join(flags)}; {see}"
        needs = re.fullmatch(r"Flag (?:<Argument: |')-*([\w-]+)(?:>|') needed value.*", text)
        if needs:
            flag = "--" + needs.group(1).replace("_", "-")
            return f"{flag} needs a value, e.g. {flag}=VALUE; {see}"
        return f"{text.rstrip('!')}; {see}"
