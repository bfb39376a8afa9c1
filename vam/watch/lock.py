"""One `vam watch` per project: a lock file in the project's `.vam/` that the operating system
locks for as long as the watch runs (flock on macOS and Linux, a byte-range lock on Windows).

The lock belongs to the process, not to the file: when a watch ends in any way (Ctrl-C, a crash,
a reboot, a kill) the OS lets go of it, so a lock left by a process that is gone is simply taken
over, and pid reuse cannot fool it. The file itself only says who holds it (pid, host, user,
since) for the message a second watch prints; it is emptied, never deleted, when the watch
stops (deleting a lock file others may have open would let two watches each lock a different
file).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vam.core.errors import VamError

LOCK_FILE = "watch.lock"
# On Windows the locked byte lies far past the text, so a second watch can still read who holds it
# (a locked range cannot be read by another process); locking past the end of a file is allowed.
_WINDOWS_LOCK_OFFSET = 1 << 30


class AlreadyWatched(VamError):
    """Another vam watch holds this project."""


@dataclass(frozen=True)
class Holder:
    pid: int | None
    host: str
    user: str
    since: str

    def describe(self) -> str:
        pid = f"pid {self.pid}" if self.pid else "a process"
        return f"{pid} on {self.host or 'this computer'}, started {self.since or 'at some time'}"


def _read_holder(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    return Holder(
        pid if isinstance(pid, int) else None,
        str(data.get("host", "")),
        str(data.get("user", "")),
        str(data.get("since", "")),
    )


def _try_lock(fd: int) -> bool:
    if os.name == "nt":  # pragma: no cover - Windows only
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if os.name == "nt":  # pragma: no cover - Windows only
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


class WatchLock:
    """The lock of one project's watch; `acquire` raises AlreadyWatched while another holds it."""

    def __init__(self, state_dir: Path, *, project: str, user: str) -> None:
        self.path = Path(state_dir) / LOCK_FILE
        self.project = project
        self.user = user
        self._fd: int | None = None
        self.took_over: Holder | None = None  # who held it before, now gone (a crash, a kill)

    def acquire(self) -> WatchLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        if not _try_lock(fd):
            os.close(fd)
            holder = _read_holder(self.path)
            who = holder.describe() if holder else "another process"
            raise AlreadyWatched(
                f"{self.project} is already being watched by vam watch ({who}); stop that one "
                f"first (Ctrl-C in its window), or leave it to it. Lock: {self.path}"
            )
        self._fd = fd
        before = _read_holder(self.path)
        if before is not None and before.pid != os.getpid():
            self.took_over = before  # its process is gone: the OS let go of its lock
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "user": self.user,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(me).encode())
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # nobody holds it: no name to show
            _unlock(fd)
        except OSError:
            pass  # closing the file lets go of the lock in any case
        finally:
            os.close(fd)

    def __enter__(self) -> WatchLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
