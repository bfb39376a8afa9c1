"""Planning the cleanup of a project's staging area once it is done (SPEC §4 s3.cleanup); the
plan is carried out by cleanup_apply.py.

Plan first: every file on the side being cleaned is safe to delete only when the other side holds
the same content (state synced). Anything that exists only here (a remote file never downloaded,
a local file never uploaded, either side of a conflict) is refused unless --force. Remote deletes
re-check each object's ETag just before deleting, so a file the other person uploaded meanwhile
is never deleted unseen.

The versions vam kept under .vam/backups/ in S3 (before `s3.up --force` replaced one, or a
cleanup deleted one that existed nowhere else) are vam's own objects, but unlike the index and
handoff notes they are people's work: they stay unless the person asks for them with
--include-backups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vam.aws.bucketcaps import (
    Conditions,
    VersioningState,
    conditions_for,
    read_versioning,
    remembered,
)
from vam.core.files import FileRules, Stamp
from vam.core.units import format_size
from vam.s3sync.model import FileRow, FileState
from vam.s3sync.remote import RemoteObject, list_project
from vam.s3sync.remoteindex import is_vam_key
from vam.s3sync.s3guard import is_backup_key
from vam.s3sync.scan import scan_project
from vam.s3sync.status import partial_downloads
from vam.s3sync.target import Target
from vam.s3sync.transfer import PartialDownload
from vam.s3sync.uploads import UploadDecision, judge_upload, list_incomplete, recorded_uploads

REMOTE, LOCAL = "remote", "local"
STATE_BACKUPS = ".vam/backups/"


@dataclass(frozen=True)
class Item:
    side: str  # remote | local
    rel: str
    size: int
    safe: bool
    reason: str  # why it is (not) safe, in words
    key: str = ""  # remote: the S3 key; local: ""
    etag: str = ""  # remote: the ETag seen when planning
    mtime_ns: int = 0  # local: the mtime seen when planning
    crc32: int | None = None  # the S3 object's CRC32: what a copy on the other side must hold
    other_side: bool = False  # the planning scan saw the file on the other side too
    path: Path | None = None  # the file here (its name on disk may be NFD), when there is one
    stamp: Stamp | None = None  # local: what the planning scan saw of it

    def as_dict(self) -> dict[str, Any]:
        """For `--json`: which side, its size, and why it goes or stays."""
        return {"side": self.side, "file": self.rel, "size": self.size, "reason": self.reason}

    def line(self, force: bool = False) -> str:
        where = "S3" if self.side == REMOTE else "here"
        mark = "delete" if self.safe or force else "KEEP  "
        why = self.reason if self.safe or not force else f"{self.reason}; --force"
        return f"  {mark} {where:<4} {format_size(self.size):>9}  {self.rel}  ({why})"


@dataclass(frozen=True)
class CleanupPlan:
    target: Target
    sides: tuple[str, ...]
    force: bool
    items: tuple[Item, ...]
    uploads: tuple[UploadDecision, ...] = ()  # unfinished multipart uploads under the project
    vam_keys: tuple[str, ...] = ()  # the project's index and handoff notes in S3
    versioning: VersioningState | None = None  # read only when S3 is cleaned
    noncurrent_days: int = 14
    backups: tuple[RemoteObject, ...] = ()  # .vam/backups/ in S3: versions vam kept
    include_backups: bool = False  # the person asked for the backups to go too
    conditions: Conditions | None = None  # what the bucket honours (read when S3 is cleaned)
    partials: tuple[PartialDownload, ...] = ()  # local: interrupted downloads (vam's, resumable)

    @property
    def to_delete(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.safe or self.force)

    @property
    def refused(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if not i.safe and not self.force)

    @property
    def nothing(self) -> bool:
        return (
            not self.to_delete
            and not self.to_abort
            and not self.vam_keys_to_delete
            and not self.backups_to_delete
            and not self.partials
        )

    @property
    def to_abort(self) -> tuple[UploadDecision, ...]:
        return tuple(u for u in self.uploads if u.abort)

    @property
    def backups_to_delete(self) -> tuple[RemoteObject, ...]:
        return self.backups if self.include_backups else ()

    @property
    def keeps_old_versions(self) -> bool:
        return self.versioning is not None and self.versioning.keeps_old_versions

    @property
    def vam_keys_to_delete(self) -> tuple[str, ...]:
        # vam's own objects go only when no project file stays in S3
        if REMOTE in self.sides and not any(i.side == REMOTE for i in self.refused):
            return self.vam_keys
        return ()

    def as_dict(self, *, dry_run: bool = False) -> dict[str, Any]:
        """For `--json` (`deleted` and `failed` are filled in once the plan is carried out)."""
        return {
            "brand": self.target.brand_key,
            "project": self.target.project_id,
            "sides": list(self.sides),
            "dry_run": dry_run,
            "to_delete": [i.as_dict() for i in self.to_delete],
            "kept": [i.as_dict() for i in self.refused],
            "unfinished_uploads": len(self.uploads),
            "vam_objects": len(self.vam_keys_to_delete),
            "deleted": [],
            "failed": [],
        }

    def lines(self) -> list[str]:
        t = self.target
        out = [f"cleanup {t.brand_key} {t.project_id} ({' and '.join(self.sides)}):"]
        out += [i.line(self.force) for i in self.items] or [
            "  no staging files on the side(s) cleaned"
        ]
        now = datetime.now(UTC)
        out += [up.line(t.prefix, now) for up in self.uploads]
        for part in self.partials:
            out.append(
                f"  delete here {format_size(part.done):>9}  {part.temp.name}  (a partial download "
                f"of {format_size(part.size)}; `{t.command('down')}` would resume it instead)"
            )
        if self.vam_keys_to_delete:
            out.append(f"  delete vam's {len(self.vam_keys_to_delete)} index/handoff object(s)")
        for backup in self.backups_to_delete:
            out.append(f"  delete S3 {format_size(backup.size):>9}  {backup.rel}  (vam's backup)")
        if self.backups and not self.include_backups:
            size = format_size(sum(b.size for b in self.backups))
            out.append(
                f"  keep   {len(self.backups)} backup(s) under {STATE_BACKUPS} ({size}): versions "
                "vam kept before replacing or deleting them; --include-backups deletes them too"
            )
        for item in self.refused:
            other = "this computer" if item.side == REMOTE else "S3"
            out.append(
                f"  ! kept {item.rel}: it is not on {other} ({item.reason}); "
                f"sync it first or add --force to delete it anyway"
            )
        if REMOTE in self.sides and (self.to_delete or self.backups_to_delete):
            out.append("  " + self.undo_line())
            if self.conditions is not None and not self.conditions.deletes:
                out.append(
                    "  ! this bucket ignores If-Match on DELETE: vam HEADs each S3 object just "
                    "before deleting it, a weaker protection (an upload in that moment would not "
                    "be seen)"
                )
        return out

    def undo_line(self) -> str:
        """What brings a deleted S3 file back, as far as vam knows it (never more)."""
        if self.keeps_old_versions:
            return (
                f"undo: bucket versioning keeps deleted S3 objects as previous versions for "
                f"{self.noncurrent_days} days (restore with `aws s3api list-object-versions` + "
                "`get-object --version-id`)"
            )
        state = self.versioning.describe() if self.versioning else "versioning unknown"
        if self.backups_to_delete:
            return (
                f"no undo: {state}; with --include-backups nothing is copied to {STATE_BACKUPS} "
                "and the backups deleted are the only copies"
            )
        at_risk = [i for i in self.to_delete if i.side == REMOTE and not i.safe]
        if at_risk:
            copied = (
                f"the {len(at_risk)} S3 file(s) that exist only in S3, and any whose copy here "
                f"no longer matches when re-read, are copied to {STATE_BACKUPS} in S3 first"
            )
        else:
            copied = "an S3 file whose copy here no longer matches when re-read is kept in S3"
        if LOCAL in self.sides:
            return f"no undo: {state}, and this computer's copies are deleted too; {copied}"
        if at_risk:
            return f"no undo in S3 ({state}): {copied}; the others stay on this computer"
        return (
            f"no undo in S3 ({state}; `vam aws.setup-bucket` turns it on): every S3 file deleted "
            f"stays on this computer; {copied}"
        )


def _row_item(side: str, row: FileRow) -> Item | None:
    synced = row.state is FileState.SYNCED
    if side == REMOTE:
        if row.remote is None:
            return None
        reason = "same content here" if synced else _why(row, REMOTE)
        return Item(
            REMOTE,
            row.rel,
            row.remote.size,
            synced,
            reason,
            row.remote.key,
            row.remote.etag,
            crc32=row.remote.crc32,
            other_side=row.local is not None,
            path=row.local.path if row.local else None,
        )
    if row.local is None:
        return None
    reason = "same content in S3" if synced else _why(row, LOCAL)
    return Item(
        LOCAL,
        row.rel,
        row.local.size,
        synced,
        reason,
        mtime_ns=row.local.mtime_ns,
        crc32=row.remote.crc32 if row.remote else None,
        other_side=row.remote is not None,
        path=row.local.path,
        stamp=row.local.stamp,
    )


def _why(row: FileRow, side: str) -> str:
    st = row.state
    if st is FileState.CONFLICT:
        return "conflict: both sides changed"
    if st is FileState.REFUSED:
        return "unsafe key, never downloadable"
    if st is FileState.NAME_CLASH:
        return "name clash: one file with another name on Windows and macOS"
    if st is FileState.SKIPPED:
        return f"skipped: {row.reason}"
    if side == REMOTE:
        if st is FileState.DOWNLOAD:
            who = row.remote.uploaded_by if row.remote else None
            return f"never downloaded{f', from {who}' if who else ''}"
        if st is FileState.UPLOAD:
            return "your newer version is not uploaded"
        if st is FileState.DELETED_HERE:
            return "deleted here, only in S3"
    else:
        if st is FileState.UPLOAD:
            return "never uploaded" if row.remote is None else "changed here, not uploaded"
        if st is FileState.DOWNLOAD:
            return "S3 has a newer version"
        if st is FileState.DELETED_THERE:
            return "deleted in S3, only here"
    return st.value


def plan_cleanup(
    s3,
    target: Target,
    *,
    user: str,
    rules: FileRules,
    sides: tuple[str, ...] = (REMOTE,),
    force: bool = False,
    noncurrent_days: int = 14,
    include_backups: bool = False,
    people: Mapping[str, str] | None = None,
    now: datetime | None = None,
    probe: bool = True,
) -> CleanupPlan:
    """What cleaning `sides` of the project would do. `people` maps IAM user names to team
    names (brands.toml), for saying who started an unfinished upload. `probe` False (a dry
    run): what the bucket honours comes only from vam's cache, never from a probe that writes."""
    objects = list_project(s3, target.bucket, target.prefix)
    scan = scan_project(s3, target, user=user, rules=rules, objects=objects)
    items = []
    for side in sides:
        for row in scan.plan.rows:
            item = _row_item(side, row)
            if item is not None:
                items.append(item)
    uploads: list[UploadDecision] = []
    vam_keys: tuple[str, ...] = ()
    backups: tuple[RemoteObject, ...] = ()
    versioning = conditions = None
    if REMOTE in sides:
        recorded = recorded_uploads(target.state_dir)
        when = now or datetime.now(UTC)
        for pending in list_incomplete(s3, target.bucket, target.prefix, people):
            mine = recorded.get(pending.upload_id)
            uploads.append(judge_upload(pending, mine, when, force=force))
        ours = [o for o in objects if is_vam_key(o.rel)]
        vam_keys = tuple(o.key for o in ours if not is_backup_key(o.rel))
        backups = tuple(o for o in ours if is_backup_key(o.rel))
        versioning = read_versioning(s3, target.bucket)
        if probe:
            conditions = conditions_for(s3, target.bucket, target.brand_prefix)
        else:
            conditions = remembered(s3, target.bucket)
    partials = partial_downloads(target) if LOCAL in sides else ()
    return CleanupPlan(
        target=target,
        sides=sides,
        force=force,
        items=tuple(items),
        uploads=tuple(uploads),
        vam_keys=vam_keys,
        versioning=versioning,
        noncurrent_days=noncurrent_days,
        backups=backups,
        include_backups=include_backups,
        conditions=conditions,
        partials=partials,
    )
