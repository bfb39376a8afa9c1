"""Positional file I/O: several threads read and write one descriptor at their own offsets.

POSIX has pread/pwrite/preadv; Windows has none of them, so there a seek+read/write pair is
serialised by one lock (correct, not parallel)."""

from __future__ import annotations

import errno
import os
import sys
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


def _linux_fallocate():
    """libc's fallocate(2) on Linux, or None. Not os.posix_fallocate: where a filesystem cannot
    allocate (FAT, exFAT on older kernels, some network mounts) glibc emulates that one by
    writing into every block, i.e. writes the whole file once before the download does."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here, not at import: posio is loaded by every command, few download

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.fallocate64 if hasattr(libc, "fallocate64") else libc.fallocate
    except (OSError, AttributeError):  # pragma: no cover - no libc symbol
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    call.restype = ctypes.c_int
    return call


_UNKNOWN = object()
_fallocate: object = _UNKNOWN  # libc's call, looked up on the first reserve (None: there is none)
_CANNOT_RESERVE = {errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.EPERM}


def reserve(fd: int, size: int) -> bool:
    """Make the file `size` bytes long, with its blocks allocated now where the filesystem can
    (Linux fallocate): a disk without room for it fails here (ENOSPC), before any byte is
    fetched, and another program filling the disk later cannot break this file; and several
    threads writing at their own offsets then do not allocate blocks as they go (a sparse
    file's writes from 8 threads cost 2-5 x the kernel time: 1.4 s instead of 0.5 s per GiB
    downloaded, measured on ext4). Elsewhere the file is only extended (sparse). Returns
    whether the blocks were reserved."""
    global _fallocate
    if _fallocate is _UNKNOWN:
        _fallocate = _linux_fallocate()
    if callable(_fallocate) and size > 0:
        if _fallocate(fd, 0, 0, size) == 0:
            return True
        import ctypes

        err = ctypes.get_errno()
        if err not in _CANNOT_RESERVE:
            raise OSError(err, os.strerror(err))
    os.ftruncate(fd, size)
    return False
