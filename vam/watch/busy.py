"""Is a file still open for writing in another program? On Windows a render, a copy or a
download in progress usually is, and opening it while denying others the right to write then fails
with a sharing violation: the one reliable sign that it is not finished, whatever its size and
mtime say (Explorer and robocopy can give a file its final mtime before its last byte).

macOS and Linux have no such rule (any program may read a file another is writing), so there the
settle time alone decides (settle.py). The Windows check is plain code around one call, so that
its reading of the answer is tested on every OS: `held_open(path, windows=True, opener=…)`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

# Win32 errors that mean "another program has it": ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION
SHARING_VIOLATION = 32
LOCK_VIOLATION = 33
HELD = (SHARING_VIOLATION, LOCK_VIOLATION)

HELD_REASON = (
    "open in another program (a render or a copy still writing it?): uploaded once it is closed"
)


def held_open(
    path: Path,
    *,
    windows: bool | None = None,
    opener: Callable[[Path], None] | None = None,
) -> str | None:
    """Why `path` must wait because another program holds it open for writing, or None. Only on
    Windows (`windows` defaults to this OS); `opener` opens and closes the file denying others
    write access (default: CreateFileW with FILE_SHARE_READ only). Any other failure to open is
    not a reason to wait here: the upload reports it as it would any unreadable file."""
    if windows is None:
        windows = os.name == "nt"
    if not windows:
        return None
    try:
        (opener or open_denying_writers)(path)
    except OSError as exc:
        if getattr(exc, "winerror", None) in HELD:
            return HELD_REASON
    return None


def open_denying_writers(path: Path) -> None:  # pragma: no cover - Windows only
    """Open `path` for reading while denying others write access, then close it; OSError with
    `winerror` set when Windows refuses (32: another program has it open for writing)."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    create = kernel32.CreateFileW
    create.argtypes = [
        wintypes.LPCWSTR,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.LPVOID,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.HANDLE,
    ]
    create.restype = wintypes.HANDLE
    generic_read, file_share_read, open_existing, normal = 0x80000000, 0x1, 3, 0x80
    handle = create(str(path), generic_read, file_share_read, None, open_existing, normal, None)
    if handle in (None, wintypes.HANDLE(-1).value):
        code = ctypes.get_last_error()
        raise OSError(None, ctypes.FormatError(code).strip(), str(path), code)
    kernel32.CloseHandle(handle)
