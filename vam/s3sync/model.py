"""The values of S3 staging sync (SPEC §4): one file's three sides, its state, the plan, actions.

Plain frozen values only: the scanners produce them, plan.py decides, the up/down pipeline acts
on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from vam.core.files import Stamp


class FileState(StrEnum):
    """Where one file stands between this computer (L), S3 (R) and the last sync (the base B)."""

    SYNCED = "synced"  # L = R
    UPLOAD = "upload"  # L changed (or is new), R = B
    DOWNLOAD = "download"  # R changed (or is new), L = B
    CONFLICT = "conflict"  # both changed, or both new and different
    DELETED_HERE = "deleted-here"  # B and R exist, the local file is gone
    DELETED_THERE = "deleted-there"  # B and L exist, the S3 object is gone
    REFUSED = "refused"  # the S3 key would land outside the project (or is invalid on Windows)
    SKIPPED = "skipped"  # left alone on purpose: a link, unreadable, excluded, being written
    # one file on Windows and macOS: names that differ only by case or Unicode form
    NAME_CLASH = "name-clash"
    GONE = "gone"  # deleted on both sides: only the sync record still mentions it


SyncState = FileState


@dataclass(frozen=True)
class Fingerprint:
    """A file's content identity: size plus whole-file CRC32 (None = not known)."""

    size: int
    crc32: int | None

    def same_content(self, other: Fingerprint | None) -> bool:
        """True only when both checksums are known and equal (never by size alone)."""
        return (
            other is not None
            and self.crc32 is not None
            and other.crc32 is not None
            and self.size == other.size
            and self.crc32 == other.crc32
        )


@dataclass(frozen=True)
class LocalEntry:
    """A file in the project's s3-staging/ folder."""

    rel: str  # POSIX path inside s3-staging/
    size: int
    mtime_ns: int
    # None: not read yet. Only `s3.up` leaves it so, for a file that neither S3 nor the sync
    # record knows (nothing to compare it with): the upload checksums it as it sends it.
    crc32: int | None
    stamp: Stamp | None = None  # what the scan saw of this version (None in pure plan tests)
    path: Path | None = None  # the file on disk (its name may be NFD, as macOS hands them out)
    name: str | None = None  # `rel` as named on disk, when that differs (NFD); see keys.nfc

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.size, self.crc32)


@dataclass(frozen=True)
class RemoteEntry:
    """An object under the project's staging prefix, with what we know of its content."""

    rel: str
    key: str
    size: int
    etag: str  # without quotes; '…-N' for multipart uploads
    last_modified: datetime
    # from the index, vam metadata, a FULL_OBJECT checksum, or a matching ETag
    crc32: int | None = None
    version_id: str | None = None
    uploaded_by: str | None = None
    mtime_ns: int | None = None  # the uploader's original mtime
    unsafe: str | None = None  # why this key must never be written locally
    name: str | None = None  # `rel` as the key spells it, when that differs (not NFC)

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.size, self.crc32)


@dataclass(frozen=True)
class BaseEntry:
    """The common base: what both sides held after the last successful transfer of this file."""

    rel: str
    size: int
    crc32: int
    etag: str
    version_id: str | None = None
    mtime_ns: int | None = None
    synced_at: str = ""  # ISO 8601 UTC
    uploaded_by: str | None = None

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.size, self.crc32)


@dataclass(frozen=True)
class FileRow:
    """One file of a project and the state the plan gave it, with the reason in words."""

    rel: str
    state: FileState
    local: LocalEntry | None
    remote: RemoteEntry | None
    base: BaseEntry | None
    reason: str


@dataclass(frozen=True)
class Plan:
    rows: tuple[FileRow, ...]

    def with_state(self, *states: FileState) -> tuple[FileRow, ...]:
        return tuple(r for r in self.rows if r.state in states)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.state.value] = counts.get(row.state.value, 0) + 1
        return counts

    def row(self, rel: str) -> FileRow | None:
        return next((r for r in self.rows if r.rel == rel), None)


class ActionKind(StrEnum):
    UPLOAD = "upload"
    DOWNLOAD = "download"
    RECORD = "record"  # both sides already equal: write the base, transfer nothing
    FORGET = "forget"  # deleted on both sides: drop the base
    DELETE_REMOTE = "delete-remote"  # up --delete: deleted here, so delete it in S3 (If-Match)
    DELETE_LOCAL = "delete-local"  # down --delete: deleted in S3, so move it to .vam/backups/
    SKIP = "skip"  # reported, not acted on (conflict without --force, deletions, refused keys)


@dataclass(frozen=True)
class Action:
    """What `s3.up` / `s3.down` will do with one file."""

    kind: ActionKind
    rel: str
    state: FileState
    size: int = 0
    if_match: str | None = None  # upload: overwrite only this S3 version
    if_none_match: bool = False  # upload: create only if still absent
    backup: bool = False  # download: keep the local file under .vam/backups/ first
    note: str = ""
