"""Writes that survive a power cut, and renames that survive Windows, on every OS vam runs on.

- `flush(fd)`: the file's bytes on the disk itself. fsync on Linux and Windows; on macOS fsync
  only hands them to the drive, which may keep them in its cache, so F_FULLFSYNC.
- `fsync_dir(folder)`: after a rename, the new directory entry on the disk too (POSIX); without
  it a power cut can bring back the old name, or no name, for a file vam already reported done.
- `uncached(fd)`: a read-back that verifies a copy must read what reached the disk, not the page
  cache: posix_fadvise(DONTNEED) where it exists (Linux), F_NOCACHE on macOS.
- `replace(src, dst)`: os.replace, retried with backoff while the name is held (on Windows,
  Premiere, Defender or the search indexer keep a file open and the rename fails with
  PermissionError), then the folder fsynced. After a bounded wait it raises `FileBusy`, naming the
  file, so the caller can report it and go on with the others.
- `long_path(path)`: on Windows, the `\\\\?\\` form of a path of 260 characters or more, which the
  Win32 API refuses otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from pathlib import Path

from vam.core.errors import VamError

# How long a rename waits for another program to let go of the file, and its first pause.
REPLACE_PATIENCE = 10.0
REPLACE_FIRST_PAUSE = 0.05
REPLACE_LONGEST_PAUSE = 1.0
# Windows' classic path limit (MAX_PATH, with its terminating NUL)
MAX_PATH = 260


class FileBusy(VamError):
    """A file could not be replaced because another program holds it (Windows), even after
    waiting; nothing was lost: the new bytes stay under their temporary name."""

    def __init__(self, dst: Path, src: Path, waited: float, error: OSError) -> None:
        self.dst, self.src = Path(dst), Path(src)
        super().__init__(
            f"{dst} is held by another program (an editor, a player, an antivirus scan?) and "
            f"could not be replaced within {waited:.0f} s ({error.strerror or error}); close it "
            "and run the same command again (the new version waits beside it)"
        )


def flush(fd: int) -> None:
    """Everything written to `fd` on the disk (F_FULLFSYNC on macOS, else fsync)."""
    if sys.platform == "darwin" and hasattr(os, "F_FULLFSYNC"):
        import fcntl

        try:
            fcntl.fcntl(fd, os.F_FULLFSYNC)  # type: ignore[attr-defined]
            return
        except OSError:
            pass  # not supported by this file system (e.g. SMB): fsync is the best there is
    os.fsync(fd)


def fsync_dir(folder: Path) -> None:
    """The folder's entries (a rename into it) on the disk. POSIX only; Windows (NTFS) commits
    directory changes with the rename itself and cannot open a folder this way."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # a folder we cannot open for this (some network file systems): nothing to do
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def uncached(fd: int) -> None:
    """Make later reads of `fd` come from the disk, not from the page cache, where the OS lets
    us (drops the cached pages on Linux; turns caching off for this descriptor on macOS)."""
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.fsync(fd)  # dirty pages cannot be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return
    if sys.platform == "darwin":
        import fcntl

        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(fd, fcntl.F_NOCACHE, 1)  # type: ignore[attr-defined]


def replace(src: Path, dst: Path, *, durable: bool = True, patience: float | None = None) -> None:
    """`os.replace(src, dst)`, waiting (with backoff) while another program holds `dst` or
    `src`; with `durable`, the folder is fsynced afterwards. FileBusy after `patience` seconds
    (default REPLACE_PATIENCE); `src` is left where it is."""
    patience = REPLACE_PATIENCE if patience is None else patience
    started = time.monotonic()
    pause = REPLACE_FIRST_PAUSE
    while True:
        try:
            os.replace(src, dst)
            break
        except PermissionError as exc:
            waited = time.monotonic() - started
            if waited >= patience:
                raise FileBusy(Path(dst), Path(src), waited, exc) from None
            time.sleep(min(pause, max(0.0, patience - waited)))
            pause = min(pause * 2, REPLACE_LONGEST_PAUSE)
    if durable:
        fsync_dir(Path(dst).parent)


def long_path(path: Path | str, *, windows: bool | None = None, always: bool = False) -> str:
    """The path as the OS API needs it: on Windows, `\\\\?\\C:\\…` (or `\\\\?\\UNC\\server\\…`)
    once it reaches MAX_PATH characters (or `always`, for a folder whose files may); unchanged
    elsewhere and for shorter paths."""
    text = str(path)
    windows = os.name == "nt" if windows is None else windows
    # (12: the room CreateDirectory needs for an 8.3 name inside the folder)
    short = len(text) < MAX_PATH - 12 and not always
    if not windows or short or text.startswith("\\\\?\\"):
        return text
    if os.name == "nt":
        text = os.path.abspath(text)
    text = text.replace("/", "\\")
    if text.startswith("\\\\"):
        return "\\\\?\\UNC\\" + text[2:]
    return "\\\\?\\" + text


def native(path: Path) -> Path:
    """A folder as vam hands it to the OS: on Windows in the extended form, so that files deep
    inside it work past 260 characters (Jan's `D:\\video-projects\\…\\s3-staging\\…`); the
    same path elsewhere."""
    return Path(long_path(path, always=True)) if os.name == "nt" else path
