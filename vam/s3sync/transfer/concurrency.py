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

An upload's parts on a long link are all or nothing (S3 keeps a part only once all of it
arrived), so a kill, Ctrl-C or a drop of the whole link loses every part in flight; on Jan's
20 Mb/s uplink 16 to 32 parts share 2.5 MB/s for a minute each. So there (`unit`: the part size)
the level is also bounded by the line, once S3 has confirmed parts: no more in flight than the
line carries in IN_FLIGHT_SECONDS, a power of two (whole waves stay whole), at least
MIN_IN_FLIGHT. The line's rate is not the bytes handed to the HTTP layer (socket buffers take a
part in a fraction of a second) but what confirmed parts imply: a part of n bytes that took d
seconds while on average a parts were in flight says the line carries a·n/d (a part begun
early in a staggered wave says a little more, one sent twice after a reset less). The median of
those in CONFIRM_SECONDS after the first confirmation (at least MIN_IN_FLIGHT of them) decides,
once. A level lowered by it is checked on the first part sent entirely after it: if that part
implies less than TRIAL_KEEP of the rate, the connections, not the line, were the limit (a very
lossy path), and the level goes back. The bound holds a transfer only while it is the one large
upload on its endpoint (two at once each see half the line; when one ends the other needs all
of it).

The level a transfer ends at is remembered for the process (per endpoint and direction), so the
next large file of the same run starts where the last one ended.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

from vam.s3sync.transfer import tuning

_remembered: dict[tuple[str, str], int] = {}
_remembered_lock = threading.Lock()
_bounded_now: dict[tuple[str, str], int] = {}  # bounded transfers under way, per key
_bounded_turns: dict[tuple[str, str], int] = {}  # how often that count changed, per key


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
        unit: int | None = None,
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
        # the bound by the line (module docstring): parts in flight integrated over time, so a
        # part's average company is known when S3 confirms it
        self._unit = unit
        self._bounded = unit is not None and key is not None
        self._area = 0.0
        self._area_at = clock()
        self._first_confirmed: float | None = None
        self._rates: list[float] = []  # what the first confirmed parts implied
        self._line_rate = 0.0  # their median
        self._bound_decided = False
        self._lowered: tuple[float, int, float] | None = None  # (when, level before, rate)
        self.bound_history: list[tuple[int, float]] = []  # (level set, line rate), for tests
        self._unit_counted = self._bounded  # in _bounded_now until finish()
        if self._bounded and key is not None:
            with _remembered_lock:
                _bounded_now[key] = _bounded_now.get(key, 0) + 1
                _bounded_turns[key] = _bounded_turns.get(key, 0) + 1

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

    def part_started(self) -> tuple[float, float, int]:
        """A token for `part_confirmed`: when the part began, the in-flight area then, and which
        turn of the bounded transfers on this endpoint it began in."""
        with self._lock:
            now = self._clock()
            self._integrate(now)
            return now, self._area, self._turn()

    def part_confirmed(self, token: tuple[float, float, int], nbytes: int) -> None:
        """S3 confirmed a part of `nbytes` begun at `token`: on a bounded transfer, what it
        implies about the line may lower the level, or undo a lowering that cost rate."""
        if not self._bounded:
            return
        with self._lock:
            now = self._clock()
            self._integrate(now)
            began, area, turn = token
            took = now - began
            if took <= 0 or not self._alone() or turn != self._turn():
                return  # it shared the line with another large upload for some of its time
            company = (self._area - area) / took  # parts in flight on average, itself included
            rate = company * nbytes / took
            if self._lowered is not None:
                self._check_lowered(self._lowered, began, company, rate)
                return
            if self._bound_decided:
                return
            if self._first_confirmed is None:
                self._first_confirmed = now
            self._rates.append(rate)
            early = now - self._first_confirmed < tuning.CONFIRM_SECONDS
            if (early and len(self._rates) < tuning.MIN_IN_FLIGHT) or not self._settled:
                return
            self._bound_decided = True
            self._line_rate = statistics.median(self._rates)
            bound = self._bound(self._line_rate)
            self.bound_history.append((min(bound, self._level), self._line_rate))
            if bound < self._level:
                self._lowered = (now, self._level, self._line_rate)
                self._level = bound
                self._changed.notify_all()

    def _check_lowered(
        self, lowered: tuple[float, int, float], began: float, company: float, rate: float
    ) -> None:
        when, before, line = lowered
        if began < when or company > self._level + 0.5:
            return  # begun before the lowering, or shared the line with its parts: no measure
        self._lowered = None  # decided, either way
        self.bound_history.append((self._level, rate))
        if rate < line * tuning.TRIAL_KEEP:
            # fewer parts carried less: each connection is the limit, not the line
            self._level = before
            self._bounded = False
            self._changed.notify_all()

    def _bound(self, rate: float) -> int:
        fit = rate * tuning.IN_FLIGHT_SECONDS / (self._unit or 1)
        level = tuning.MIN_IN_FLIGHT
        while level * 2 <= fit:
            level *= 2
        return level

    def _turn(self) -> int:
        with _remembered_lock:
            return _bounded_turns.get(self.key, 0) if self.key else 0

    def _alone(self) -> bool:
        with _remembered_lock:
            return _bounded_now.get(self.key, 0) <= 1 if self.key else False

    def _integrate(self, now: float) -> None:
        self._area += self._active * max(0.0, now - self._area_at)
        self._area_at = max(self._area_at, now)

    def slot(self, stop: Callable[[], bool] | None = None) -> _Slot:
        """`with control.slot():` waits until fewer than `level` workers are inside (or `stop()`
        turns true: the worker then goes in and finds the transfer stopping)."""
        return _Slot(self, stop)

    def finish(self) -> None:
        """Remember the level reached, for the next transfer on the same endpoint."""
        if self.key is None:
            return
        with self._lock:
            level = self._level if self._lowered is None else self._lowered[1]
            counted, self._unit_counted = self._unit_counted, False
        with _remembered_lock:
            _remembered[self.key] = level
            if counted:
                _bounded_now[self.key] = max(0, _bounded_now.get(self.key, 0) - 1)
                _bounded_turns[self.key] = _bounded_turns.get(self.key, 0) + 1

    def _enter(self, stop: Callable[[], bool] | None) -> None:
        with self._changed:
            while self._active >= self._level and not (stop and stop()):
                self._changed.wait(0.1)
            self._integrate(self._clock())
            self._active += 1

    def _leave(self) -> None:
        with self._changed:
            self._integrate(self._clock())
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
        _bounded_now.clear()
        _bounded_turns.clear()
