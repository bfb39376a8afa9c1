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
arrived), so a drop of the link, a kill or Ctrl-C loses every part in flight. There the level is
also bounded by the line: no more parts in flight than the line carries in IN_FLIGHT_SECONDS at
the best rate measured (`unit`: the part size), a power of two so whole waves stay whole. On Jan's
uplink (20 Mb/s) that is 4 parts rather than 16 or 32, each done in seconds rather than a minute.
A level lowered to that bound is on trial: once only its parts are in flight it must carry
TRIAL_KEEP of the best rate, or the connections, not the line, were the limit (a very lossy
path): then the level goes back up and the bound no longer applies. The bound is the line's: it
holds a transfer only while it is the one large upload on that endpoint.

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
# bounded transfers under way, per endpoint and direction: the bound is the line's, so it holds
# a transfer only while it is the one large upload on the line (two at once each measure half
# the line; when one ends the other needs all of it)
_bounded_now: dict[tuple[str, str], int] = {}


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
        self._unit = unit  # bytes a worker loses when the link drops (a part), or None: no bound
        # until a trial shows the connections are the limit
        self._bounded = unit is not None and key is not None
        self._counted = self._bounded  # in _bounded_now until finish()
        if self._bounded and key is not None:
            with _remembered_lock:
                _bounded_now[key] = _bounded_now.get(key, 0) + 1
        self._trial_from: int | None = None  # a level lowered to the bound: the one before
        # while the parts from before a trial drain: their rate, long after their first bytes
        # filled socket buffers, is the line's (the first windows' can flatter it); the trial
        # is measured against it
        self._drain_start: float | None = None
        self._drain_bytes = 0
        self._reference: float | None = None
        # once settled within the bound, the rate over one RECHECK_SECONDS window (the first
        # windows' may be flattered by filling socket buffers): a bound below the level → trial
        self._rechecked = False
        self._long_start: float | None = None
        self._long_bytes = 0
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
                if self._bounded and not self._rechecked and self._alone():
                    self._recheck(nbytes)
                return
            now = self._clock()
            if self._trial_from is not None and self._reference is None:
                if self._drained(now, nbytes):
                    return
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
            if self._trial_from is not None:
                self._end_trial(rate)
            elif rate >= self._best_rate * tuning.GROWTH and self._level < self.ceiling:
                self._best_rate, self._best_level = rate, self._level
                if not (self._bounded and self._alone()) or self._level * 2 <= self._bound(rate):
                    self._level = min(self.ceiling, self._level * 2)
                elif not self._try_bound():
                    self._settled = True
            else:
                # no real gain: the connections added bring nothing; back to the level before
                # (at the ceiling and still growing: stay), for good
                if rate < self._best_rate * tuning.GROWTH:
                    self._level = self._best_level
                if not self._try_bound():
                    self._settled = True
            self._window_start = None
            self._window_bytes = 0
            self._changed.notify_all()

    def _bound(self, rate: float) -> int:
        """The most units in flight the line carries in IN_FLIGHT_SECONDS at `rate`: a power of
        two, at least MIN_IN_FLIGHT."""
        fit = rate * tuning.IN_FLIGHT_SECONDS / (self._unit or 1)
        level = tuning.MIN_IN_FLIGHT
        while level * 2 <= fit:
            level *= 2
        return level

    def _try_bound(self) -> bool:
        """Lower the level to the bound at the best rate, on trial; False: already within it."""
        if not (self._bounded and self._alone()):
            return False
        bound = self._bound(self._best_rate)
        if bound >= self._level:
            return False
        self._trial_from, self._level = self._level, bound
        return True

    def _alone(self) -> bool:
        with _remembered_lock:
            return _bounded_now.get(self.key, 0) <= 1 if self.key else False

    def _recheck(self, nbytes: int) -> None:
        now = self._clock()
        if self._long_start is None:
            self._long_start = now
            return
        self._long_bytes += nbytes
        elapsed = now - self._long_start
        if elapsed < tuning.RECHECK_SECONDS:
            return
        self._rechecked = True
        rate = self._long_bytes / elapsed
        self.history.append((self._level, rate))
        bound = self._bound(rate)
        if bound < self._level:
            self._best_rate, self._best_level = rate, self._level
            self._trial_from, self._level = self._level, bound
            self._settled = self._warm = False
            self._window_start = None
            self._window_bytes = 0
            self._changed.notify_all()

    def _drained(self, now: float, nbytes: int) -> bool:
        """On trial, before the parts from before it are done: measure their rate and return
        True (nothing to measure at the trial's level yet). Once they are, the trial's level
        is set by the rate measured meanwhile, and measured from then on (False)."""
        if self._drain_start is None:
            self._drain_start = now
        else:
            self._drain_bytes += nbytes
        elapsed = now - self._drain_start
        if self._active <= self._level and elapsed >= self._full_window:
            # the line's rate, measured while they drained, may say fewer: then drain to that
            self._level = min(self._level, self._bound(self._drain_bytes / elapsed))
        if self._active > self._level:
            self._window_start = None
            return True
        self._reference = self._drain_bytes / elapsed if elapsed >= self._full_window else None
        self._reference = self._reference or self._best_rate
        return False

    def _end_trial(self, rate: float) -> None:
        came_from, self._trial_from = self._trial_from or self._level, None
        if rate >= (self._reference or self._best_rate) * tuning.TRIAL_KEEP:
            # the line is as full with fewer parts in flight: keep it, for good
            self._settled = self._rechecked = True
            return
        # fewer connections carried less: each one is the limit, not the line. Back up, with
        # no bound from now on, and on to the doubling the bound held back if it was not tried
        self._bounded = False
        above = min(self.ceiling, came_from * 2)
        if above > came_from and above not in (level for level, _ in self.history):
            self._best_level, self._level = came_from, above
        else:
            self._level = came_from
            self._settled = True

    def slot(self, stop: Callable[[], bool] | None = None) -> _Slot:
        """`with control.slot():` waits until fewer than `level` workers are inside (or `stop()`
        turns true: the worker then goes in and finds the transfer stopping)."""
        return _Slot(self, stop)

    def finish(self) -> None:
        """Remember the level reached, for the next transfer on the same endpoint."""
        if self.key is None:
            return
        with self._lock:
            level = self._trial_from or self._level  # a trial not yet decided: the level before
            counted, self._counted = self._counted, False
        with _remembered_lock:
            _remembered[self.key] = level
            if counted:
                _bounded_now[self.key] = max(0, _bounded_now.get(self.key, 0) - 1)

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
        _bounded_now.clear()
