"""A bandwidth cap shared by every worker thread (and every concurrent transfer) of one process.

A token bucket in "theoretical arrival time" form: each acquire(n) books n bytes on a timeline
that advances at `rate` bytes/s and sleeps until its slot, allowing a small burst so a run is not
throttled below the cap by scheduling jitter.
"""

from __future__ import annotations

import threading
import time

BURST_SECONDS = 0.2  # lets a thread that woke late catch up, without a visible spike


class RateLimiter:
    def __init__(self, rate: int, *, burst_seconds: float = BURST_SECONDS) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._burst = burst_seconds
        self._tat = time.monotonic()  # when all bytes booked so far will have gone out
        self._lock = threading.Lock()

    def acquire(self, nbytes: int) -> None:
        """Block until `nbytes` more may be sent or received without exceeding the cap."""
        if nbytes <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tat = max(self._tat, now) + nbytes / self.rate
            wait = self._tat - now - self._burst
        if wait > 0:
            time.sleep(wait)

    def chunk_size(self) -> int:
        """A read size that keeps the pacing smooth (about 1/16 s of traffic, 16 KiB–1 MiB)."""
        return max(16 * 1024, min(1024 * 1024, self.rate // 16))


_shared: dict[int, RateLimiter] = {}
_shared_lock = threading.Lock()


def limiter_for(max_rate: int | None) -> RateLimiter | None:
    """The process-wide limiter for this cap, so concurrent transfers share one budget."""
    if not max_rate:
        return None
    with _shared_lock:
        limiter = _shared.get(max_rate)
        if limiter is None:
            limiter = _shared[max_rate] = RateLimiter(max_rate)
        return limiter
