"""Positional file I/O: several threads read and write one descriptor at their own offsets.

POSIX has pread/pwrite/preadv; Windows has none of them, so there a seek+read/write pair is
serialised by one lock (correct, not parallel)."""

from __future__ import annotations

import os
import threading

_seek_lock = threading.Lock()


def read_at(fd: int, length: int, offset: int) -> bytes:
    """Up to `length` bytes from `offset` (fewer only at the end of the file)."""
    chunks = []
    while length > 0:
        if hasattr(os, "pread"):
            chunk = os.pread(fd, length, offset)
        else:  # pragma: no cover - Windows
            with _seek_lock:
                os.lseek(fd, offset, os.SEEK_SET)
                chunk = os.read(fd, length)
        if not chunk:
            break  # end of file: the caller compares the length it got
        chunks.append(chunk)
        length -= len(chunk)
        offset += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_into(fd: int, view: memoryview, offset: int) -> int:
    """Fill `view` from `offset` without allocating (fewer bytes only at the end of the file);
    returns the bytes read."""
    if not hasattr(os, "preadv"):  # pragma: no cover - Windows, macOS < 11
        data = read_at(fd, len(view), offset)
        view[: len(data)] = data
        return len(data)
    filled = 0
    while filled < len(view):
        got = os.preadv(fd, [view[filled:]], offset + filled)
        if not got:
            break
        filled += got
    return filled


def write_at(fd: int, data: bytes | memoryview, offset: int) -> None:
    """All of `data` at `offset`."""
    view = memoryview(data)
    while view:
        if hasattr(os, "pwrite"):
            written = os.pwrite(fd, view, offset)
        else:  # pragma: no cover - Windows
            with _seek_lock:
                os.lseek(fd, offset, os.SEEK_SET)
                written = os.write(fd, view)
        view = view[written:]
        offset += written
