"""One project under watch: what it has seen of its s3-staging/ folder and of the project's S3
index, and the cycle that brings both sides together through the same pipeline as `s3.up` and
`s3.down` (vam/s3sync/up.py, down.py): nothing is overwritten silently, conflicts are reported,
never resolved, and a file still being written is held back (settle.py) in both directions.

- look_here: a walk that only stats the files (nothing read): which changed since the last cycle,
  which have settled, which are still waiting.
- look_there: the cheap question to S3: has the project's index changed (remoteindex.index_changed,
  a HEAD with If-None-Match)? Only then a listing, by the download.
- sync: the upload of what has settled, then the download, each only when its side changed.
  A failure to reach S3 backs off (2 s, 4 s, … 5 min) and the cycle runs again from its start;
  the engine resumes an interrupted transfer from its parts or its bytes on disk.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vam.aws.client import explain
from vam.core.errors import VamError
from vam.core.files import FileRules, LocalFile, Stamp, walk
from vam.s3sync.down import ProjectGone, download
from vam.s3sync.fingerprint import CACHE_FILE, ChecksumCache
from vam.s3sync.keys import nfc
from vam.s3sync.model import FileState
from vam.s3sync.remoteindex import index_changed
from vam.s3sync.report import SyncReport
from vam.s3sync.target import Target
from vam.s3sync.up import upload
from vam.watch import events as ev
from vam.watch.busy import HELD_REASON, held_open
from vam.watch.events import Event, ProjectStatus
from vam.watch.findings import Findings, Notify
from vam.watch.settle import Settler
from vam.watch.timing import Backoff
from vam.watch.transfers import Transfers


@dataclass(frozen=True)
class Options:
    user: str
    rules: FileRules
    settle: float = 10.0
    max_rate: int | None = None
    dry_run: bool = False
    first_backoff: float = 2.0
    longest_backoff: float = 300.0


def vam_knows(state_dir: Path) -> Callable[[str, Stamp], bool]:
    """Whether a version of a file is exactly the one vam last read, sent or downloaded (its
    stamp is in the checksum cache): nothing has written to it since, so it needs no settle
    time. Only the stamp counts here, not whether the checksum may be trusted."""

    path = state_dir / CACHE_FILE
    read: dict[str, Any] = {"as_of": None, "files": {}}

    def known(rel: str, stamp: Stamp) -> bool:
        try:
            st = os.stat(path)
        except OSError:
            return False
        as_of = (st.st_mtime_ns, st.st_size, st.st_ino)
        if as_of != read["as_of"]:  # read the cache again only when it was written again
            read["as_of"], read["files"] = as_of, ChecksumCache(state_dir).files
        entry = read["files"].get(nfc(rel))
        if not entry:
            return False
        fields = ("size", "mtime_ns", "ctime_ns", "ino", "dev")
        try:
            return Stamp(*(int(entry[k]) for k in fields)) == stamp
        except (KeyError, TypeError, ValueError):
            return False

    return known


def failure_line(exc: BaseException) -> tuple[str, bool] | None:
    """A failure the watch waits out, in one line, and whether it is S3's (out of reach, busy,
    refusing) rather than this computer's (a full disk); None for one it must not hide (a bug)."""
    aws = explain(exc)
    if aws is not None:
        return str(aws), True
    if isinstance(exc, VamError):
        return str(exc), False
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}", False
    return None


