"""What a sync run and a status return: the scan, each file's outcome, the report, the
recommendations. Plain frozen values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vam.core.files import Skipped
from vam.s3sync import transfer
from vam.s3sync.fingerprint import ChecksumCache
from vam.s3sync.model import Action, ActionKind, FileRow, FileState, Plan
from vam.s3sync.remoteindex import RemoteIndex
from vam.s3sync.target import Target


@dataclass(frozen=True)
class Scan:
    target: Target
    plan: Plan
    skipped: tuple[Skipped, ...] = ()  # local files not considered (symlinks outside, …)
    heads: int = 0  # HEAD requests made (objects the index and the record did not know)
    objects: int = 0  # objects listed (vam's own keys excluded)
    cache: ChecksumCache | None = None  # the checksum cache the scan used (and may have filled)
    index: RemoteIndex | None = None  # vam's index in S3 as the scan read it (None: not read)


@dataclass(frozen=True)
class Outcome:
    rel: str
    kind: ActionKind
    state: FileState
    ok: bool
    bytes: int = 0
    message: str = ""
    resumed: int = 0  # bytes already there when the transfer resumed (0: started from scratch)

    @classmethod
    def failed(cls, action: Action, message: str, state: FileState | None = None) -> Outcome:
        """The action was not carried out; `state`: what the file turned out to be, if known."""
        return cls(action.rel, action.kind, state or action.state, False, 0, message)

    @classmethod
    def done(cls, action: Action, nbytes: int = 0, message: str = "", resumed: int = 0) -> Outcome:
        return cls(action.rel, action.kind, action.state, True, nbytes, message, resumed=resumed)


@dataclass(frozen=True)
class SyncReport:
    direction: str  # "up" | "down"
    target: Target
    plan: Plan
    actions: tuple[Action, ...]
    dry_run: bool
    outcomes: tuple[Outcome, ...] = ()
    messages: tuple[str, ...] = ()  # skipped conflicts, deletions, refused keys: one line each
    after: Plan | None = None  # the re-check
    unsettled: tuple[str, ...] = ()  # transferred files the re-check does not find synced
    bytes_transferred: int = 0
    bytes_read: int = 0  # file bytes read for checksums (0 when nothing changed)
    skipped: tuple[Skipped, ...] = ()  # local files left out (unsafe names, symlinks outside)

    @property
    def transfers(self) -> tuple[Action, ...]:
        kinds = (ActionKind.UPLOAD, ActionKind.DOWNLOAD)
        return tuple(a for a in self.actions if a.kind in kinds)

    @property
    def name_clashes(self) -> tuple[FileRow, ...]:
        """Files neither side can write until a person renames one (see plan.name_clashes)."""
        return (self.after or self.plan).with_state(FileState.NAME_CLASH)

    @property
    def unreadable(self) -> tuple[Skipped, ...]:
        """Local files that could not be read (not those left out by design, such as links)."""
        return tuple(s for s in self.skipped if s.problem)

    @property
    def conflicts_left(self) -> tuple[Action, ...]:
        """Conflicts the run leaves untouched (no --force)."""
        return tuple(
            a for a in self.actions if a.kind is ActionKind.SKIP and a.state is FileState.CONFLICT
        )

    @property
    def problems(self) -> tuple[str, ...]:
        """What the run leaves not as it should be, one `file: what` line each: a transfer or
        deletion that failed, a file the re-check does not find settled, a conflict left
        untouched, a name clash nothing can write, a file that could not be read. The one
        definition of a failed run: the exit code and every `ok` come from it. A dry run lists
        what the real run would leave, so it exits as the real run would."""
        lines = [f"{o.rel}: {o.message}" for o in self.outcomes if not o.ok]
        lines.extend(self.unsettled)
        lines.extend(f"{a.rel}: conflict left untouched ({a.note})" for a in self.conflicts_left)
        lines.extend(f"{r.rel}: name clash ({r.reason})" for r in self.name_clashes)
        lines.extend(f"{s.rel}: {s.reason}" for s in self.unreadable)
        return tuple(lines)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Recommendation:
    command: str
    why: str


@dataclass(frozen=True)
class ProjectStatus:
    target: Target
    plan: Plan
    recommendations: tuple[Recommendation, ...]
    first_expiry: datetime | None
    last_expiry: datetime | None
    heads: int = 0
    skipped: tuple[Skipped, ...] = ()
    partials: tuple[transfer.PartialDownload, ...] = ()  # interrupted downloads, resumable
