"""What a watch tells: one Event per thing that happened (a file sent or fetched, a file waiting,
a conflict, S3 out of reach and back, the computer waking up), and the Status its live line
shows. Plain values; output.py prints them, log.py writes them down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

# the kinds of event, as `--json` names them
STARTED = "started"
UPLOADED = "uploaded"
DOWNLOADED = "downloaded"
PENDING = "pending"  # a file waits: still being written, or open in another program
CONFLICT = "conflict"
PROBLEM = "problem"  # a file left as it is that is not a conflict (unreadable, name clash, …)
NOTICE = "notice"  # worth knowing, nothing wrong: deleted on one side, a lock taken over, …
OFFLINE = "offline"  # S3 could not be reached or refused: retrying
ONLINE = "online"  # and it answers again
WOKE = "woke"  # the computer slept (or its clock jumped): everything is looked at again
PLAN = "plan"  # --dry-run: what the cycle would do
STOPPED = "stopped"


@dataclass(frozen=True)
class Event:
    kind: str
    text: str  # one line for people
    brand: str | None = None
    project: str | None = None
    file: str | None = None
    size: int | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "time": self.at.isoformat(timespec="seconds"),
            "brand": self.brand,
            "project": self.project,
            "file": self.file,
            "bytes": self.size,
            "message": self.text,
            **self.details,
        }


@dataclass(frozen=True)
class Moving:
    """A transfer in progress."""

    name: str  # the file's name (the end of its key)
    direction: str  # "up" | "down"
    done: int
    total: int


@dataclass(frozen=True)
class ProjectStatus:
    project: str
    synced: int = 0
    pending: int = 0
    conflicts: int = 0
    last_sync: datetime | None = None
    offline: str | None = None  # why the watch cannot go on (S3 out of reach, a full disk)
    offline_s3: bool = True  # S3's fault, not this computer's
    retry_in: float | None = None  # seconds until the next try, while backing off


@dataclass(frozen=True)
class Status:
    """What the live line shows: every project's state and what is moving right now."""

    projects: tuple[ProjectStatus, ...]
    moving: tuple[Moving, ...] = ()
    next_look: float | None = None  # seconds until the next look at S3


class Sink(Protocol):
    """Where a watch's events go (output.py's terminal, plain and JSON lines, and the log)."""

    def event(self, event: Event) -> None: ...
