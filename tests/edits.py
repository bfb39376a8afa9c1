"""Editing files the way people and their tools really do, for tests.

An editor saving in place, `touch -r`, `cp -p`, `rsync -t` and `exiftool -P` all leave a file with
new bytes and its old mtime; two saves within one timestamp tick of exFAT/FAT32 (2 s), HFS+ (1 s)
or an SMB share look the same. A test that edits with `write_text` and then bumps the mtime by a
second or two can never see a cache that trusts size + mtime. These helpers change the bytes and
give the file back exactly the mtime (to the nanosecond) it had before, so what is left to tell
the versions apart is what a careful tool looks at: ctime, inode, and the bytes themselves.
"""

from __future__ import annotations

import os
from pathlib import Path


def _times(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_atime_ns, st.st_mtime_ns


def edit_in_place(path: Path, data: bytes | str, *, offset: int = 0) -> None:
    """Overwrite bytes at `offset` in the same file (same inode, same size when `data` fits),
    then restore the mtime, as an editor saving in place followed by `touch -r` would."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    times = _times(path)
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    os.utime(path, ns=times)


def flip_byte(path: Path, offset: int = 0) -> None:
    """One byte changed in place, size and mtime as before: the hardest edit to notice."""
    path = Path(path)
    with open(path, "rb") as fh:
        fh.seek(offset)
        old = fh.read(1)
    edit_in_place(path, bytes([old[0] ^ 0xFF]), offset=offset)


def rewrite_keeping_mtime(path: Path, data: bytes | str) -> None:
    """New content written over the same file (truncate + write, same inode), mtime restored:
    `cp -p new old`, or a tool that preserves timestamps (`exiftool -P`)."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    times = _times(path)
    with open(path, "wb") as fh:
        fh.write(raw)
    os.utime(path, ns=times)


def replace_keeping_mtime(path: Path, data: bytes | str) -> None:
    """New content saved to a temporary file and renamed over the old name (a new inode), with
    the old mtime given to it: how many editors save, followed by `touch -r`."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    times = _times(path)
    temp = path.with_name(f".{path.name}.saving")
    temp.write_bytes(raw)
    os.utime(temp, ns=times)
    os.replace(temp, path)


FAT_TICK_NS = 2_000_000_000  # exFAT / FAT32 keep mtimes in 2-second steps


def coarsen(path: Path, tick_ns: int = FAT_TICK_NS) -> int:
    """Round the file's mtime down to the tick, as a coarse file system stores it; returns it."""
    atime, mtime = _times(path)
    coarse = mtime - mtime % tick_ns
    os.utime(path, ns=(atime, coarse))
    return coarse


def save_within_tick(path: Path, data: bytes | str, tick_ns: int = FAT_TICK_NS) -> None:
    """A second save within one timestamp tick of a coarse file system (exFAT/FAT32: 2 s): the
    file system rounds both mtimes down to the same tick, so the mtime reads as before. The
    file's mtime is taken as already coarse (see `coarsen`)."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    atime, mtime = _times(path)
    with open(path, "wb") as fh:
        fh.write(raw)
    os.utime(path, ns=(atime, mtime - mtime % tick_ns))
