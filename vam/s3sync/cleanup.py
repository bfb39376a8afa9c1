"""Cleaning a project's staging area once it is done (SPEC §4 s3.cleanup).

Plan first: every file on the side being cleaned is safe to delete only when the other side holds
the same content (state synced). Anything that exists only here (a remote file never downloaded,
a local file never uploaded, either side of a conflict) is refused unless --force. Remote deletes
re-check each object's ETag just before deleting, so a file the other person uploaded meanwhile
is never deleted unseen.

When is an S3 object at risk? Its content is safe when it is also on this computer: but the plan
learnt that from the checksum cache, so right before deleting, the local file is read again and
its CRC32 must equal the object's. A forced delete of a file that exists only in S3 (never
downloaded, deleted here, changed here since), or a synced file whose local copy no longer
matches, is at risk: where bucket versioning does not keep it (off, suspended, or not readable
with these credentials), that exact version is first copied server-side to the project's
.vam/backups/ in S3 (vam.s3guard). Those backups, and the ones `s3.up --force` made, are vam's own
objects, but unlike the index and handoff notes they are people's work: they stay unless the
person asks for them with --include-backups.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vam.aws.bucketcaps import (
    Conditions,
    VersioningState,
    conditions_for,
    read_versioning,
    remembered,
)
from vam.core.checksum import file_crc32
from vam.core.files import FileRules, Stamp
from vam.core.units import format_size
from vam.s3sync.model import FileRow, FileState
from vam.s3sync.remote import RemoteObject, list_project
from vam.s3sync.remoteindex import is_vam_key
from vam.s3sync.s3guard import CHANGED, Changed, Kept, RemoteGuard, is_backup_key
from vam.s3sync.scan import scan_project
from vam.s3sync.status import partial_downloads
from vam.s3sync.syncrecord import load_record, save_record
from vam.s3sync.target import Target
from vam.s3sync.transfer import PartialDownload
from vam.s3sync.uploads import IncompleteUpload, abort, describe, list_incomplete

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

    def line(self, force: bool = False) -> str:
        where = "S3" if self.side == REMOTE else "here"
        mark = "delete" if self.safe or force else "KEEP  "
        why = self.reason if self.safe or not force else f"{self.reason}; --force"
        return f"  {mark} {where:<4} {format_size(self.size):>9}  {self.rel}  ({why})"


# An unfinished upload started this long ago on this computer may be resumed no more: cleanup
# aborts it. Anything younger, or started elsewhere, may be running right now.
STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Upload:
    """One unfinished multipart upload under the project, and what cleanup does with it."""

    pending: IncompleteUpload
    abort: bool
    why: str
    record: Path | None = None  # this computer's record of it (vam's own upload)

    def line(self, prefix: str, now: datetime) -> str:
        text = describe(self.pending, prefix, now)
        if self.abort:
            return f"  abort  unfinished upload {text} ({self.why})"
        return f"  keep   unfinished upload {text} ({self.why}; --force aborts it)"


def _recorded_uploads(state_dir: Path) -> dict[str, tuple[float, Path]]:
    """upload id -> (when it started, the record) of the multipart uploads vam started from
    this computer for this project (vam.transfer keeps one record per upload it may resume)."""
    found: dict[str, tuple[float, Path]] = {}
    folder = state_dir / "uploads"
    if not folder.is_dir():
        return found
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            found[str(data["upload_id"])] = (float(data.get("started") or 0), path)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable: its upload counts as someone else's, so it is kept
    return found


def judge_upload(
    pending: IncompleteUpload,
    recorded: tuple[float, Path] | None,
    now: datetime,
    *,
    force: bool,
) -> Upload:
    """Abort only what nobody can be running: with --force everything; otherwise only an upload
    this computer started (its record is here) more than STALE_AFTER ago.

    "Someone else" is every upload this computer has no record of. S3's Initiator does not tell:
    on moto and other S3-compatible servers it is one fixed or meaningless identity, and on AWS
    a team that shares one IAM user would see Jan's upload as David's. The start is the later of
    S3's Initiated and the record's (moto reports every upload as started in 2010)."""
    if recorded is not None:
        started = max(pending.initiated, datetime.fromtimestamp(recorded[0], UTC))
        pending = replace(pending, initiated=started, who="you (this computer)")
    if force:
        return Upload(pending, True, "--force", recorded[1] if recorded else None)
    if recorded is None:
        return Upload(pending, False, "not started from this computer: it may be running now")
    if now - pending.initiated > STALE_AFTER:
        return Upload(pending, True, "yours, interrupted over 24 hours ago", recorded[1])
    return Upload(
        pending, False, "yours, started within the last 24 hours: it may still be running or "
        "about to resume", recorded[1],
    )  # fmt: skip


@dataclass(frozen=True)
class CleanupPlan:
    target: Target
    sides: tuple[str, ...]
    force: bool
    items: tuple[Item, ...]
    uploads: tuple[Upload, ...] = ()  # unfinished multipart uploads under the project prefix
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
    def to_abort(self) -> tuple[Upload, ...]:
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


@dataclass(frozen=True)
class CleanupResult:
    deleted: tuple[Item, ...]
    failed: tuple[tuple[Item, str], ...]
    aborted: int
    vam_deleted: int
    remaining_remote: int = 0
    remaining_local: int = 0
    messages: tuple[str, ...] = field(default_factory=tuple)
    kept: tuple[tuple[Item, Kept], ...] = ()  # S3 versions copied to .vam/backups/ first
    backups_deleted: int = 0
    backups_left: int = 0  # re-checked: backups still under .vam/backups/ in S3
    backups_bytes: int = 0
    partials_removed: int = 0  # partial downloads removed here


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
    uploads: list[Upload] = []
    vam_keys: tuple[str, ...] = ()
    backups: tuple[RemoteObject, ...] = ()
    versioning = conditions = None
    if REMOTE in sides:
        recorded = _recorded_uploads(target.state_dir)
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
        target,
        sides,
        force,
        tuple(items),
        tuple(uploads),
        vam_keys,
        versioning,
        noncurrent_days,
        backups,
        include_backups,
        conditions,
        partials,
    )


def apply_cleanup(s3, plan: CleanupPlan, *, user: str, rules: FileRules) -> CleanupResult:
    """Delete what the plan allows, each only if unchanged since planning; then re-check."""
    t = plan.target
    deleted: list[Item] = []
    failed: list[tuple[Item, str]] = []
    kept: list[tuple[Item, Kept]] = []
    guard = RemoteGuard(
        s3, t.bucket, t.prefix, probe_prefix=t.brand_prefix, versioning=plan.versioning,
        conditions=plan.conditions,
    )  # fmt: skip
    for item in plan.to_delete:
        if item.side == REMOTE:
            why, backup = _delete_remote(s3, t, item, guard, plan)
            if backup is not None:
                kept.append((item, backup))
        else:
            why = _delete_local(t, item)
        if why:
            failed.append((item, why))
        else:
            deleted.append(item)
    for part in plan.partials:  # vam's own half-downloads of S3 versions: nobody's work
        part.temp.unlink(missing_ok=True)
        part.record.unlink(missing_ok=True)
    aborted = len(abort(s3, t.bucket, [up.pending for up in plan.to_abort]))
    for up in plan.to_abort:
        if up.record is not None:  # nothing left to resume
            up.record.unlink(missing_ok=True)
    vam_deleted = 0
    if not failed:
        for key in plan.vam_keys_to_delete:
            s3.delete_object(Bucket=t.bucket, Key=key)
            vam_deleted += 1
    backups_deleted = 0
    for backup in plan.backups_to_delete:
        if guard.delete(backup.rel, backup.etag) != CHANGED:
            backups_deleted += 1
    _forget(t, user, plan, deleted)
    _prune_empty_folders(t.staging)
    # re-check: what is still there on each side cleaned
    remaining_remote = remaining_local = backups_left = backups_bytes = 0
    if REMOTE in plan.sides:
        listed = list_project(s3, t.bucket, t.prefix)
        left = {o.rel for o in listed if not is_vam_key(o.rel)}
        remaining_remote = len(left)
        still = [o for o in listed if is_backup_key(o.rel)]
        backups_left, backups_bytes = len(still), sum(o.size for o in still)
        gone_wrong = [i for i in deleted if i.side == REMOTE and i.rel in left]
        if gone_wrong:
            failed.extend((i, "still in S3 after deleting") for i in gone_wrong)
    if LOCAL in plan.sides and t.staging.is_dir():
        remaining_local = sum(1 for _ in _files(t.staging, rules))
    return CleanupResult(
        tuple(deleted),
        tuple(failed),
        aborted,
        vam_deleted,
        remaining_remote,
        remaining_local,
        kept=tuple(kept),
        backups_deleted=backups_deleted,
        backups_left=backups_left,
        backups_bytes=backups_bytes,
        partials_removed=sum(not p.temp.exists() for p in plan.partials),
    )


def _here_too(t: Target, item: Item) -> str | None:
    """None when this computer holds the S3 object's content right now (re-read, never the
    cache's word); else why not."""
    if not item.other_side or item.crc32 is None:
        return "not on this computer"
    path = item.path or t.staging / item.rel
    try:
        crc = file_crc32(path)
    except FileNotFoundError:
        return "deleted here since the plan"
    except OSError as exc:
        return f"cannot be read here ({exc.strerror or exc})"
    if crc != item.crc32:
        return (
            f"changed here since the last sync (here CRC32 {crc:08x}, in S3 {item.crc32:08x}): "
            "the S3 version exists nowhere else"
        )
    return None


