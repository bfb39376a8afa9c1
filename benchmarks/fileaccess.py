"""Which files of a folder a tool read, seen by the kernel (Linux inotify, IN_ACCESS).

/proc/<pid>/io counts every byte a process reads, its own start-up files included (botocore's
JSON models alone are megabytes), so it cannot say "0 bytes of the project were read". inotify
can: every read() of a file in a watched folder raises an IN_ACCESS event, whoever reads it. The
re-sync case uses it to report how many project files, and how many bytes of them, were read.
"""

from __future__ import annotations

import ctypes
import os
import select
import struct
import threading
from pathlib import Path

IN_ACCESS = 0x00000001
IN_Q_OVERFLOW = 0x00004000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")


class AccessWatch:
    """Watch every folder under `root` for reads; `read_files()` are the relative paths read."""

    def __init__(self, root: Path):
        self.root = root
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._dirs: dict[int, Path] = {}
        for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
            wd = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), IN_ACCESS)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch failed on {folder}")
            self._dirs[wd] = folder
        self._read: set[str] = set()
        self._lock = threading.Lock()
        self.overflowed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="access-watch", daemon=True)

    def __enter__(self) -> AccessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_files(self) -> set[str]:
        """Files read so far (the kernel queue is drained first: finished reads all count)."""
        self._drain()
        return set(self._read)

    def reset(self) -> None:
        self._drain()
        self._read.clear()
        self.overflowed = False

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.05)
            if ready:
                self._drain()

    def _drain(self) -> None:
        with self._lock:
            while self._fd >= 0:
                try:
                    buf = os.read(self._fd, 64 * 1024)
                except BlockingIOError:
                    return
                offset = 0
                while offset < len(buf):
                    wd, mask, _cookie, length = _EVENT.unpack_from(buf, offset)
                    name = buf[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
                    offset += _EVENT.size + length
                    if mask & IN_Q_OVERFLOW:
                        self.overflowed = True
                    elif name and wd in self._dirs and not mask & IN_ISDIR:
                        path = self._dirs[wd] / os.fsdecode(name)
                        self._read.add(path.relative_to(self.root).as_posix())
