"""Transfer progress, injected into the engine: a protocol, a no-op, and a tqdm adapter.

The engine calls `advance` from worker threads, sometimes with a negative count when a part has to
be sent again; the adapter serialises updates behind a lock. Bars go to stderr and only when it is
a terminal, so piped or `--json` output stays clean. `resumed` tells how much of a file was
already there when its transfer picked up an interrupted one (parts on S3, a partial download);
those bytes still arrive through `advance`, as they are verified or re-read.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Protocol

LARGE_FILE = 8 * 1000 * 1000  # a file this big gets its own bar (8 MB: a minute on a slow link)


class Progress(Protocol):
    def start_file(self, name: str, total: int) -> None: ...
    def resumed(self, name: str, done_bytes: int) -> None: ...
    def advance(self, name: str, nbytes: int) -> None: ...
    def end_file(self, name: str, ok: bool) -> None: ...


class _NoProgress:
    def start_file(self, name: str, total: int) -> None:
        pass

    def resumed(self, name: str, done_bytes: int) -> None:
        pass

    def advance(self, name: str, nbytes: int) -> None:
        pass

    def end_file(self, name: str, ok: bool) -> None:
        pass


NO_PROGRESS: Progress = _NoProgress()


def _short(name: str, width: int = 40) -> str:
    """The end of a key or path, which is the part people recognise."""
    return name if len(name) <= width else "…" + name[-(width - 1) :]


class ProgressRun:
    """One bar for the whole run (bytes, rate, ETA) plus one per large file; a context manager."""

    def __init__(self, total_bytes: int, *, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._files: dict[str, Any] = {}
        self._totals: dict[str, int] = {}
        self._run: Any = None
        if enabled:
            from tqdm import tqdm  # imported lazily: only interactive runs need it

            self._tqdm = tqdm
            self._run = tqdm(
                total=total_bytes,
                unit="B",
                unit_scale=True,
                unit_divisor=1000,
                desc="total",
                file=sys.stderr,
                dynamic_ncols=True,
                leave=True,
            )

    def start_file(self, name: str, total: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._totals[name] = total
            if total < LARGE_FILE:
                return
            self._files[name] = self._tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1000,
                desc=_short(name),
                file=sys.stderr,
                dynamic_ncols=True,
                leave=False,
                position=len(self._files) + 1,
            )

    def resumed(self, name: str, done_bytes: int) -> None:
        """`resumed at 62%` on the file's bar, or on the run's bar for a file without one."""
        if not self.enabled:
            return
        with self._lock:
            total = self._totals.get(name, 0)
            at = f"resumed at {min(99, done_bytes * 100 // total) if total else 0}%"
            bar = self._files.get(name)
            if bar is not None:
                bar.set_postfix_str(at)
            elif self._run is not None:
                self._run.set_postfix_str(f"{_short(name.rsplit('/', 1)[-1], 30)} {at}")

    def advance(self, name: str, nbytes: int) -> None:
        if not self.enabled or not nbytes:
            return
        with self._lock:
            self._run.update(nbytes)
            bar = self._files.get(name)
            if bar is not None:
                bar.update(nbytes)

    def end_file(self, name: str, ok: bool) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._totals.pop(name, None)
            bar = self._files.pop(name, None)
            if bar is not None:
                bar.close()

    def close(self) -> None:
        with self._lock:
            for bar in self._files.values():
                bar.close()
            self._files.clear()
            if self._run is not None:
                self._run.close()
                self._run = None

    def __enter__(self) -> ProgressRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_progress(total_bytes: int, *, enabled: bool | None = None) -> ProgressRun:
    """Progress bars for a run of `total_bytes`; by default only when stderr is a terminal."""
    if enabled is None:
        enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
    return ProgressRun(total_bytes, enabled=enabled)
