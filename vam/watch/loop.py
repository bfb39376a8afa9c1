"""The watch itself: every project's two sides looked at when something says so, and synced.

What makes a look: a file event under a staging folder (localevents.py), a file whose quiet time
has ended, the periodic rescan of the folders (the safety net for events that never come), the
poll of each project's S3 index every `interval`, and now and then a full listing (objects put
there by other tools do not touch vam's index). The loop waits in between, woken early by file
events; a computer that slept is noticed (timing.SleepDetector), and then both sides are looked
at again at once, with a fresh S3 client (the old connections died with the sleep).

`once()` is one cycle for cron or Task Scheduler: it looks, waits at most the settle time for
files that are still being written, then runs the upload and the download once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from vam.watch import events as ev
from vam.watch.events import Event, Status
from vam.watch.localevents import FileEvents
from vam.watch.project import ProjectWatch
from vam.watch.timing import SleepDetector
from vam.watch.transfers import Transfers

# a full listing of each project this often, whatever the index says: uploads by other tools
# (the S3 console, aws s3 cp) do not touch vam's index
FULL_LISTING_EVERY = 600.0


class S3Client:
    """The S3 client every project uses, made again after the computer slept."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.current = make()

    def __call__(self) -> Any:
        return self.current

    def renew(self) -> None:
        self.current = self.make()


class Watch:
    def __init__(
        self,
        projects: list[ProjectWatch],
        *,
        emit: Callable[[Event], None],
        interval: float = 30.0,
        rescan: float = 60.0,
        file_events: FileEvents | None = None,
        wake: threading.Event | None = None,
        transfers: Transfers | None = None,
        client: S3Client | None = None,
        discover: Callable[[], list[ProjectWatch]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep_detector: SleepDetector | None = None,
        full_listing_every: float = FULL_LISTING_EVERY,
    ) -> None:
        self.projects = list(projects)
        self.emit = emit
        self.interval = interval
        self.rescan = rescan
        self.wake = wake or threading.Event()
        self.file_events = file_events
        self.transfers = transfers or Transfers()
        self.client = client
        self.discover = discover
        self.clock = clock
        self.sleep = sleep_detector or SleepDetector(steady=clock)
        self.full_listing_every = full_listing_every
        self.stop = threading.Event()  # set by another thread (tests): the loop ends soon
        self.cycles = 0  # loops run (the soak test counts them)
        self._next_poll = 0.0
        self._next_rescan = 0.0
        self._next_listing = clock() + full_listing_every

    # ---------------------------------------------------------------- what the line shows

    def status(self) -> Status:
        nxt = self._next_poll - self.clock()
        return Status(
            tuple(p.status() for p in self.projects),
            self.transfers.moving(),
            next_look=max(0.0, nxt),
        )

    # ---------------------------------------------------------------- one cycle (cron)

    def once(self, settle: float) -> None:
        """Look, wait (at most `settle` seconds) for files still being written, sync once."""
        for p in self.projects:
            p.look_here(announce=False)
        deadline = self.clock() + settle
        while not self.stop.is_set():
            due = [d for p in self.projects if (d := p.due_here()) is not None]
            due = [d for d in due if d <= deadline]
            if not due or self.clock() >= deadline:
                break
            self.stop.wait(max(0.0, min(due) - self.clock()) + 0.05)
            for p in self.projects:
                p.look_here(announce=False)
        for p in self.projects:
            p.sync()
            p.announce(p.waiting)  # what is left for the next run
        self.cycles += 1

    # ---------------------------------------------------------------- the watch

    def run(self) -> None:
        """Until `stop` is set (or Ctrl-C / SIGTERM raise in this thread)."""
        try:
            away: float | None = None
            while not self.stop.is_set():
                self._step(away)
                busy = self.sleep.slept()  # the clocks apart during the cycle's work
                asleep = self.sleep.slept(idle_for=self._wait())  # or during the idle wait
                away = max((a for a in (busy, asleep) if a is not None), default=None)
        finally:
            if self.file_events is not None:
                self.file_events.close()

    def halt(self) -> None:
        """Stop the loop from another thread (it ends within a moment)."""
        self.stop.set()
        self.wake.set()

    def _step(self, away: float | None) -> None:
        if away is not None:
            self._woke(away)
        now = self.clock()
        rescan = now >= self._next_rescan
        if rescan:
            self._next_rescan = now + self.rescan
            self._discover()
            if self.file_events is not None:
                self.file_events.watch(p.target.staging for p in self.projects)
        poll = now >= self._next_poll
        if poll:
            self._next_poll = now + self.interval
        listing = now >= self._next_listing
        if listing:
            self._next_listing = now + self.full_listing_every
        changed = self.file_events.take() if self.file_events is not None else set()
        self.projects = [p for p in self.projects if not p.gone]
        if not self.projects and self.discover is None:
            self.emit(Event(ev.STOPPED, "nothing left to watch"))
            self.stop.set()
            return
        for p in self.projects:
            due = p.due_here()
            if rescan or p.target.staging in changed or (due is not None and due <= now):
                p.look_here()
            if listing:
                p.need_down = True
            if poll:
                p.look_there()
            p.sync()
        self.cycles += 1

    def _wait(self) -> float:
        """Sleep until the next thing is due or a file event wakes the loop; how long it was
        asked to wait."""
        now = self.clock()
        times = [self._next_poll, self._next_rescan, self._next_listing]
        for p in self.projects:
            due = p.due_here()
            if due is not None:
                times.append(due)
            if p.offline is not None:
                times.append(p.backoff.retry_at)
        timeout = max(0.0, min(times) - now)
        if self.stop.is_set():
            return 0.0
        self.wake.wait(timeout)
        self.wake.clear()
        return timeout

    def _woke(self, away: float) -> None:
        minutes = away / 60
        self.emit(
            Event(
                ev.WOKE,
                f"the computer was away for about {minutes:.0f} min (asleep, or its clock "
                "changed): looking at both sides again",
                details={"away_seconds": round(away)},
            )
        )
        if self.client is not None:
            self.client.renew()
        for p in self.projects:
            p.woke()
        self._next_poll = self._next_rescan = 0.0

    def _discover(self) -> None:
        if self.discover is None:
            return
        known = {(p.target.brand_key, p.target.project_id) for p in self.projects}
        for p in self.discover():
            if (p.target.brand_key, p.target.project_id) not in known:
                self.projects.append(p)
