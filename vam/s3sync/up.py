"""`s3.up`: upload new and changed files of the project's s3-staging/; conflicts only with
--force, and then only over the exact S3 version that was shown (If-Match). The upload's part of
the pipeline (pipeline.py): send one file, book it in the sync record and the S3 index, delete an
S3 file deleted here (--delete), keeping what is replaced or deleted where no versioning does."""

from __future__ import annotations

import time

import botocore.exceptions as bce

from vam.core.errors import NotFoundError
from vam.core.files import FileRules
from vam.core.layout import STAGING
from vam.s3sync import transfer
from vam.s3sync.describe import describe_remote
from vam.s3sync.fingerprint import Hasher, Hold
from vam.s3sync.model import Action, ActionKind, BaseEntry, FileState, Plan, RemoteEntry
from vam.s3sync.pipeline import Direction, Run, now_iso, sync, unreadable
from vam.s3sync.plan import upload_actions
from vam.s3sync.remoteindex import IndexEntry, RemoteIndex, update_index
from vam.s3sync.report import Outcome, SyncReport
from vam.s3sync.s3guard import CHANGED, WEAKER, Changed, Kept, RemoteGuard
from vam.s3sync.target import Target
from vam.s3sync.transfer.progress import Progress


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
    hold: Hold | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """`s3.up`: upload new and changed files of the project's s3-staging/; conflicts only with
    --force, and then only over the exact S3 version that was shown (If-Match)."""
    if not target.staging.is_dir():
        raise NotFoundError(
            f"{target.folder / STAGING} does not exist: put the files for S3 in the project's "
            f"{STAGING}/ folder, then run the same command again"
        )
    return sync(
        s3,
        target,
        Upload(),
        user=user,
        rules=rules,
        force=force,
        delete=delete,
        dry_run=dry_run,
        max_rate=max_rate,
        show_progress=show_progress,
        hasher=hasher,
        hold=hold,
        progress=progress,
    )


