"""`s3.up`: upload new and changed files of the project's s3-staging/; conflicts only with
--force, and then only over the exact S3 version that was shown (If-Match)."""

from __future__ import annotations

import threading
import time

import botocore.exceptions as bce

from vam.core.errors import NotFoundError
from vam.core.files import FileRules
from vam.core.layout import STAGING
from vam.s3sync import transfer
from vam.s3sync.describe import describe_remote
from vam.s3sync.fingerprint import ChecksumCache, Hasher
from vam.s3sync.model import Action, ActionKind, BaseEntry, FileState, RemoteEntry
from vam.s3sync.parallel import each_transfer
from vam.s3sync.pipeline import (
    _apply_bookkeeping,
    _idle,
    _in_order_of,
    _recheck,
    _skip_messages,
    _unreadable,
    now_iso,
)
from vam.s3sync.plan import upload_actions
from vam.s3sync.remoteindex import IndexEntry, update_index
from vam.s3sync.report import Outcome, SyncReport
from vam.s3sync.s3guard import CHANGED, WEAKER, Changed, Kept, RemoteGuard
from vam.s3sync.scan import scan_project
from vam.s3sync.syncrecord import load_record, save_record
from vam.s3sync.target import Target
from vam.s3sync.transfer.progress import make_progress


def _error_code(exc: bce.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def upload(
    s3,
    target: Target,
    *,
    user: str,
    rules: FileRules,
    force: bool = False,
    delete: bool = False,
    dry_run: bool = False,
    max_rate: int | None = None,
    show_progress: bool | None = None,
    hasher: Hasher | None = None,
) -> SyncReport:
    """`s3.up`: upload new and changed files of the project's s3-staging/; conflicts only with
    --force, and then only over the exact S3 version that was shown (If-Match)."""
    hasher = hasher or Hasher()
    if not target.staging.is_dir():
        raise NotFoundError(
            f"{target.folder / STAGING} does not exist: put the files for S3 in the project's "
            f"{STAGING}/ folder, then run the same command again"
        )
    scan = scan_project(
        s3, target, user=user, rules=rules, hasher=hasher, save_cache=not dry_run, defer_new=True
    )
    plan = scan.plan
    actions = upload_actions(plan, force=force, delete=delete)
    messages = _skip_messages(target, plan, actions)
    if dry_run:
        return SyncReport("up", target, plan, actions, True, messages=messages,
                          bytes_read=hasher.bytes_read, skipped=scan.skipped)  # fmt: skip
    base = load_record(target.state_dir, user)
    if _apply_bookkeeping(actions, plan, base):
        save_record(target.state_dir, user, target.project_id, base)
    cache = scan.cache or ChecksumCache(target.state_dir)
    outcomes: list[Outcome] = []
    index_changes: dict[str, IndexEntry] = {}
    uploads = [a for a in actions if a.kind is ActionKind.UPLOAD]
    guard = RemoteGuard(s3, target.bucket, target.prefix)  # keeps what --force/--delete replace
    kept: dict[str, Kept | None] = {}
    sent = 0
    cancel = threading.Event()  # Ctrl-C or a failure: the other files in flight stop too
    with make_progress(sum(a.size for a in uploads), enabled=show_progress) as progress:

        def send(action: Action) -> tuple[transfer.Uploaded, int] | Outcome:
            row = plan.row(action.rel)
            assert row is not None and row.local is not None
            local = row.local
            if action.state is FileState.CONFLICT and row.remote is not None:
                refused = _keep_before_replacing(guard, target, action, row.remote, kept)
                if refused is not None:
                    return refused
            started = time.time_ns()
            try:
                done = transfer.upload_file(
                    s3,
                    target.bucket,
                    row.remote.key if row.remote else f"{target.prefix}{action.rel}",
                    local.path or target.staging / action.rel,
                    crc32=local.crc32,
                    metadata={
                        transfer.META_UPLOADED_BY: user,
                        transfer.META_MTIME: str(local.mtime_ns),
                    },
                    if_match=action.if_match,
                    if_none_match=action.if_none_match,
                    progress=progress,
                    max_rate=max_rate,
                    state_dir=target.state_dir,
                    planned=local.stamp,
                    cancel=cancel,
                    head_first=not guard.conditions().writes,
                )
            except transfer.RemoteChanged:
                return Outcome.failed(
                    action,
                    f"conflict: {action.rel} changed in S3 while uploading (someone else "
                    f"uploaded it); nothing overwritten. Run `{target.command('status')}`",
                    FileState.CONFLICT,
                )
            except transfer.ChangedDuringUpload as exc:
                return Outcome.failed(action, str(exc))
            except OSError as exc:  # unreadable, or held by another program (Windows)
                return Outcome.failed(action, _unreadable(action.rel, exc))
            return done, started

        for action, result in each_transfer(uploads, send, cancel):
            if isinstance(result, Outcome):
                outcomes.append(result)
                continue
            done, started = result
            row = plan.row(action.rel)
            assert row is not None and row.local is not None
            local = row.local
            sent += done.size
            stamp = now_iso()
            if local.stamp is not None:  # the bytes sent are this version's: spare a re-read
                cache.remember(action.rel, local.stamp, done.crc32, hashed_ns=started)
                cache.save()
            base[action.rel] = BaseEntry(
                rel=action.rel,
                size=done.size,
                crc32=done.crc32,
                etag=done.etag,
                version_id=done.version_id,
                mtime_ns=local.mtime_ns,
                synced_at=stamp,
                uploaded_by=user,
            )
            save_record(target.state_dir, user, target.project_id, base)
            index_changes[action.rel] = IndexEntry(
                size=done.size,
                crc32=done.crc32,
                etag=done.etag,
                version_id=done.version_id,
                uploaded_by=user,
                uploaded_at=stamp,
                mtime_ns=local.mtime_ns,
            )
            note = ""
            if row.remote is not None and action.state is FileState.CONFLICT:
                kept_as = guard.kept_note(kept.get(action.rel), "replaced")
                note = f"replaced {describe_remote(row.remote)}; {kept_as}"
            if not guard.conditions().writes:
                note = f"{note}; {WEAKER}" if note else WEAKER
            outcomes.append(Outcome.done(action, done.size, note, resumed=done.resumed_bytes))
    outcomes.sort(key=_in_order_of(uploads))
    deleted: set[str] = set()
    for action in (a for a in actions if a.kind is ActionKind.DELETE_REMOTE):
        row = plan.row(action.rel)
        assert row is not None and row.remote is not None
        outcome = _delete_remote(s3, target, action, guard, key_rel(row.remote))
        outcomes.append(outcome)
        if outcome.ok:
            deleted.add(action.rel)
            base.pop(action.rel, None)
            save_record(target.state_dir, user, target.project_id, base)
    if index_changes or deleted or any(a.kind is ActionKind.RECORD for a in actions):
        present = {r.rel for r in plan.rows if r.remote is not None} - deleted
        for row in plan.with_state(FileState.SYNCED):
            if row.remote and row.remote.crc32 is not None and row.rel not in index_changes:
                # learnt by HEAD or by recomputing a foreign ETag: spare the next status the work
                index_changes[row.rel] = IndexEntry(
                    size=row.remote.size, crc32=row.remote.crc32, etag=row.remote.etag,
                    version_id=row.remote.version_id, uploaded_by=row.remote.uploaded_by,
                    uploaded_at=row.remote.last_modified.isoformat(), mtime_ns=row.remote.mtime_ns,
                )  # fmt: skip
        update_index(s3, target.bucket, target.prefix, index_changes, present=present, user=user)
    after, unsettled = _recheck(
        s3, target, user, rules, hasher, outcomes, _idle(plan, actions), cache
    )
    return SyncReport(
        "up", target, plan, actions, False, tuple(outcomes), messages, after, unsettled,
        bytes_transferred=sent, bytes_read=hasher.bytes_read,
            skipped=scan.skipped,
    )  # fmt: skip


def _keep_before_replacing(
    guard: RemoteGuard, target: Target, action: Action, remote: RemoteEntry,
    kept: dict[str, Kept | None],
) -> Outcome | None:  # fmt: skip
    """--force over the other person's version: where no bucket versioning keeps it, copy that
    exact version to .vam/backups/ in S3 first. An Outcome when it must not be replaced."""
    try:
        kept[action.rel] = guard.keep(key_rel(remote), remote.etag, remote.size)
    except Changed:
        return Outcome(action.rel, action.kind, FileState.CONFLICT, False, 0,
                       f"conflict: {action.rel} changed in S3 again since the plan; nothing "
                       f"overwritten. Run `{target.command('status')}`")  # fmt: skip
    except bce.ClientError as exc:
        why = _error_code(exc) or str(exc)
        return Outcome(action.rel, action.kind, action.state, False, 0,
                       f"{action.rel} not uploaded: vam could not keep a copy of the S3 version "
                       f"it would replace ({why}); nothing overwritten")  # fmt: skip
    return None


def key_rel(remote: RemoteEntry) -> str:
    """The object's key under the project prefix, as S3 spells it (`rel` is its NFC form)."""
    return remote.name or remote.rel


def _delete_remote(s3, target: Target, action: Action, guard: RemoteGuard, name: str) -> Outcome:
    """Delete the S3 object, only if it is still the version the sync record knows (If-Match
    where the bucket honours it, else a HEAD right before); where no bucket versioning keeps it,
    a copy of that version goes to .vam/backups/ in S3 first."""
    changed = Outcome(
        action.rel, action.kind, FileState.CONFLICT, False, 0,
        f"{action.rel} changed in S3 since it was listed; not deleted. Run "
        f"`{target.command('status')}`",
    )  # fmt: skip
    try:
        kept = guard.keep(name, action.if_match or "", action.size)
    except Changed:
        return changed
    if guard.delete(name, action.if_match or "") == CHANGED:
        return changed
    weaker = "" if guard.conditions().deletes else f"; {WEAKER}"
    return Outcome(
        action.rel, action.kind, action.state, True, 0,
        f"deleted in S3; {guard.kept_note(kept, 'deleted')}{weaker}",
    )  # fmt: skip
