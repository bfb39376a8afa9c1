"""Running a vam command in-process as one person of the demo (their own settings file), through
the same namespace and Program a person's `vam` uses, echoed like a terminal would. The demo's
story (vam/demo/story.py) is given this runner by `vam demo`; the CLI story tests use it too.
"""

from __future__ import annotations

import os
import shlex
import sys

from vam.core.errors import VamError
from vam.demo.story import Person
from vam.tasks.program import VamProgram


def run_vam(person: Person, argv: list[str], *, expect: int | tuple[int, ...] = 0) -> int:
    """Run one vam command in-process as `person`, echoing it like a terminal would."""
    from vam.tasks import ns  # the whole namespace, built on first use (`vam demo` is in it)

    print(f"\n[{person.name}] $ vam {shlex.join(argv)}", flush=True)
    saved = os.environ.get("VAM_SETTINGS")
    os.environ["VAM_SETTINGS"] = str(person.settings)
    code = 0
    try:
        VamProgram(namespace=ns, name="vam", binary="vam").run(["vam", *argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        if saved is None:
            os.environ.pop("VAM_SETTINGS", None)
        else:
            os.environ["VAM_SETTINGS"] = saved
    sys.stdout.flush()
    allowed = (expect,) if isinstance(expect, int) else expect
    if code not in allowed:
        raise VamError(
            f"demo step failed: `vam {shlex.join(argv)}` exited {code} (expected {expect})"
        )
    return code