class Upload(Direction):
    """The upload's part of the pipeline."""

    name = "up"
    transfer_kind = ActionKind.UPLOAD
    deletion_kind = ActionKind.DELETE_REMOTE
    # a new 10 GB render is read once, as it goes out, not twice (scan_project)
    defer_new = True

    def actions(self, plan: Plan, *, force: bool, delete: bool) -> tuple[Action, ...]:
        return upload_actions(plan, force=force, delete=delete)

    def start(self, run: Run) -> None:
        self.index_changes: dict[str, IndexEntry] = {}
        # keeps what --force and --delete replace
        self.guard = RemoteGuard(run.s3, run.target.bucket, run.target.prefix)
        self.kept: dict[str, Kept | None] = {}

    def move(self, run: Run, action: Action) -> tuple[transfer.Uploaded, int] | Outcome:
        """Send one file: (what was uploaded, when its bytes began to be read)."""
        target = run.target
        row = run.row(action)
        assert row.local is not None
        local = row.local
        if action.state is FileState.CONFLICT and row.remote is not None:
            refused = self._keep_before_replacing(target, action, row.remote)
            if refused is not None:
                return refused
        started = time.time_ns()
        try:
            done = transfer.upload_file(
                run.s3,
                target.bucket,
                row.remote.key if row.remote else f"{target.prefix}{action.rel}",
                local.path or target.staging / action.rel,
                crc32=local.crc32,
                metadata={
                    transfer.META_UPLOADED_BY: run.user,
                    transfer.META_MTIME: str(local.mtime_ns),
                },
                if_match=action.if_match,
                if_none_match=action.if_none_match,
                progress=run.progress,
                max_rate=run.max_rate,
                state_dir=target.state_dir,
                planned=local.stamp,
                cancel=run.cancel,
                head_first=not self.guard.conditions().writes,
                complete_checked=self.guard.conditions().completes(if_match=bool(action.if_match)),
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
            return Outcome.failed(action, unreadable(action.rel, exc))
        return done, started

    def book(self, run: Run, action: Action, moved: tuple[transfer.Uploaded, int]) -> Outcome:
        """The file is in S3: its checksum, its sync record entry and its index entry."""
        done, started = moved
        row = run.row(action)
        assert row.local is not None
        local = row.local
        stamp = now_iso()
        if local.stamp is not None:  # the bytes sent are this version's: spare a re-read
            run.cache.remember(action.rel, local.stamp, done.crc32, hashed_ns=started)
            run.cache.save()
        run.base[action.rel] = BaseEntry(
            rel=action.rel,
            size=done.size,
            crc32=done.crc32,
            etag=done.etag,
            version_id=done.version_id,
            mtime_ns=local.mtime_ns,
            synced_at=stamp,
            uploaded_by=run.user,
        )
        run.save_record()
        self.index_changes[action.rel] = IndexEntry(
            size=done.size,
            crc32=done.crc32,
            etag=done.etag,
            version_id=done.version_id,
            uploaded_by=run.user,
            uploaded_at=stamp,
            mtime_ns=local.mtime_ns,
        )
        note = ""
        if row.remote is not None and action.state is FileState.CONFLICT:
            kept_as = self.guard.kept_note(self.kept.get(action.rel), "replaced")
            note = f"replaced {describe_remote(row.remote)}; {kept_as}"
        if not self.guard.conditions().writes:
            note = f"{note}; {WEAKER}" if note else WEAKER
        return Outcome.done(action, done.size, note, resumed=done.resumed_bytes)

    def delete(self, run: Run, action: Action) -> Outcome:
        """Delete the S3 object, only if it is still the version the sync record knows (If-Match
        where the bucket honours it, else a HEAD right before); where no bucket versioning keeps
        it, a copy of that version goes to .vam/backups/ in S3 first."""
        row = run.row(action)
        assert row.remote is not None
        name = key_rel(row.remote)
        changed = Outcome.failed(
            action,
            f"{action.rel} changed in S3 since it was listed; not deleted. Run "
            f"`{run.target.command('status')}`",
            FileState.CONFLICT,
        )
        try:
            kept = self.guard.keep(name, action.if_match or "", action.size)
        except Changed:
            return changed
        if self.guard.delete(name, action.if_match or "") == CHANGED:
            return changed
        kept_as = self.guard.kept_note(kept, "deleted")
        weaker = "" if self.guard.conditions().deletes else f"; {WEAKER}"
        return Outcome.done(action, message=f"deleted in S3; {kept_as}{weaker}")

    def index_hint(self, run: Run) -> RemoteIndex | None:
        """The index the scan read with what this run learnt in it (see `_learnt`): their ETags
        spare the re-check a HEAD each, as the written index would."""
        known = run.index.entries if run.index is not None else {}
        return RemoteIndex({**known, **self._learnt(run)}, None)

    def finish(self, run: Run, actions: tuple[Action, ...], deleted: set[str]) -> None:
        """The S3 index learns what was uploaded, and what the scan learnt by HEAD or by
        recomputing a foreign ETag, and forgets what was deleted."""
        if not (self.index_changes or deleted or any(a.kind is ActionKind.RECORD for a in actions)):
            return
        present = {r.rel for r in run.plan.rows if r.remote is not None} - deleted
        t = run.target
        # where the server honours If-Match / If-None-Match, the write goes on the index the scan
        # read (one round trip less); if anyone wrote it since, the condition refuses it and
        # update_index reads and merges again. Elsewhere it is read right before the write.
        current = run.index if self.guard.conditions().writes else None
        update_index(
            run.s3,
            t.bucket,
            t.prefix,
            self._learnt(run),
            present=present,
            user=run.user,
            current=current,
        )

    def _learnt(self, run: Run) -> dict[str, IndexEntry]:
        """The entries this run's index write brings: each upload's, and each file in sync whose
        checksum the scan knows (spare the next status the work)."""
        changes = dict(self.index_changes)
        for row in run.plan.with_state(FileState.SYNCED):
            remote = row.remote
            if remote and remote.crc32 is not None and row.rel not in changes:
                changes[row.rel] = IndexEntry(
                    size=remote.size,
                    crc32=remote.crc32,
                    etag=remote.etag,
                    version_id=remote.version_id,
                    uploaded_by=remote.uploaded_by,
                    uploaded_at=remote.last_modified.isoformat(),
                    mtime_ns=remote.mtime_ns,
                )
        return changes

    def _keep_before_replacing(
        self, target: Target, action: Action, remote: RemoteEntry
    ) -> Outcome | None:
        """--force over the other person's version: where no bucket versioning keeps it, copy
        that exact version to .vam/backups/ in S3 first. An Outcome when it must not be
        replaced."""
        try:
            self.kept[action.rel] = self.guard.keep(key_rel(remote), remote.etag, remote.size)
        except Changed:
            return Outcome.failed(
                action,
                f"conflict: {action.rel} changed in S3 again since the plan; nothing "
                f"overwritten. Run `{target.command('status')}`",
                FileState.CONFLICT,
            )
        except bce.ClientError as exc:
            why = _error_code(exc) or str(exc)
            return Outcome.failed(
                action,
                f"{action.rel} not uploaded: vam could not keep a copy of the S3 version it "
                f"would replace ({why}); nothing overwritten",
            )
        return None


def key_rel(remote: RemoteEntry) -> str:
    """The object's key under the project prefix, as S3 spells it (`rel` is its NFC form)."""
    return remote.name or remote.rel


def _error_code(exc: bce.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
