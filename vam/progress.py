"""Transfer progress, injected into the transfer code (stand-in of the engine's module; same API).

tqdm is imported only when a bar is actually shown.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Protocol

LARGE_FILE = 64 * 1024 * 1024


class Progress(Protocol):
    def start_file(self, name: str, total: int) -> None: ...
    def advance(self, name: str, nbytes: int) -> None: ...
    def end_file(self, name: str, ok: bool) -> None: ...


class _NoProgress:
    def start_file(self, name: str, total: int) -> None:
        pass

    def advance(self, name: str, nbytes: int) -> None:
        pass

    def end_file(self, name: str, ok: bool) -> None:
        pass


NO_PROGRESS: Progress = _NoProgress()


class ProgressRun:
    """One bar for the whole run, one more per large file; a no-op when disabled."""

    def __init__(self, total_bytes: int, enabled: bool):
        self.enabled = enabled
        self._lock = threading.Lock()
        self._bars: dict[str, Any] = {}
        self._total: Any = None
        if enabled:
            from tqdm import tqdm

            self._tqdm = tqdm
            self._total = tqdm(
                total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024, desc="total",
                file=sys.stderr, leave=True,
            )  # fmt: skip

    def __enter__(self) -> ProgressRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._bars.clear()
            if self._total is not None:
                self._total.close()
                self._total = None

    def start_file(self, name: str, total: int) -> None:
        if not self.enabled or total < LARGE_FILE:
            return
        with self._lock:
            self._bars[name] = self._tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name[-40:],
                file=sys.stderr, leave=False,
            )  # fmt: skip

    def advance(self, name: str, nbytes: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._total is not None:
                self._total.update(nbytes)
            bar = self._bars.get(name)
            if bar is not None:
                bar.update(nbytes)

    def end_file(self, name: str, ok: bool) -> None:
        with self._lock:
            bar = self._bars.pop(name, None)
            if bar is not None:
                bar.close()


def make_progress(total_bytes: int, *, enabled: bool | None = None) -> ProgressRun:
    if enabled is None:
        enabled = sys.stderr.isatty()
    return ProgressRun(total_bytes, enabled)
