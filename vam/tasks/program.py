"""The invoke Program behind the `vam` console script (and the demo's in-process runs)."""

from __future__ import annotations

from invoke import Program
from invoke.exceptions import ParseError


class VamProgram(Program):
    def task_list_opener(self, extra: str = "") -> str:
        # invoke titles a bundled namespace "Subcommands"; say "Available tasks" like
        # `invoke --list` does
        bundled, self.namespace = self.namespace, None
        try:
            return super().task_list_opener(extra)
        finally:
            self.namespace = bundled

    def parse_tasks(self) -> None:
        # invoke casts typed flags (int, …) while parsing and lets a ValueError escape as a
        # traceback; a person who typed `--next two` gets one line instead
        try:
            super().parse_tasks()
        except ValueError as exc:
            raise ParseError(
                f"vam: a flag's value cannot be read ({exc}); see `vam --help TASK`"
            ) from None
