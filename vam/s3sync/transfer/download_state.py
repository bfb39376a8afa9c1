"""A download's checkpointed state: which bytes of each range are on disk, noted in memory by the
workers and made durable by a checkpointer thread off the data path (fsync first, then the
record of what was on disk before the fsync), so the record never claims bytes a reboot could
lose and no worker waits for the disk."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from vam.s3sync.transfer import tuning
from vam.s3sync.transfer.records import write_record


class DownloadState:
    """Which bytes of each range are on disk, saved now and then (and on interruption).

    Workers only note their progress in memory (`advance`); `checkpointer` saves it."""

    def __init__(self, path: Path | None, base: dict, done: dict[int, int], fd: int) -> None:
        self.path = path
        self.base = base
        self.done = done
        self.fd = fd
        self.lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._saved: dict[int, int] | None = None
        self.wake = threading.Event()

    def advance(self, start: int, nbytes: int) -> None:
        with self.lock:
            self.done[start] = max(self.done.get(start, 0), nbytes)

    def save(self) -> None:
        if self.path is None:
            return
        with self._save_lock:
            with self.lock:
                snapshot = dict(self.done)
            if snapshot == self._saved:
                return
            os.fsync(self.fd)  # the record must never claim bytes a reboot could lose
            done = {str(k): v for k, v in snapshot.items()}
            write_record(self.path, {**self.base, "done": done})
            self._saved = snapshot


def checkpointer(state: DownloadState, finished: threading.Event) -> None:
    """Save the download record every CHECKPOINT_SECONDS, or sooner when a worker asks."""
    while not finished.is_set():
        state.wake.wait(tuning.CHECKPOINT_SECONDS)
        state.wake.clear()
        if finished.is_set():
            return
        try:
            state.save()
        except OSError:
            return  # the disk is failing: the workers' own writes will say so
