"""The `vam` console script: the same task namespace as `invoke` run from the checkout."""

from invoke import Program
from invoke.exceptions import ParseError

from vam import __version__
from vam.tasks import ns


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


program = VamProgram(namespace=ns, name="vam", binary="vam", version=__version__)


def main() -> None:
    program.run()
