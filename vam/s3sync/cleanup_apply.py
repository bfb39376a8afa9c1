"""Carrying out a cleanup plan (cleanup.py): each file deleted only if it is still what was
planned, the S3 versions at risk kept first, unfinished uploads aborted, vam's own objects removed
last; then the re-check of what is left on each side cleaned.

When is an S3 object at risk? Its content is safe when it is also on this computer: but the plan
learnt that from the checksum cache, so right before deleting, the local file is read again and
its CRC32 must equal the object's. A forced delete of a file that exists only in S3 (never
downloaded, deleted here, changed here since), or a synced file whose local copy no longer
matches, is at risk: where bucket versioning does not keep it (off, suspended, or not readable
with these credentials), that exact version is first copied server-side to the project's
.vam/backups/ in S3 (s3guard).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vam.core.checksum import file_crc32
from vam.core.files import FileRules, Stamp, walk
from vam.core.units import format_size
from vam.s3sync.cleanup import LOCAL, REMOTE, CleanupPlan, Item
from vam.s3sync.remote import list_project
from vam.s3sync.remoteindex import is_vam_key
from vam.s3sync.s3guard import CHANGED, Changed, Kept, RemoteGuard, is_backup_key
from vam.s3sync.syncrecord import load_record, save_record
from vam.s3sync.target import Target
from vam.s3sync.uploads import abort


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

    def as_dict(self, plan: CleanupPlan) -> dict[str, Any]:
        """For `--json`: what was deleted and what failed; what the re-check found left."""
        return {
            "deleted": [i.as_dict() for i in self.deleted],
            "failed": [{**i.as_dict(), "error": why} for i, why in self.failed],
            "aborted_uploads": self.aborted,
            "vam_objects_deleted": self.vam_deleted,
            "remaining_remote": self.remaining_remote if REMOTE in plan.sides else None,
            "remaining_local": self.remaining_local if LOCAL in plan.sides else None,
        }

    def lines(self, plan: CleanupPlan) -> list[str]:
        """What was done, what the re-check found left, and what failed (one line each)."""
        t = plan.target
        done = [f"deleted {len(self.deleted)} file(s)"]
        if self.aborted:
            done.append(f"aborted {self.aborted} unfinished upload(s)")
        if self.partials_removed:
            done.append(f"removed {self.partials_removed} partial download(s)")
        if self.vam_deleted:
            done.append(f"removed vam's {self.vam_deleted} index/handoff object(s)")
        out = [", ".join(done)]
        for item, kept_as in self.kept:
            out.append(f"  kept the deleted S3 version of {item.rel} as {kept_as.url}")
        if self.backups_deleted:
            out.append(f"  deleted {self.backups_deleted} backup(s) from .vam/backups/ in S3")
        if REMOTE in plan.sides:
            out.append(f"re-checked S3: {self.remaining_remote} project file(s) left")
            if self.backups_left:
                out.append(
                    f"kept {self.backups_left} backup(s) ({format_size(self.backups_bytes)}) "
                    f"under s3://{t.bucket}/{t.prefix}.vam/backups/: the versions vam kept "
                    "before replacing or deleting them; to delete them too: "
                    f"{t.command('cleanup', '--include-backups')}"
                )
        if LOCAL in plan.sides:
            out.append(f"re-checked here: {self.remaining_local} file(s) left in {t.staging}")
        out += [f"  ! {item.rel}: {why}" for item, why in self.failed]
        return out


def apply_cleanup(s3, plan: CleanupPlan, *, user: str, rules: FileRules) -> CleanupResult:
    """Delete what the plan allows, each only if unchanged since planning; then re-check."""
    t = plan.target
    deleted: list[Item] = []
    failed: list[tuple[Item, str]] = []
    kept: list[tuple[Item, Kept]] = []
    guard = RemoteGuard(
        s3,
        t.bucket,
        t.prefix,
        probe_prefix=t.brand_prefix,
        versioning=plan.versioning,
        conditions=plan.conditions,
    )
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
        remaining_local = sum(1 for _ in walk(t.staging, rules))
    return CleanupResult(
        deleted=tuple(deleted),
        failed=tuple(failed),
        aborted=aborted,
        vam_deleted=vam_deleted,
        remaining_remote=remaining_remote,
        remaining_local=remaining_local,
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


def _prune_empty_folders(folder: Path) -> None:
    if not folder.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(folder, topdown=False):
        if Path(dirpath) != folder and not dirnames and not filenames:
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
