"""`s3.down`: download new and changed S3 files into s3-staging/; conflicts only with --force,
and then the local file is kept under .vam/backups/ first."""

from __future__ import annotations

import errno
import shutil
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from vam.core import durable
from vam.core.files import FileRules, Stamp, link_in_path
from vam.core.units import format_size
from vam.s3sync import transfer
from vam.s3sync.fingerprint import ChecksumCache, Hasher
from vam.s3sync.keys import check_relative
from vam.s3sync.model import Action, ActionKind, BaseEntry, FileRow, FileState, LocalEntry, Plan
from vam.s3sync.overwrite import ChangedHere, changed_since, publish_download
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
from vam.s3sync.plan import download_actions
from vam.s3sync.report import Outcome, SyncReport
from vam.s3sync.s3guard import BACKUPS
from vam.s3sync.scan import scan_project
from vam.s3sync.syncrecord import load_record, save_record
from vam.s3sync.target import Target
from vam.s3sync.transfer.progress import make_progress


def _delete_local(
    target: Target, action: Action, seen: LocalEntry, stamp: str, hasher: Hasher
) -> Outcome:
    """Move the local file into .vam/backups/ (never erase it), if it is still, byte for byte,
    the version that was planned (read again now)."""
    path = seen.path or target.staging / action.rel
    if not path.exists():
        return Outcome.done(action, message="already gone here")
    why = changed_since(path, seen, hasher)
    if why is not None:
        return Outcome.failed(action, f"{action.rel} {why}; not removed")
    dest = target.state_dir / BACKUPS / stamp / action.rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    durable.replace(path, dest)
    return Outcome.done(action, message=f"moved to {dest}")


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
) -> SyncReport:
    """`s3.down`: download new and changed S3 files into s3-staging/ (created when needed);
    conflicts only with --force, and then the local file is kept under .vam/backups/ first.

    A local file is replaced only if, right before the rename, it is still the version the plan
    compared (overwrite.publish_download reads it again); one saved meanwhile stays, and the
    download waits beside it under a conflict name. Free space is checked first."""
    hasher = hasher or Hasher()
    scan = scan_project(s3, target, user=user, rules=rules, hasher=hasher, save_cache=not dry_run)
    plan = scan.plan
    actions = download_actions(plan, force=force, delete=delete)
    messages = _skip_messages(target, plan, actions)
    if dry_run:
        return SyncReport("down", target, plan, actions, True, messages=messages,
                          bytes_read=hasher.bytes_read, skipped=scan.skipped)  # fmt: skip
    need, free, folder = download_space(target, plan, actions)
    if need > free:
        raise transfer.DiskFull(
            f"not enough space for the download: needs {format_size(need)} in {folder}, "
            f"{format_size(free)} free; free some space and run the same command again"
        )
    base = load_record(target.state_dir, user)
    if _apply_bookkeeping(actions, plan, base):
        save_record(target.state_dir, user, target.project_id, base)
    cache = scan.cache or ChecksumCache(target.state_dir)
    outcomes: list[Outcome] = []
    downloads = [a for a in actions if a.kind is ActionKind.DOWNLOAD]
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    got = 0
    cancel = threading.Event()  # Ctrl-C or a failure: the other files in flight stop too
    with make_progress(sum(a.size for a in downloads), enabled=show_progress) as progress:

        def fetch(action: Action) -> transfer.Downloaded | Outcome:
            row = plan.row(action.rel)
            assert row is not None and row.remote is not None
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
            backup = target.state_dir / BACKUPS / stamp / action.rel if action.backup else None
            who = remote.uploaded_by or "S3"

            def publish(temp: Path, final: Path) -> Path | None:
                return publish_download(
                    temp,
                    final,
                    rel=action.rel,
                    seen=seen,
                    hasher=hasher,
                    backup=backup,
                    who=who,
                    when=started.strftime("%Y-%m-%d %H%M"),
                )

            try:
                return transfer.download_file(
                    s3,
                    target.bucket,
                    remote.key,
                    dest,
                    size=remote.size,
                    etag=remote.etag,
                    crc32=remote.crc32,
                    mtime_ns=remote.mtime_ns,
                    progress=progress,
                    max_rate=max_rate,
                    state_dir=target.state_dir,
                    cancel=cancel,
                    publish=publish,
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
                if exc.errno == errno.ENOSPC:  # the others would fail the same way: stop
                    have = transfer.resumable_download(
                        target.state_dir, target.bucket, remote.key, dest, remote.etag, remote.size
                    )
                    raise transfer.disk_full(dest, remote.size, have) from None
                return Outcome.failed(action, _unreadable(action.rel, exc))

        for action, result in each_transfer(downloads, fetch, cancel):
            if isinstance(result, Outcome):
                outcomes.append(result)
                continue
            done = result
            row = plan.row(action.rel)
            assert row is not None and row.remote is not None
            remote = row.remote
            crc = done.crc32 if done.crc32 is not None else remote.crc32
            if crc is None:
                crc = hasher.crc32(done.path)
            now = Stamp.read(done.path)
            cache.remember(action.rel, now, crc)
            cache.save()
            base[action.rel] = BaseEntry(
                rel=action.rel,
                size=done.size,
                crc32=crc,
                etag=done.etag,
                version_id=done.version_id or remote.version_id,
                mtime_ns=now.mtime_ns,
                synced_at=now_iso(),
                uploaded_by=remote.uploaded_by,
            )
            save_record(target.state_dir, user, target.project_id, base)
            got += done.size
            note = f"your version is kept in {done.published}" if done.published else ""
            outcomes.append(Outcome.done(action, done.size, note, resumed=done.resumed_bytes))
    outcomes.sort(key=_in_order_of(downloads))
    for action in (a for a in actions if a.kind is ActionKind.DELETE_LOCAL):
        row = plan.row(action.rel)
        assert row is not None and row.local is not None
        outcome = _delete_local(target, action, row.local, stamp, hasher)
        outcomes.append(outcome)
        if outcome.ok:
            base.pop(action.rel, None)
            save_record(target.state_dir, user, target.project_id, base)
    after, unsettled = _recheck(
        s3, target, user, rules, hasher, outcomes, _idle(plan, actions), cache
    )
    return SyncReport(
        "down", target, plan, actions, False, tuple(outcomes), messages, after, unsettled,
        bytes_transferred=got, bytes_read=hasher.bytes_read,
            skipped=scan.skipped,
    )  # fmt: skip
