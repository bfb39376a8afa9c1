"""File-system events under the watched s3-staging/ folders, from watchfiles (FSEvents on macOS,
ReadDirectoryChangesW on Windows, inotify on Linux), gathered on a thread of their own: which
folders saw a change since the loop last asked, and a nudge that wakes the loop's wait.

Events only say "look now"; the loop's own walk (project.look_here) decides what changed, and a
periodic rescan covers what events miss (a folder on an SMB share or an external disk may send
none, and a burst can overflow the OS's queue). If events cannot be had at all, the watch says
so once and goes on with the rescans.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from vam.core.files import FileRules, is_excluded

_DEBOUNCE_MS = 300  # a burst of writes (a render) is one change
_STEP_MS = 50
_TIMEOUT_MS = 1000  # how often the thread checks it is asked to stop


class FileEvents:
    def __init__(
        self,
        wake: threading.Event,
        rules: FileRules,
        *,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.wake = wake
        self.rules = rules
        self.on_error = on_error
        self._lock = threading.Lock()
        self._changed: set[Path] = set()
        self._folders: tuple[Path, ...] = ()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.failed: str | None = None  # why events stopped coming (then only rescans)

    @property
    def folders(self) -> tuple[Path, ...]:
        return self._folders

    def watch(self, folders: Iterable[Path]) -> None:
        """Watch these folders (those that exist); a new set restarts the watcher."""
        wanted = tuple(sorted({Path(f) for f in folders if Path(f).is_dir()}))
        alive = self._thread is not None and self._thread.is_alive()
        if wanted == self._folders and (alive or not wanted):
            return
        self.close()
        self._folders = wanted
        if not wanted:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(wanted, self._stop), name="vam-watch-files", daemon=True
        )
        self._thread.start()

    def take(self) -> set[Path]:
        """The watched folders that saw a change since the last call."""
        with self._lock:
            changed, self._changed = self._changed, set()
        return changed

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None
        self._folders = ()

    def _relevant(self, path: str, folders: dict[Path, Path]) -> set[Path]:
        """The watched folder(s) a changed path belongs to; none for a name vam ignores."""
        changed = Path(os.path.realpath(path))
        for real, folder in folders.items():
            try:
                rel = changed.relative_to(real)
            except ValueError:
                continue
            if any(is_excluded(part, self.rules) for part in rel.parts):
                return set()  # vam's own partial downloads, .DS_Store, …
            return {folder}
        # spelt otherwise than the folders were (a `\\?\` path, a link): look at them all
        return set(folders.values())

    def _run(self, watched: tuple[Path, ...], stop: threading.Event) -> None:
        folders = {Path(os.path.realpath(f)): f for f in watched}
        try:
            from watchfiles import watch

            for changes in watch(
                *folders,
                watch_filter=None,
                debounce=_DEBOUNCE_MS,
                step=_STEP_MS,
                stop_event=stop,
                rust_timeout=_TIMEOUT_MS,
                raise_interrupt=False,
                ignore_permission_denied=True,
            ):
                roots = set().union(*(self._relevant(p, folders) for _, p in changes))
                if roots:
                    with self._lock:
                        self._changed |= roots
                    self.wake.set()
        except Exception as exc:  # no events on this folder: the rescans carry on alone
            why = f"{type(exc).__name__}: {exc}"
            if why != self.failed and self.on_error is not None:
                self.on_error(why)
            self.failed = why
            self.wake.set()