class ProjectWatch:
    def __init__(
        self,
        target: Target,
        client: Callable[[], Any],
        options: Options,
        emit: Callable[[Event], None],
        *,
        transfers: Transfers | None = None,
        notify: Notify | None = None,
        clock: Callable[[], float] = time.monotonic,
        busy: Callable[[Path], str | None] = held_open,
    ) -> None:
        self.target = target
        self.client = client  # the S3 client of the moment (a new one after the computer slept)
        self.options = options
        self._emit = emit
        self.transfers = transfers or Transfers()
        self.clock = clock
        self.settler = Settler(
            options.settle, clock=clock, busy=busy, known=vam_knows(target.state_dir)
        )
        self.findings = Findings(
            target, self.emit, None if options.dry_run else notify, remember=not options.dry_run
        )
        self.backoff = Backoff(options.first_backoff, options.longest_backoff)
        # the stamp of each local file as the last cycle left it settled (name on disk -> stamp)
        self.clean: dict[str, Stamp] = {}
        self.files: dict[str, LocalFile] = {}  # the last look here
        self.need_up = True  # the first cycle brings both sides together in full
        self.need_down = True
        self.index_etag: str | None = None
        self.waiting: dict[str, str] = {}  # files held back, and why
        self._next_look: float | None = None  # when a waiting file is due another look
        self.held: set[str] = set()  # files the running cycle held back
        self.reports: list[SyncReport] = []  # every run of this watch's last cycle
        self.synced = 0
        self.last_sync: datetime | None = None
        self.offline: str | None = None  # why the last try failed (S3's fault or this computer's)
        self.offline_s3 = True
        self.folder_was_there = target.folder.is_dir()
        self.gone = False  # the project folder went away (archived, moved): no longer watched

    # ---------------------------------------------------------------- events

    def emit(self, kind: str, text: str, **fields: Any) -> None:
        known = {k: fields.pop(k) for k in ("file", "size") if k in fields}
        self._emit(
            Event(
                kind,
                text,
                brand=self.target.brand_key,
                project=self.target.project_id,
                details=fields,
                **known,
            )
        )

    def status(self) -> ProjectStatus:
        waiting = self.backoff.retry_at - self.clock() if self.offline else None
        return ProjectStatus(
            self.target.project_id,
            synced=self.synced,
            pending=len(self.waiting),
            conflicts=len(self.findings.conflicts),
            last_sync=self.last_sync,
            offline=self.offline,
            offline_s3=self.offline_s3,
            retry_in=max(0.0, waiting) if waiting is not None else None,
        )

    # ---------------------------------------------------------------- this computer

    def look_here(self, *, announce: bool = True) -> None:
        """Stat every file of s3-staging/ (nothing is read): what changed since the last cycle,
        and of that what has settled (then the upload is due) and what still waits (said once,
        when `announce`)."""
        if self.folder_was_there and not self.target.folder.is_dir():
            self._went_away()
            return
        files = {f.rel: f for f in walk(self.target.staging, self.options.rules)}
        for rel, f in files.items():
            self.settler.observe(rel, f.stamp)
        self.settler.keep_only(files)
        self.files = files
        changed = [rel for rel, f in files.items() if self.clean.get(rel) != f.stamp]
        gone = [rel for rel in self.clean if rel not in files]
        waiting = {}
        for rel in changed:
            why = self.settler.not_ready(files[rel])
            if why is not None:
                waiting[rel] = why
        if announce:  # a file newly waiting, or now waiting for another program to let go
            self.announce(
                {
                    rel: why
                    for rel, why in waiting.items()
                    if rel not in self.waiting or (why == HELD_REASON != self.waiting[rel])
                }
            )
        self.waiting = waiting
        self._plan_next_look()
        if gone or len(changed) > len(waiting):
            self.need_up = True

    def _went_away(self) -> None:
        """The project folder is gone (ssd.archive moved it, or a person did): the watch must
        not bring it back with the next download, so it lets the project go."""
        if not self.gone:
            self.gone = True
            self.emit(
                ev.NOTICE,
                f"! {self.target.folder} is gone (archived or moved?): no longer watching "
                f"{self.target.project_id}; nothing is downloaded into it",
            )

    def announce(self, waiting: dict[str, str]) -> None:
        for rel, why in waiting.items():
            f = self.files.get(rel)
            self.emit(ev.PENDING, f"… {rel}: {why}", file=rel, size=f.size if f else None)

    def due_here(self) -> float | None:
        """Steady-clock time of the next look this project needs by itself (a file's quiet time
        ends, or another look at a file another program holds open), or None."""
        return self._next_look

    def _plan_next_look(self) -> None:
        now = self.clock()
        due = self.settler.due(self.waiting)
        if due is not None and due > now:
            self._next_look = due
        elif self.waiting:  # still held though its quiet time is over: open elsewhere
            self._next_look = now + max(1.0, self.options.settle)
        else:
            self._next_look = None

    # ---------------------------------------------------------------- S3

    def look_there(self) -> None:
        """Has the project's index in S3 changed since the last look? One HEAD with
        If-None-Match (a 304 when not); only then is the download due."""
        if self.gone or self.backoff.waiting(self.clock()):
            return
        t = self.target
        try:
            look = index_changed(self.client(), t.bucket, t.prefix, self.index_etag)
        except Exception as exc:
            self._failed(exc)
            return
        self._reached()
        if look.changed:
            self.need_down = True
        self.index_etag = look.etag

    def sync(self) -> None:
        """The upload of what has settled here, then the download of what changed in S3; each
        only when its side changed, and not while backing off after a failure."""
        self.reports = []
        if self.gone or self.backoff.waiting(self.clock()):
            return
        if self.folder_was_there and not self.target.folder.is_dir():
            self._went_away()
            return
        try:
            if self.need_up:
                if self.target.staging.is_dir():
                    self._run("up")
                else:
                    self.need_up = False  # nothing here to upload
            if self.need_down:
                self._run("down")
        except ProjectGone:  # moved away during the cycle: the download stopped short of it
            self._went_away()
            return
        except Exception as exc:
            self._failed(exc)
            return
        self._reached()

    def _hold(self, f: LocalFile) -> str | None:
        why = self.settler.not_ready(f)
        if why is not None:
            self.held.add(f.rel)
        return why

    def _held_names(self) -> set[str]:
        """The files held back this run, by their NFC names (as reports name them)."""
        return {nfc(rel) for rel in self.held}

    def _run(self, direction: str) -> None:
        self.held = set()
        self.transfers.direction = direction
        o, t = self.options, self.target
        kwargs: dict[str, Any] = dict(
            user=o.user,
            rules=o.rules,
            dry_run=o.dry_run,
            max_rate=o.max_rate,
            show_progress=False,
            hold=self._hold,
            progress=self.transfers,
        )
        if direction == "up":
            report = upload(self.client(), t, **kwargs)
        else:  # a folder that was here must still be: an archived project is not brought back
            report = download(self.client(), t, into_existing=self.folder_was_there, **kwargs)
        self.reports.append(report)
        if not self.folder_was_there and t.folder.is_dir():
            self.folder_was_there = True  # a project only in S3 came down: from now it must stay
        self.findings.saw(report, held=self._held_names())
        after = report.after or report.plan
        self.synced = len(after.with_state(FileState.SYNCED))
        if not report.dry_run:
            self.last_sync = datetime.now(UTC)
        self._settled(report)
        if direction == "up":
            self.need_up = False
            if after.with_state(FileState.DOWNLOAD):
                self.need_down = True
        else:
            self.need_down = False
        # what this cycle held back is in the plan as SKIPPED: those files are still waiting
        self.waiting = {rel: why for rel, why in self.waiting.items() if rel in self.held}
        self._plan_next_look()

    def _settled(self, report: SyncReport) -> None:
        """Remember each local file as the cycle left it, unless it still has to go up: a file
        held back, or saved again during the cycle, stays due. A file whose transfer failed is
        remembered as it was planned, so only a new save (or the next rescan, if it changed)
        tries it again, not every look."""
        after = report.after or report.plan
        failed = {o.rel for o in report.outcomes if not o.ok}
        listed: set[str] = set()
        for row in after.rows:
            local = row.local
            if local is None or local.stamp is None:
                continue
            rel = local.name or local.rel
            listed.add(rel)
            if rel in self.held:
                continue
            if row.rel in failed:
                before = report.plan.row(row.rel)
                if before is not None and before.local is not None and before.local.stamp:
                    self.clean[rel] = before.local.stamp
                continue
            if row.state is FileState.UPLOAD:
                continue  # still to go up
            self.clean[rel] = local.stamp
        for rel, f in self.files.items():
            # unreadable here (reported once): tried again when it changes
            if rel not in listed and rel not in self.held:
                self.clean[rel] = f.stamp
        for rel in [r for r in self.clean if r not in listed and r not in self.files]:
            del self.clean[rel]

    # ---------------------------------------------------------------- failures

    def _failed(self, exc: BaseException) -> None:
        failure = failure_line(exc)
        if failure is None:
            raise exc
        line, s3 = failure
        delay = self.backoff.failed(self.clock())
        if line != self.offline:
            self.emit(
                ev.OFFLINE if s3 else ev.PROBLEM,
                f"! {line}; trying again in {delay:.0f} s (then less and less often, at least "
                f"every {self.backoff.longest:.0f} s)",
                error=line,
            )
        self.offline = line
        self.offline_s3 = s3

    def _reached(self) -> None:
        if self.offline is not None:
            text = (
                "✓ S3 answers again: carrying on where the watch left off"
                if self.offline_s3
                else "✓ carrying on where the watch left off"
            )
            self.emit(ev.ONLINE, text)
        self.offline = None
        self.backoff.succeeded()

    def woke(self) -> None:
        """After a sleep: look at both sides again now, without waiting out a backoff."""
        self.backoff.succeeded()
        self.need_down = True
