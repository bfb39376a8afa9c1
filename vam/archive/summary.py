"""A brand's off-site archive at a glance, from one listing of its archive prefix: per project the
files, bytes, storage class, when it was archived, its restore state and what it costs a month.
`archive.status` prints it; the manifest (vam.catalog) puts it in projects.json, through
`read_for_report`, which never fails (S3 out of reach is a reason, not an exception).

Besides the listing, only the small restore records of projects that have one are read (one GET
each): S3's own listing says "restoring" or "restored" where it supports that attribute, and the
record says who asked, which tier and when it is expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import botocore.exceptions as bce

from vam.archive.classes import storage_class
from vam.archive.listing import READABLE, RESTORED, RESTORING, ArchivedObject, list_archive
from vam.archive.record import RestoreRecord, read_record
from vam.archive.target import INDEX_REL, RESTORE_REL, ArchiveTarget
from vam.aws.client import explain
from vam.core.config import Config
from vam.core.errors import VamError
from vam.core.settings import Settings
from vam.core.units import human_utc
from vam.s3sync.staging_read import quick_s3_client

# a project's restore state
NONE = "none"  # archived, no restore asked for (as far as vam and S3 say)
REQUESTED = "requested"  # vam recorded a request; S3's listing did not say more
PARTLY = "partly restored"


@dataclass(frozen=True)
class RestoreSummary:
    state: str  # none | requested | restoring | restored | partly restored | readable
    record: RestoreRecord | None = None
    until: datetime | None = None  # the first restored copy to go again

    def describe(self) -> str:
        if self.state == READABLE:
            return "readable (no restore needed)"
        if self.state == RESTORED and self.until:
            return f"restored until {self.until:%Y-%m-%d %H:%M} UTC"
        r = self.record
        if r is None or self.state in (RESTORED, PARTLY):
            return self.state
        expected = human_utc(r.expected) if r.expected else r.expected_by
        return f"{self.state} by {r.requested_by} ({r.tier}), expected by {expected}"


@dataclass(frozen=True)
class ProjectArchive:
    project: str
    objects: tuple[ArchivedObject, ...]  # the project's files (vam's own objects aside)
    archived_at: datetime | None  # the index's last write, else the newest object
    restore: RestoreSummary
    has_index: bool

    @property
    def files(self) -> int:
        return len(self.objects)

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.objects)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted({o.storage_class for o in self.objects}))

    @property
    def storage_class(self) -> str:
        return "/".join(self.classes) or "-"

    @property
    def monthly_cost(self) -> float:
        return sum(storage_class(o.storage_class).monthly_cost([o.size]) for o in self.objects)


def _restore(objects: tuple[ArchivedObject, ...], record: RestoreRecord | None) -> RestoreSummary:
    archival = [o for o in objects if storage_class(o.storage_class).needs_restore]
    if not archival:
        return RestoreSummary(READABLE)
    said = [o.restore for o in archival if o.restore is not None]
    if any(r.state == RESTORING for r in said):
        return RestoreSummary(RESTORING, record)
    restored = [r for r in said if r.state == RESTORED]
    if restored:
        dates = [r.until for r in restored if r.until]
        state = RESTORED if len(restored) == len(archival) else PARTLY
        return RestoreSummary(state, record, min(dates) if dates else None)
    if record is not None and not _lapsed(record):
        return RestoreSummary(REQUESTED, record)
    return RestoreSummary(NONE)


def _lapsed(record: RestoreRecord, now: datetime | None = None) -> bool:
    """The recorded restore is over: done, and its copies gone again (expected + days)."""
    expected = record.expected
    if expected is None:
        return False
    return (now or datetime.now(UTC)) > expected + timedelta(days=record.days)


def summarize(
    listed: dict[str, list[ArchivedObject]], records: dict[str, RestoreRecord]
) -> dict[str, ProjectArchive]:
    out = {}
    for project, objects in sorted(listed.items()):
        files = tuple(o for o in objects if not o.is_state)
        if not files:
            continue
        index = next((o for o in objects if o.rel == INDEX_REL), None)
        when = index.last_modified if index else max(o.last_modified for o in files)
        out[project] = ProjectArchive(
            project,
            files,
            when.astimezone(UTC),
            _restore(files, records.get(project)),
            index is not None,
        )
    return out


def read_brand(s3, bucket: str, brand_key: str, prefix: str) -> dict[str, ProjectArchive]:
    """One listing of the brand's archive prefix, plus the restore records it shows."""
    listed = list_archive(s3, bucket, prefix)
    records = {}
    for project, objects in listed.items():
        if any(o.rel == RESTORE_REL for o in objects):
            target = ArchiveTarget(brand_key, project, bucket, prefix, "")
            record = read_record(s3, target)
            if record is not None:
                records[project] = record
    return summarize(listed, records)


@dataclass(frozen=True)
class ArchiveRead:
    """One brand's archive for a report, or why it could not be read (never an exception)."""

    prefix: str
    projects: dict[str, ProjectArchive] = field(default_factory=dict)
    error: str | None = None

    @property
    def available(self) -> bool:
        return self.error is None


def read_for_report(config: Config, settings: Settings, brand_key: str, s3=None) -> ArchiveRead:
    """The brand's archive as the manifest reads it: a quick client (short timeouts), one
    listing, and a failure as a one-line reason."""
    prefix = config.storage.archive_prefix_for(brand_key)
    try:
        client = s3 if s3 is not None else quick_s3_client(config, settings)
        projects = read_brand(client, config.storage.bucket, brand_key, prefix)
    except VamError as exc:
        return ArchiveRead(prefix, error=str(exc))
    except Exception as exc:  # botocore errors of every kind: report, never a traceback
        explained = explain(exc)
        if explained is None and not isinstance(exc, bce.BotoCoreError | bce.ClientError):
            raise
        return ArchiveRead(prefix, error=str(explained or exc))
    return ArchiveRead(prefix, projects)
