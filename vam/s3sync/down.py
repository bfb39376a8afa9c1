"""`s3.down`: download new and changed S3 files into s3-staging/ (created when needed); conflicts
only with --force, and then the local file is kept under .vam/backups/ first. The download's part
of the pipeline (pipeline.py): room for it first, fetch one file, book it in the sync record, move
a file deleted in S3 out of the way here (--delete)."""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from vam.core import durable
from vam.core.errors import NotFoundError
from vam.core.files import FileRules, Stamp, link_in_path
from vam.core.units import format_size
from vam.s3sync import transfer
from vam.s3sync.fingerprint import Hasher, Hold
from vam.s3sync.keys import check_relative
from vam.s3sync.model import Action, ActionKind, BaseEntry, FileRow, FileState, Plan
from vam.s3sync.overwrite import ChangedHere, changed_since, publish_download
from vam.s3sync.pipeline import Direction, Run, now_iso, sync, unreadable
from vam.s3sync.plan import download_actions
from vam.s3sync.report import Outcome, SyncReport
from vam.s3sync.s3guard import BACKUPS
from vam.s3sync.target import Target
from vam.s3sync.transfer.progress import Progress


def download(
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
    into_existing: bool = False,
) -> SyncReport:
    """`s3.down`: download new and changed S3 files into s3-staging/ (created when needed);
    conflicts only with --force, and then the local file is kept under .vam/backups/ first.

    `into_existing` (vam watch): the project folder must be there, before the run and before
    each file: one archived or moved away meanwhile is never brought back by the download;
    ProjectGone is raised instead, and nothing more is written.

    A local file is replaced only if, right before the rename, it is still the version the plan
    compared (overwrite.publish_download reads it again); one saved meanwhile stays, and the
    download waits beside it under a conflict name. Free space is checked first."""
    return sync(
        s3,
        target,
        Download(into_existing=into_existing),
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


class Download(Direction):
    """The download's part of the pipeline."""

    name = "down"
    transfer_kind = ActionKind.DOWNLOAD
    deletion_kind = ActionKind.DELETE_LOCAL

    def __init__(self, *, into_existing: bool = False):
        self.into_existing = into_existing

    def _still_there(self, target: Target) -> None:
        if self.into_existing and not target.folder.is_dir():
            raise ProjectGone(target.folder)

    def actions(self, plan: Plan, *, force: bool, delete: bool) -> tuple[Action, ...]:
        return download_actions(plan, force=force, delete=delete)

    def check(self, target: Target, plan: Plan, actions: Iterable[Action]) -> None:
        self._still_there(target)
        need, free, folder = download_space(target, plan, actions)
        if need > free:
            raise transfer.DiskFull(
                f"not enough space for the download: needs {format_size(need)} in {folder}, "
                f"{format_size(free)} free; free some space and run the same command again"
            )

    def start(self, run: Run) -> None:
        self.started = datetime.now(UTC)
        # the folder under .vam/backups/ where this run keeps what it replaces or removes
        self.stamp = self.started.strftime("%Y%m%dT%H%M%SZ")

    def move(self, run: Run, action: Action) -> transfer.Downloaded | Outcome:
        """Fetch one file; it replaces the local one only if that is still what the plan saw."""
        target = run.target
        self._still_there(target)  # (raised: the run stops, the files in flight with it)
        row = run.row(action)
        assert row.remote is not None
        remote = row.remote
        dest = _local_path(target, row)
        link = link_in_path(target.staging, dest.relative_to(target.staging).as_posix())
        if link is not None:
            return Outcome.failed(
                action,
                f"{action.rel} not downloaded: {link} is a link (or not a folder) here, and "
                "vam never writes through links; make it a real folder",
                FileState.SKIPPED,
            )
        # a cheap look first: the local file must still be what the plan saw
        seen = row.local
        try:
            now = Stamp.read(dest)
        except FileNotFoundError:
            now = None
        if now != (seen.stamp if seen else None):
            return Outcome.failed(
                action,
                f"{action.rel} changed here while planning; nothing replaced. Run "
                f"`{target.command('down')}` again",
            )
        if self.into_existing:  # the folders under the project's, never the project's own
            _make_folders_below(durable.native(target.folder), dest.parent)
        backup = target.state_dir / BACKUPS / self.stamp / action.rel if action.backup else None
        who = remote.uploaded_by or "S3"

        def publish(temp: Path, final: Path) -> Path | None:
            return publish_download(
                temp,
                final,
                rel=action.rel,
                seen=seen,
                hasher=run.hasher,
                backup=backup,
                who=who,
                when=self.started.strftime("%Y-%m-%d %H%M"),
            )

        try:
            return transfer.download_file(
                run.s3,
                target.bucket,
                remote.key,
                dest,
                size=remote.size,
                etag=remote.etag,
                crc32=remote.crc32,
                mtime_ns=remote.mtime_ns,
                progress=run.progress,
                max_rate=run.max_rate,
                state_dir=target.state_dir,
                cancel=run.cancel,
                publish=publish,
                make_folder=not self.into_existing,
            )
        except transfer.RemoteChanged:
            return Outcome.failed(
                action,
                f"{action.rel} changed in S3 while downloading; nothing replaced. Run "
                f"`{target.command('status')}`",
            )
        except ChangedHere as exc:
            copy = exc.copy.name if exc.copy else "(not kept)"
            return Outcome.failed(
                action,
                f"conflict: {action.rel} {exc.why}, while {who}'s version was coming down; "
                f"yours is untouched and {who}'s waits beside it as {copy!r}: compare them, "
                f"keep one as {PurePosixPath(action.rel).name!r} and delete the other",
                FileState.CONFLICT,
            )
        except durable.FileBusy as exc:
            return Outcome.failed(action, str(exc))
        except OSError as exc:
            self._still_there(target)  # moved away while the file came down: say that instead
            if exc.errno == errno.ENOSPC:  # the others would fail the same way: stop
                have = transfer.resumable_download(
                    target.state_dir, target.bucket, remote.key, dest, remote.etag, remote.size
                )
                raise transfer.disk_full(dest, remote.size, have) from None
            return Outcome.failed(action, unreadable(action.rel, exc))

    def book(self, run: Run, action: Action, moved: transfer.Downloaded) -> Outcome:
        """The file is here: its checksum and its sync record entry."""
        self._still_there(run.target)  # its records are not written into a folder made again
        done = moved
        row = run.row(action)
        assert row.remote is not None
        remote = row.remote
        crc = done.crc32 if done.crc32 is not None else remote.crc32
        if crc is None:
            crc = run.hasher.crc32(done.path)
        now = Stamp.read(done.path)
        run.cache.remember(action.rel, now, crc)
        run.cache.save()
        run.base[action.rel] = BaseEntry(
            rel=action.rel,
            size=done.size,
            crc32=crc,
            etag=done.etag,
            version_id=done.version_id or remote.version_id,
            mtime_ns=now.mtime_ns,
            synced_at=now_iso(),
            uploaded_by=remote.uploaded_by,
        )
        run.save_record()
        note = f"your version is kept in {done.published}" if done.published else ""
        return Outcome.done(action, done.size, note, resumed=done.resumed_bytes)

    def delete(self, run: Run, action: Action) -> Outcome:
        """Move the local file into .vam/backups/ (never erase it), if it is still, byte for
        byte, the version that was planned (read again now)."""
        target = run.target
        seen = run.row(action).local
        assert seen is not None
        path = seen.path or target.staging / action.rel
        if not path.exists():
            return Outcome.done(action, message="already gone here")
        why = changed_since(path, seen, run.hasher)
        if why is not None:
            return Outcome.failed(action, f"{action.rel} {why}; not removed")
        dest = target.state_dir / BACKUPS / self.stamp / action.rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        durable.replace(path, dest)
        return Outcome.done(action, message=f"moved to {dest}")


def _make_folders_below(root: Path, folder: Path) -> None:
    """Make `folder` and the folders between it and `root`, one at a time, never `root` itself:
    one moved away meanwhile is not made again (ProjectGone). A folder not under `root`: nothing
    is made."""
    try:
        below = folder.relative_to(root).parts
    except ValueError:
        return
    for depth in range(1, len(below) + 1):
        try:
            root.joinpath(*below[:depth]).mkdir(exist_ok=True)
        except FileNotFoundError:
            raise ProjectGone(root) from None


class ProjectGone(NotFoundError):
    """The project folder a download had to go into is no longer there (into_existing)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(f"{folder} is gone (archived or moved?): nothing downloaded into it")


def _local_path(target: Target, row: FileRow) -> Path:
    """Where a file of the plan lives (or will live) here: its name on disk when it has one (a
    Mac's NFD name stays as it is), else its NFC name under s3-staging/."""
    if row.local is not None and row.local.path is not None:
        return row.local.path
    assert row.remote is not None
    return target.staging / check_relative(row.rel, row.remote.key)


def download_space(
    target: Target, plan: Plan, actions: Iterable[Action], *, margin: int = 64 * 1024
) -> tuple[int, int, Path]:
    """(bytes the downloads will write, bytes free, the folder they go to). A partial download an
    earlier run left is counted as what is missing of it; `margin` per file covers vam's small
    records beside it."""
    need = 0
    for action in actions:
        if action.kind is not ActionKind.DOWNLOAD:
            continue
        row = plan.row(action.rel)
        assert row is not None and row.remote is not None
        remote = row.remote
        dest = _local_path(target, row)
        have = transfer.resumable_download(
            target.state_dir, target.bucket, remote.key, dest, remote.etag, remote.size
        )
        need += remote.size - have + margin
    folder = target.staging
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return need, shutil.disk_usage(folder).free, target.staging