def _delete_remote(
    s3, t: Target, item: Item, guard: RemoteGuard, plan: CleanupPlan
) -> tuple[str | None, Kept | None]:
    """Delete one S3 object if it is still the planned version; (why not, the backup kept)."""
    at_risk = _here_too(t, item) if item.side == REMOTE else None
    if at_risk and item.safe and not plan.force:
        return f"kept in S3: {at_risk}; run `{t.command('status')}`", None
    backup = None
    if at_risk and not plan.include_backups:
        try:
            backup = guard.keep(item.key[len(t.prefix) :], item.etag, item.size)
        except Changed:
            return "changed in S3 since the plan (someone uploaded a new version); kept", None
    done = guard.delete(item.key[len(t.prefix) :], item.etag)
    if done == CHANGED:
        return "changed in S3 since the plan (someone uploaded a new version); kept", backup
    return None, backup  # deleted, or already gone


def _delete_local(t: Target, item: Item) -> str | None:
    path = item.path or t.staging / item.rel
    try:
        now = Stamp.read(path)
    except FileNotFoundError:
        return None
    if now != (item.stamp or now) or (now.size, now.mtime_ns) != (item.size, item.mtime_ns):
        return "changed here since the plan; kept"
    if item.safe:
        # "same content in S3" came from the checksum cache: read the bytes before they go.
        # A file that fails this is kept even with --force, which the plan never asked for it.
        try:
            crc = file_crc32(path)
        except OSError as exc:
            return f"cannot be read to check it ({exc.strerror or exc}); kept"
        if item.crc32 is None or crc != item.crc32:
            in_s3 = f"{item.crc32:08x}" if item.crc32 is not None else "unknown"
            return (
                f"its content (CRC32 {crc:08x}) is not what S3 holds ({in_s3}): it changed since "
                f"the last sync; kept — upload it first: `{t.command('up')}`"
            )
    path.unlink()
    return None


def _forget(t: Target, user: str, plan: CleanupPlan, deleted: list[Item]) -> None:
    """Files now gone from both sides leave the sync record, so status starts clean."""
    if not t.state_dir.is_dir():
        return
    base = load_record(t.state_dir, user)
    gone = {i.rel for i in deleted}
    if set(plan.sides) != {REMOTE, LOCAL}:
        # one side cleaned: the record stays, so status reports deleted-here/-there, not "new"
        return
    changed = False
    for rel in gone & set(base):
        base.pop(rel)
        changed = True
    if changed:
        save_record(t.state_dir, user, t.project_id, base)


def _files(folder: Path, rules: FileRules):
    from vam.core.files import walk

    return walk(folder, rules)


def _prune_empty_folders(folder: Path) -> None:
    if not folder.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(folder, topdown=False):
        if Path(dirpath) != folder and not dirnames and not filenames:
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
