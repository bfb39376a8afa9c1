"""When a file is ready to upload (SPEC §11): its size and mtime unchanged for the settle time,
measured on this computer's own steady clock (so a share whose clock differs, or a laptop that
slept, cannot make a file look older than it is), and not held open by another program
(busy.py). A render still being written is never sent half-done.

A version vam already knows (its stamp is the one in the project's checksum cache: vam read,
sent or downloaded exactly this) needs no wait: nothing has touched it since.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from vam.core.files import LocalFile, Stamp
from vam.core.units import format_size
from vam.watch.busy import held_open


@dataclass
class _Seen:
    stamp: Stamp
    since: float  # steady clock when this version was first seen
    known: bool  # a version vam read or wrote itself: settled from the start


class Settler:
    """What vam has seen of each file of one s3-staging/ folder, by its name on disk."""

    def __init__(
        self,
        settle: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        busy: Callable[[Path], str | None] = held_open,
        known: Callable[[str, Stamp], bool] | None = None,
    ) -> None:
        self.settle = settle
        self.clock = clock
        self.busy = busy
        self.known = known  # is this the version vam itself last read, sent or wrote?
        self._seen: dict[str, _Seen] = {}

    def observe(self, rel: str, stamp: Stamp) -> None:
        """The file `rel` looks like `stamp` now; a new look starts its quiet time again."""
        seen = self._seen.get(rel)
        if seen is None or seen.stamp != stamp:
            known = self.known is not None and self.known(rel, stamp)
            self._seen[rel] = _Seen(stamp, self.clock(), known)

    def keep_only(self, rels: Iterable[str]) -> None:
        """Forget files that are gone."""
        keep = set(rels)
        for rel in [r for r in self._seen if r not in keep]:
            del self._seen[rel]

    def quiet_for(self, rel: str) -> float:
        seen = self._seen.get(rel)
        return self.clock() - seen.since if seen is not None else 0.0

    def not_ready(self, f: LocalFile) -> str | None:
        """Why the file must wait (None: upload it): a version first seen less than `settle`
        seconds ago, or one another program holds open (Windows)."""
        self.observe(f.rel, f.stamp)
        seen = self._seen[f.rel]
        quiet = self.clock() - seen.since
        if not seen.known and quiet < self.settle:
            return (
                f"new or changed ({format_size(f.stamp.size)}): it goes up once it has been "
                f"unchanged for {self.settle:g} s"
            )
        return self.busy(f.path)

    def due(self, rels: Iterable[str]) -> float | None:
        """Steady-clock time when the first of these files has been still long enough (maybe
        already past), None when none of them waits for its quiet time."""
        seen = [self._seen.get(rel) for rel in rels]
        times = [s.since + self.settle for s in seen if s is not None and not s.known]
        return min(times) if times else None
