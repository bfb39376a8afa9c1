"""How many parts, ranges or files go at once: start with a few, add while the total throughput
grows, never above a ceiling.

On a long lossy link (150 ms round trip, some loss) one TCP connection carries about 1 MB/s
whatever the line's capacity (Mathis et al.: rate ≈ MSS/RTT × 1.22/√loss), so a 100 Mb/s line
is filled only by a dozen connections or more; on loopback or a LAN the server is the limit and
more connections only cost memory and, after a kill, the bytes of more parts in flight. So the
level is found by measuring: at each level, after SETTLE seconds for the connections just added
to start sending and one WINDOW for their socket buffers to fill, the bytes moved in the next
WINDOW are compared with the best rate seen so far; while a doubling of the level gave GROWTH
more, it doubles again; once it does not, the level goes back to the one before, for good.
On a long link (roundtrip.py) the start is higher: one connection there brings ~1 MB/s, so a few
are never enough, and the first seconds are the ones a ramp from 4 would lose.

The level a transfer ends at is remembered for the process (per endpoint and direction), so the
next large file of the same run starts where the last one ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vam.s3sync.transfer import tuning

_remembered: dict[tuple[str, str], int] = {}
_remembered_lock = threading.Lock()


class Parallelism:
    """The level of one transfer (or of one batch of files), fed with the bytes it moves."""

    def __init__(
        self,
        start: int,
        ceiling: int,
        *,
        key: tuple[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        short: bool = False,
    ) -> None:
        self.ceiling = max(1, ceiling)
        # on loopback or a LAN (short=True) a connection is up in a millisecond and a window
        # of a few hundred MB says enough: shorter steps, so a level that helps nobody costs
        # a fraction of a second of a transfer that may last only a few
        scale = tuning.SHORT_LINK_SCALE if short else 1.0
        self._settle = tuning.SETTLE_SECONDS * scale
        self._window = tuning.WINDOW_SECONDS * scale
        # …but a short window that moved little (a short link whose connections are capped)
        # is a handful of bursts into socket buffers: it runs on to the full window
        self._full_window = tuning.WINDOW_SECONDS
        self.key = key
        with _remembered_lock:
            known = _remembered.get(key) if key else None
        self._level = max(1, min(self.ceiling, max(start, known or 0)))
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._active = 0
        self._settled = self._level >= self.ceiling
        self._window_start: float | None = None  # set once bytes flow at the current level
        self._window_bytes = 0
        self._best_rate = 0.0
        self._best_level = self._level
        self._warm = False  # the current level's first window is over
        self.history: list[tuple[int, float]] = []  # (level, measured rate), for tests and docs

    @property
    def level(self) -> int:
        with self._lock:
            return self._level

    def note(self, nbytes: int) -> None:
        """Bytes moved by any worker; decides, when a window is over, whether to add more."""
        if nbytes <= 0:
            return
        with self._lock:
            if self._settled:
                return
            now = self._clock()
            if self._window_start is None:
                self._window_start = now + self._settle
                return
            if now < self._window_start:
                return
            self._window_bytes += nbytes
            elapsed = now - self._window_start
            if elapsed < self._window:
                return
            if elapsed < self._full_window and self._window_bytes < tuning.WINDOW_BYTES:
                return
            rate = self._window_bytes / elapsed
            worse = self._best_rate and rate < self._best_rate
            if not self._warm and not (worse and self._window_bytes >= tuning.WINDOW_BYTES):
                # the first window at a level: the connections just added pour their first
                # bytes into socket buffers faster than the link takes them; measure the next
                # (unless it moved plenty and is already slower than the level before: filling
                # buffers only ever flatters a level, so that one is a loss; give it up at once.
                # A window that moved little may only have missed connections still starting)
                self._warm = True
                self._window_start = now
                self._window_bytes = 0
                return
            self._warm = False
            self.history.append((self._level, rate))
            if rate >= self._best_rate * tuning.GROWTH and self._level < self.ceiling:
                self._best_rate, self._best_level = rate, self._level
                self._level = min(self.ceiling, self._level * 2)
            else:
                # no real gain: the connections added bring nothing; back to the level before
                # (at the ceiling and still growing: stay), for good
                if rate < self._best_rate * tuning.GROWTH:
                    self._level = self._best_level
                self._settled = True
            self._window_start = None
            self._window_bytes = 0
            self._changed.notify_all()

    def slot(self, stop: Callable[[], bool] | None = None) -> _Slot:
        """`with control.slot():` waits until fewer than `level` workers are inside (or `stop()`
        turns true: the worker then goes in and finds the transfer stopping)."""
        return _Slot(self, stop)

    def finish(self) -> None:
        """Remember the level reached, for the next transfer on the same endpoint."""
        if self.key is None:
            return
        with self._lock:
            level = self._level
        with _remembered_lock:
            _remembered[self.key] = level

    def _enter(self, stop: Callable[[], bool] | None) -> None:
        with self._changed:
            while self._active >= self._level and not (stop and stop()):
                self._changed.wait(0.1)
            self._active += 1

    def _leave(self) -> None:
        with self._changed:
            self._active -= 1
            self._changed.notify_all()


class _Slot:
    def __init__(self, control: Parallelism, stop: Callable[[], bool] | None = None) -> None:
        self.control = control
        self.stop = stop

    def __enter__(self) -> None:
        self.control._enter(self.stop)

    def __exit__(self, *exc: object) -> None:
        self.control._leave()


def endpoint_key(s3: object, direction: str) -> tuple[str, str]:
    """(endpoint URL, "up" / "down" / "files"): what a remembered level belongs to."""
    meta = getattr(s3, "meta", None)
    return (str(getattr(meta, "endpoint_url", "")), direction)


def forget() -> None:
    """Drop every remembered level (tests that compare two transfers start from scratch)."""
    with _remembered_lock:
        _remembered.clear()
