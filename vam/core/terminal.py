"""How vam's output meets the terminal: Ctrl-C, a closed output pipe, a console that cannot
show every character.

Shared by the tasks (vam/tasks/base.py) and the console script (vam/cli.py), which also catches
them before any task runs. Kept free of invoke and boto3 so the console script can import it
before the (slow) task modules.
"""

from __future__ import annotations

import codecs
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


# What a console that cannot show a character gets instead (Windows cp1252 with output redirected,
# the C locale with Python's UTF-8 mode off): vam's marks keep their meaning in ASCII; any other
# character it cannot encode becomes "?". cp1252 itself has é, – and “…”, so only these are lost.
_FALLBACK = {
    "✓": "+",
    "✗": "x",
    "→": "->",
    "←": "<-",
    "…": "...",
    "–": "-",
    "—": "-",
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
    "×": "x",
    "≥": ">=",
    "≤": "<=",
    "·": "-",
    "³": "3",
    "²": "2",
}
_FALLBACK_ERRORS = "vam.fallback"


def _fallback(exc: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = bytearray()
    for ch in exc.object[exc.start : exc.end]:
        if "\udc80" <= ch <= "\udcff":  # a byte of a file name that was not valid text:
            out.append(ord(ch) - 0xDC00)  # write it back as it was (what surrogateescape does)
        else:
            out += _FALLBACK.get(ch, "?").encode("ascii")
    return bytes(out), exc.end


def tolerate_any_console() -> None:
    """Let stdout and stderr print what their encoding cannot hold as ASCII stand-ins instead of
    raising UnicodeEncodeError in the middle of a report."""
    try:
        codecs.lookup_error(_FALLBACK_ERRORS)
    except LookupError:
        codecs.register_error(_FALLBACK_ERRORS, _fallback)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # None: no console (pythonw)
        if reconfigure is None:
            continue
        try:
            reconfigure(errors=_FALLBACK_ERRORS)
        except (OSError, ValueError):  # already closed or detached: nothing will be printed
            pass
