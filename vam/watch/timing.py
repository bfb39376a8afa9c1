"""The watch's sense of time: durations from the command line, the backoff after a failure, and
the sign that the computer slept (the wall clock jumped ahead of the steady clock between two
looks, as it does when a laptop lid is opened again)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from vam.core.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_seconds(text: str | float | int, *, where: str, minimum: float = 0.0) -> float:
    """'30', '30s', '1.5s', '500ms', '2m', '1h' -> seconds (at least `minimum`)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise UsageError(
                f"{where}: cannot read {text!r} as a duration; write e.g. 30s, 2m or 1h"
            )
        seconds = float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if seconds < minimum:
        raise UsageError(f"{where}: {text!r} is too short; use at least {minimum:g} s")
    return seconds


class Backoff:
    """After each failure in a row, wait twice as long before trying again (first .. longest)."""

    def __init__(self, first: float = 2.0, longest: float = 300.0) -> None:
        self.first = first
        self.longest = longest
        self.failures = 0
        self.retry_at = 0.0  # steady clock; 0: no wait

    def failed(self, now: float) -> float:
        """One more failure: the seconds to wait before the next try."""
        delay = min(self.longest, self.first * (2**self.failures))
        self.failures += 1
        self.retry_at = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.retry_at = 0.0

    def waiting(self, now: float) -> bool:
        return now < self.retry_at


class SleepDetector:
    """Whether the computer was away (asleep, or its clock was changed) since the last look.

    Two signs, since the OSes differ: the wall clock moved further than the steady one (macOS
    and Linux stop their steady clock while asleep), or an idle wait took far longer than it was
    asked to (Windows' steady clock runs on through sleep, but a sleeping process does not)."""

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        steady: Callable[[], float] = time.monotonic,
        tolerance: float = 60.0,
    ) -> None:
        self.wall = wall
        self.steady = steady
        self.tolerance = tolerance
        self._last = (wall(), steady())

    def slept(self, *, idle_for: float | None = None) -> float | None:
        """Seconds the computer seems to have been away since the last call, when beyond the
        tolerance (else None). `idle_for`: the whole span was one wait of that many seconds."""
        wall, steady = self.wall(), self.steady()
        last_wall, last_steady = self._last
        self._last = (wall, steady)
        away = abs((wall - last_wall) - (steady - last_steady))
        if idle_for is not None:
            away = max(away, (steady - last_steady) - idle_for, (wall - last_wall) - idle_for)
        return away if away > self.tolerance else None
