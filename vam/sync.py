"""S3 staging sync (SPEC §4): scan both sides -> plan -> execute -> record -> re-check.

The functions other parts call (handoff, receive, cleanup, demo):

    target_for(config, project) -> Target
    scan_project(s3, target, user=, rules=) -> Scan              (plan + what was learnt)
    upload(s3, target, user=, rules=, force=, delete=, dry_run=, max_rate=) -> SyncReport
    download(s3, target, user=, rules=, force=, delete=, dry_run=, max_rate=) -> SyncReport
    status(s3, target, user=, rules=, staging_days=) -> ProjectStatus
    brand_status(s3, config, root, brand_key, user=) -> (list[ProjectStatus], refusals)

Decisions live in plan.py (pure); moving bytes lives in transfer.py (the engine); this module
connects them, writes the sync record after every successful transfer and the S3 index after
uploads, and re-scans afterwards to confirm every transferred file is now synced.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import botocore.exceptions as bce

from vam import transfer
from vam.config import STATE_DIR, Config, FileRules
from vam.errors import ConfigError, NotFoundError
from vam.filecopy import keep_copy
from vam.files import Skipped
from vam.fingerprint import ChecksumCache, Hasher, local_listing, resolve_foreign
from vam.keys import check_relative, project_prefix, unsafe_reason
from vam.model import (
    Action,
    ActionKind,
    BaseEntry,
    FileRow,
    FileState,
    LocalEntry,
    Plan,
    RemoteEntry,
)
from vam.plan import download_actions, make_plan, upload_actions
from vam.progress import make_progress
from vam.projects import STAGING, Project, list_active, projects_dir
from vam.remote import RemoteObject, list_project, list_staging
from vam.remoteindex import IndexEntry, RemoteIndex, is_vam_key, read_index, update_index
from vam.s3guard import CHANGED, WEAKER, Changed, Kept, RemoteGuard
from vam.syncrecord import load_record, save_record
from vam.units import format_size, human_utc

BACKUPS = "backups"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Target:
    """One project on both sides: its local folder and its S3 prefix."""

    brand_key: str
    project_id: str
    folder: Path  # the project folder (may not exist yet: a project only in S3)
    bucket: str
    brand_prefix: str  # `staging/v-appydave/`

    @property
    def prefix(self) -> str:
        return project_prefix(self.brand_prefix, self.project_id)

    @property
    def staging(self) -> Path:
        return self.folder / STAGING

    @property
    def state_dir(self) -> Path:
        return self.folder / STATE_DIR

    def command(self, verb: str, *flags: str) -> str:
        """The exact command a person runs for this project."""
        extra = "".join(f" {f}" for f in flags)
        return f"vam s3.{verb} --brand {self.brand_key} --project {self.project_id}{extra}"


@dataclass(frozen=True)
class Scan:
    target: Target
    plan: Plan
    skipped: tuple[Skipped, ...] = ()  # local files not considered (symlinks outside, …)
    heads: int = 0  # HEAD requests made (objects the index and the record did not know)
    objects: int = 0  # objects listed (vam's own keys excluded)


@dataclass(frozen=True)
class Outcome:
    rel: str
    kind: ActionKind
    state: FileState
    ok: bool
    bytes: int = 0
    message: str = ""


@dataclass(frozen=True)
class SyncReport:
    direction: str  # "up" | "down"
    target: Target
    plan: Plan
    actions: tuple[Action, ...]
    dry_run: bool
    outcomes: tuple[Outcome, ...] = ()
    messages: tuple[str, ...] = ()  # skipped conflicts, deletions, refused keys: one line each
    after: Plan | None = None  # the re-check
    unsettled: tuple[str, ...] = ()  # transferred files the re-check does not find synced
    bytes_transferred: int = 0
    bytes_read: int = 0  # file bytes read for checksums (0 when nothing changed)
    skipped: tuple[Skipped, ...] = ()  # local files left out (unsafe names, symlinks outside)

    @property
    def transfers(self) -> tuple[Action, ...]:
        kinds = (ActionKind.UPLOAD, ActionKind.DOWNLOAD)
        return tuple(a for a in self.actions if a.kind in kinds)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes) and not self.unsettled


@dataclass(frozen=True)
class Recommendation:
    command: str
    why: str


@dataclass(frozen=True)
class ProjectStatus:
    target: Target
    plan: Plan
    recommendations: tuple[Recommendation, ...]
    first_expiry: datetime | None
    last_expiry: datetime | None
    heads: int = 0
    skipped: tuple[Skipped, ...] = ()


# --------------------------------------------------------------------------- helpers


# the name goes into S3 user metadata (ASCII only), the sync record's file name and IAM
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def require_user(user: str | None, settings_path: Path | None = None) -> str:
    where = settings_path or "~/.config/vam/settings.toml"
    if not user:
        raise ConfigError(
            f'who you are is not set: add user = "yourname" to {where} or set VAM_USER '
            "(it is recorded as uploaded-by and names your sync record)"
        )
    if not _USER_NAME.fullmatch(user):
        plain = unicodedata.normalize("NFKD", user).encode("ascii", "ignore").decode()
        plain = re.sub(r"[^A-Za-z0-9._-]+", "-", plain).strip("-._").lower() or "yourname"
        raise ConfigError(
            f"user {user!r} (from {where} or VAM_USER) must be plain letters, digits, '.', '_' "
            f"or '-': S3 keeps it as uploaded-by, which allows only ASCII; write e.g. \"{plain}\""
        )
    return user


def target_for(config: Config, project: Project) -> Target:
    return Target(
        brand_key=project.brand.key,
        project_id=project.id,
        folder=project.path,
        bucket=config.storage.bucket,
        brand_prefix=config.storage.prefix_for(project.brand.key),
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def when(dt: datetime | str | None) -> str:
    if dt is None or dt == "":
        return "unknown time"
    if isinstance(dt, str):
        try:
            dt = datetime.fromisoformat(dt)
        except ValueError:
            return dt
    return human_utc(dt)


def remote_project_ids(s3, bucket: str, brand_prefix: str) -> list[str]:
    """Project folders that exist in S3 under a brand prefix (one delimited listing)."""
    ids = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=brand_prefix, Delimiter="/"):
        for cp in page.get("CommonPrefixes", []):
            name = cp["Prefix"][len(brand_prefix) :].rstrip("/")
            if name and not unsafe_reason(name):
                ids.append(name)
    return ids


def _error_code(exc: bce.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _head(s3, bucket: str, key: str) -> transfer.RemoteDetails | None:
    try:
        return transfer.head_checksum(s3, bucket, key)
    except bce.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return None  # deleted between the listing and now
        raise


# --------------------------------------------------------------------------- scanning


def scan_project(
    s3,
    target: Target,
    *,
    user: str,
    rules: FileRules,
    hasher: Hasher | None = None,
    objects: Iterable[RemoteObject] | None = None,
    index: RemoteIndex | None = None,
    save_cache: bool = True,
    defer_new: bool = False,
) -> Scan:
    """Both sides and the base, fingerprinted as cheaply as possible, and the plan.

    Requests: one listing (unless `objects` is given), one GET of the index, and a HEAD only for
    objects whose ETag neither the index nor the sync record knows.

    `defer_new` (s3.up): a local file that neither S3 nor the sync record knows is not read
    here, since nothing is compared with it; its CRC32 is taken by the upload as the bytes go out,
    so a new 10 GB render is read once, not twice, and its first byte leaves at once.
    """
    hasher = hasher or Hasher()
    cache = ChecksumCache(target.state_dir)
    if objects is None:
        objects = list_project(s3, target.bucket, target.prefix)
    objects = [o for o in objects if not is_vam_key(o.rel)]
    if index is None:
        index = read_index(s3, target.bucket, target.prefix) if objects else RemoteIndex({}, None)
    base = load_record(target.state_dir, user)
    known = {o.rel for o in objects} | set(base)
    skipped: list[Skipped] = []
    local = []
    defer = (lambda rel: rel not in known) if defer_new else None
    for entry in local_listing(target.staging, rules, cache, hasher, skipped, defer):
        reason = unsafe_reason(entry.rel)
        if reason:  # Jan (Windows) could never download it: rename it before it is uploaded
            skipped.append(Skipped(entry.rel, f"not uploaded: {reason}; rename it"))
        else:
            local.append(entry)
    by_local = {e.rel: e for e in local}
    remote: list[RemoteEntry] = []
    heads = 0
    for obj in objects:
        entry = RemoteEntry(obj.rel, obj.key, obj.size, obj.etag, obj.last_modified)
        reason = unsafe_reason(obj.rel)
        if reason:
            remote.append(replace(entry, unsafe=reason))
            continue
        known = index.entries.get(obj.rel)
        b = base.get(obj.rel)
        if known and known.etag == obj.etag and known.size == obj.size:
            entry = replace(
                entry,
                crc32=known.crc32,
                version_id=known.version_id,
                uploaded_by=known.uploaded_by,
                mtime_ns=known.mtime_ns,
            )
        elif b and b.etag == obj.etag and b.size == obj.size:
            entry = replace(
                entry, crc32=b.crc32, version_id=b.version_id, uploaded_by=b.uploaded_by,
                mtime_ns=b.mtime_ns,
            )  # fmt: skip
        else:
            heads += 1
            details = _head(s3, target.bucket, obj.key)
            if details is None:
                continue
            entry = replace(
                entry,
                size=details.size,
                etag=details.etag,
                crc32=details.crc32,
                version_id=details.version_id,
                uploaded_by=details.uploaded_by,
                mtime_ns=details.mtime_ns,
            )
            entry = resolve_foreign(
                entry, by_local.get(obj.rel), target.staging, cache, hasher, details.part_size
            )
        remote.append(entry)
    if save_cache and (local or target.state_dir.is_dir()):
        cache.save()
    return Scan(target, make_plan(local, remote, base), tuple(skipped), heads, len(objects))


# --------------------------------------------------------------------------- describing


def describe_local(local: LocalEntry | None) -> str:
    if local is None:
        return "deleted here"
    stamp = datetime.fromtimestamp(local.mtime_ns / 1e9, UTC)
    return f"{format_size(local.size)}, saved {when(stamp)}"


def describe_remote(remote: RemoteEntry | None) -> str:
    if remote is None:
        return "deleted in S3"
    who = remote.uploaded_by or "another tool"
    return f"{format_size(remote.size)}, uploaded by {who} {when(remote.last_modified)}"


def row_message(target: Target, row: FileRow) -> str:
    """The one line a person reads about a file up/down leaves alone, with the way(s) out."""
    st = row.state
    if st is FileState.CONFLICT:
        theirs = row.remote.uploaded_by if row.remote and row.remote.uploaded_by else "S3's"
        theirs_label = f"{theirs}'s" if theirs != "S3's" else theirs
        return (
            f"conflict: {row.rel} ({row.reason}). Here: {describe_local(row.local)}; "
            f"in S3: {describe_remote(row.remote)}. Keep yours: `{target.command('up', '--force')}`"
            f" ({theirs_label} version is kept: by bucket versioning where it is on, else copied "
            f"to {STATE_DIR}/{BACKUPS}/ in S3); "
            f"take theirs: `{target.command('down', '--force')}` (yours is kept in "
            f"{STATE_DIR}/{BACKUPS}/)"
        )
    if st is FileState.DELETED_HERE:
        return (
            f"deleted here: {row.rel} is still in S3 ({describe_remote(row.remote)}). Delete it "
            f"there too: `{target.command('up', '--delete')}`; or get it back: "
            f"`{target.command('down', '--force')}`"
        )
    if st is FileState.DELETED_THERE:
        return (
            f"deleted in S3: {row.rel} is still here ({describe_local(row.local)}). Remove it here "
            f"too (kept in {STATE_DIR}/{BACKUPS}/): `{target.command('down', '--delete')}`; or "
            f"upload it again: `{target.command('up', '--force')}`"
        )
    if st is FileState.REFUSED:
        key = row.remote.key if row.remote else row.rel
        why = row.reason.removeprefix("unsafe S3 key: ")
        return f"refused S3 key {key!r}: {why}; never written locally. Rename or delete it in S3"
    return f"{st.value}: {row.rel} ({row.reason})"


def recommend(target: Target, plan: Plan) -> tuple[Recommendation, ...]:
    """One line per command worth running next, exact."""
    recs: list[Recommendation] = []
    ups = plan.with_state(FileState.UPLOAD)
    downs = plan.with_state(FileState.DOWNLOAD)
    conflicts = plan.with_state(FileState.CONFLICT)
    if ups:
        size = sum(r.local.size for r in ups if r.local)
        recs.append(
            Recommendation(target.command("up"), f"upload {_files(ups)} ({format_size(size)})")
        )
    if downs:
        size = sum(r.remote.size for r in downs if r.remote)
        who = sorted({r.remote.uploaded_by or "another tool" for r in downs if r.remote})
        recs.append(
            Recommendation(
                target.command("down"),
                f"download {_files(downs)} ({format_size(size)}) from {', '.join(who)}",
            )
        )
    if conflicts:
        recs.append(
            Recommendation(
                target.command("up", "--force"), f"keep your version of {_files(conflicts)}"
            )
        )
        recs.append(
            Recommendation(
                target.command("down", "--force"),
                f"take the S3 version of {_files(conflicts)} (yours is backed up)",
            )
        )
    gone_here = plan.with_state(FileState.DELETED_HERE)
    if gone_here:
        what = _files(gone_here)
        recs.append(Recommendation(target.command("up", "--delete"), f"delete {what} in S3 too"))
        recs.append(Recommendation(target.command("down", "--force"), f"or restore {what} here"))
    gone_there = plan.with_state(FileState.DELETED_THERE)
    if gone_there:
        what = _files(gone_there)
        recs.append(
            Recommendation(
                target.command("down", "--delete"), f"remove {what} here too (backed up)"
            )
        )
        recs.append(Recommendation(target.command("up", "--force"), f"or upload {what} again"))
    # one line per command: merge duplicates
    merged: dict[str, list[str]] = {}
    for rec in recs:
        merged.setdefault(rec.command, []).append(rec.why)
    return tuple(Recommendation(cmd, "; ".join(whys)) for cmd, whys in merged.items())


def _files(rows: Iterable[FileRow]) -> str:
    rows = list(rows)
    return rows[0].rel if len(rows) == 1 else f"{len(rows)} files"


def expiry(plan: Plan, staging_days: int) -> tuple[datetime | None, datetime | None]:
    """When S3's lifecycle rule removes the first and the last of the project's staging files."""
    stamps = [r.remote.last_modified for r in plan.rows if r.remote is not None]
    if not stamps:
        return None, None
    days = timedelta(days=staging_days)
    return min(stamps) + days, max(stamps) + days


# --------------------------------------------------------------------------- acting


def _base_from(row: FileRow) -> BaseEntry:
    """The base for a file both sides hold with equal content."""
    assert row.local is not None and row.remote is not None
    return BaseEntry(
        rel=row.rel,
        size=row.local.size,
        crc32=row.local.crc32,
        etag=row.remote.etag,
        version_id=row.remote.version_id,
        mtime_ns=row.local.mtime_ns,
        synced_at=now_iso(),
        uploaded_by=row.remote.uploaded_by,
    )


def _apply_bookkeeping(actions: Iterable[Action], plan: Plan, base: dict[str, BaseEntry]) -> bool:
    changed = False
    for action in actions:
        row = plan.row(action.rel)
        if action.kind is ActionKind.RECORD and row is not None:
            base[action.rel] = _base_from(row)
            changed = True
        elif action.kind is ActionKind.FORGET:
            changed = base.pop(action.rel, None) is not None or changed
    return changed


def _skip_messages(target: Target, plan: Plan, actions: Iterable[Action]) -> tuple[str, ...]:
    return tuple(
        row_message(target, plan.row(a.rel))  # type: ignore[arg-type]
        for a in actions
        if a.kind is ActionKind.SKIP and a.state is not FileState.SYNCED
    )


def _idle(plan: Plan, actions: Iterable[Action]) -> Plan | None:
    """The plan, when it asked for nothing at all (no transfer, deletion or bookkeeping)."""
    return plan if all(a.kind is ActionKind.SKIP for a in actions) else None


def _recheck(
    s3,
    target: Target,
    user: str,
    rules: FileRules,
    hasher: Hasher,
    done: Iterable[Outcome],
    plan: Plan | None = None,
) -> tuple[Plan, tuple[str, ...]]:
    done = list(done)
    if not done and plan is not None:
        # nothing was done: nothing to confirm, and the scan just made is the state (a re-sync
        # with nothing changed stays one listing and one index GET)
        return plan, ()
    after = scan_project(s3, target, user=user, rules=rules, hasher=hasher).plan
    unsettled = []
    for outcome in done:
        if outcome.ok and outcome.kind in (ActionKind.UPLOAD, ActionKind.DOWNLOAD):
            row = after.row(outcome.rel)
            if row is None or row.state is not FileState.SYNCED:
                state = row.state.value if row else "missing"
                unsettled.append(f"{outcome.rel}: {state} after the transfer")
        if outcome.ok and outcome.kind in (ActionKind.DELETE_REMOTE, ActionKind.DELETE_LOCAL):
            row = after.row(outcome.rel)
            if row is not None and row.state is not FileState.GONE:
                unsettled.append(f"{outcome.rel}: {row.state.value} after the deletion")
    return after, tuple(unsettled)


# Small files go several at once (one request each: on a link with 150 ms of latency, 200 notes
# and stills one by one take a minute of waiting); large ones two at a time, their parts or
# ranges already in parallel. SMALL_BUDGET bounds the bytes of small files in flight (a single
# PUT holds its file in memory).
SMALL_FILE = 16 * 1024 * 1024
SMALL_WORKERS = 8
SMALL_BUDGET = 64 * 1024 * 1024
# Two large files at once: while one finishes (S3 assembles a multipart object, a download is
# flushed to disk) the other keeps the link busy. Each bounds its own memory (transfer.py).
LARGE_WORKERS = 2

T = TypeVar("T")


class _ByteBudget:
    """At most `limit` bytes held at once (one item larger than the limit still goes, alone)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        with self._changed:
            while self.used and self.used + nbytes > self.limit:
                self._changed.wait()
            self.used += nbytes
        try:
            yield
        finally:
            with self._changed:
                self.used -= nbytes
                self._changed.notify_all()


def each_transfer(
    actions: list[Action], move: Callable[[Action], T], cancel: threading.Event | None = None
) -> Iterator[tuple[Action, T]]:
    """(action, move(action)) for every action: files below SMALL_FILE up to SMALL_WORKERS at a
    time, then the large ones LARGE_WORKERS at a time. Results come back on the caller's thread,
    so its bookkeeping needs no lock. The first exception (or Ctrl-C) stops what has not
    started, sets `cancel` so the transfers `move` started with it stop within a chunk, and is
    raised."""
    small = [a for a in actions if a.size < SMALL_FILE]
    large = [a for a in actions if a.size >= SMALL_FILE]
    budget = _ByteBudget(SMALL_BUDGET)

    def held(action: Action) -> T:
        with budget.hold(action.size):
            return move(action)

    yield from _pooled(small, held, SMALL_WORKERS, cancel)
    yield from _pooled(large, move, LARGE_WORKERS, cancel)


def _pooled(
    actions: list[Action],
    move: Callable[[Action], T],
    workers: int,
    cancel: threading.Event | None,
) -> Iterator[tuple[Action, T]]:
    if len(actions) < 2 or workers < 2:
        for action in actions:
            yield action, move(action)
        return
    order = {action.rel: i for i, action in enumerate(actions)}
    with ThreadPoolExecutor(min(workers, len(actions)), thread_name_prefix="vam-files") as pool:
        futures = {pool.submit(move, action): action for action in actions}
        pending = set(futures)
        try:
            while pending:
                # a bounded wait: a Ctrl-C that lands on another thread, or arrives while this
                # one waits on a lock, is seen within a quarter of a second
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: order[futures[f].rel]):
                    yield futures[future], future.result()
        except BaseException:
            if cancel is not None:
                cancel.set()
            for future in futures:
                future.cancel()
            raise


def _in_order_of(actions: list[Action]) -> Callable[[Outcome], int]:
    """Sort key: outcomes in the plan's order, however the transfers finished."""
    order = {a.rel: i for i, a in enumerate(actions)}
    return lambda outcome: order.get(outcome.rel, len(order))


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
            f"{target.staging} does not exist: put the files for S3 in the project's "
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
    cache = ChecksumCache(target.state_dir)
    outcomes: list[Outcome] = []
    index_changes: dict[str, IndexEntry] = {}
    uploads = [a for a in actions if a.kind is ActionKind.UPLOAD]
    guard = RemoteGuard(s3, target.bucket, target.prefix)  # keeps what --force/--delete replace
    kept: dict[str, Kept | None] = {}
    sent = 0
    cancel = threading.Event()  # Ctrl-C or a failure: the other files in flight stop too
    with make_progress(sum(a.size for a in uploads), enabled=show_progress) as progress:

        def send(action: Action) -> transfer.Uploaded | Outcome:
            row = plan.row(action.rel)
            assert row is not None and row.local is not None
            local = row.local
            if action.state is FileState.CONFLICT and row.remote is not None:
                refused = _keep_before_replacing(guard, target, action, row.remote, kept)
                if refused is not None:
                    return refused
            try:
                return transfer.upload_file(
                    s3,
                    target.bucket,
                    f"{target.prefix}{action.rel}",
                    target.staging / action.rel,
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
                    planned=(local.size, local.mtime_ns),
                    cancel=cancel,
                    head_first=not guard.conditions().writes,
                )
            except transfer.RemoteChanged:
                return Outcome(action.rel, action.kind, FileState.CONFLICT, False, 0,
                               f"conflict: {action.rel} changed in S3 while uploading (someone "
                               f"else uploaded it); nothing overwritten. Run "
                               f"`{target.command('status')}`")  # fmt: skip
            except transfer.ChangedDuringUpload as exc:
                return Outcome(action.rel, action.kind, action.state, False, 0, str(exc))

        for action, done in each_transfer(uploads, send, cancel):
            if isinstance(done, Outcome):
                outcomes.append(done)
                continue
            row = plan.row(action.rel)
            assert row is not None and row.local is not None
            local = row.local
            sent += done.size
            stamp = now_iso()
            if local.crc32 is None:  # checksummed on the way out: spare the re-check a read
                cache.remember(action.rel, done.size, local.mtime_ns, done.crc32)
                cache.save()
            base[action.rel] = BaseEntry(
                rel=action.rel, size=done.size, crc32=done.crc32, etag=done.etag,
                version_id=done.version_id, mtime_ns=local.mtime_ns, synced_at=stamp,
                uploaded_by=user,
            )  # fmt: skip
            save_record(target.state_dir, user, target.project_id, base)
            index_changes[action.rel] = IndexEntry(
                size=done.size, crc32=done.crc32, etag=done.etag, version_id=done.version_id,
                uploaded_by=user, uploaded_at=stamp, mtime_ns=local.mtime_ns,
            )  # fmt: skip
            note = ""
            if row.remote is not None and action.state is FileState.CONFLICT:
                kept_as = guard.kept_note(kept.get(action.rel), "replaced")
                note = f"replaced {describe_remote(row.remote)}; {kept_as}"
            if not guard.conditions().writes:
                note = f"{note}; {WEAKER}" if note else WEAKER
            outcomes.append(Outcome(action.rel, action.kind, action.state, True, done.size, note))
    outcomes.sort(key=_in_order_of(uploads))
    deleted: set[str] = set()
    for action in (a for a in actions if a.kind is ActionKind.DELETE_REMOTE):
        outcome = _delete_remote(s3, target, action, guard)
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
    after, unsettled = _recheck(s3, target, user, rules, hasher, outcomes, _idle(plan, actions))
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
        kept[action.rel] = guard.keep(action.rel, remote.etag, remote.size)
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


def _delete_remote(s3, target: Target, action: Action, guard: RemoteGuard) -> Outcome:
    """Delete the S3 object, only if it is still the version the sync record knows (If-Match
    where the bucket honours it, else a HEAD right before); where no bucket versioning keeps it,
    a copy of that version goes to .vam/backups/ in S3 first."""
    changed = Outcome(
        action.rel, action.kind, FileState.CONFLICT, False, 0,
        f"{action.rel} changed in S3 since it was listed; not deleted. Run "
        f"`{target.command('status')}`",
    )  # fmt: skip
    try:
        kept = guard.keep(action.rel, action.if_match or "", action.size)
    except Changed:
        return changed
    if guard.delete(action.rel, action.if_match or "") == CHANGED:
        return changed
    weaker = "" if guard.conditions().deletes else f"; {WEAKER}"
    return Outcome(
        action.rel, action.kind, action.state, True, 0,
        f"deleted in S3; {guard.kept_note(kept, 'deleted')}{weaker}",
    )  # fmt: skip


def _delete_local(target: Target, action: Action, seen: LocalEntry, stamp: str) -> Outcome:
    """Move the local file into .vam/backups/ (never erase it), if it is still what was planned."""
    path = target.staging / action.rel
    try:
        st = path.stat()
    except FileNotFoundError:
        return Outcome(action.rel, action.kind, action.state, True, 0, "already gone here")
    if (st.st_size, st.st_mtime_ns) != (seen.size, seen.mtime_ns):
        return Outcome(
            action.rel, action.kind, action.state, False, 0,
            f"{action.rel} changed here while planning; not removed",
        )  # fmt: skip
    dest = target.state_dir / BACKUPS / stamp / action.rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, dest)
    return Outcome(action.rel, action.kind, action.state, True, 0, f"moved to {dest}")


def _keep_backup(target: Target, rel: str, stamp: str) -> Path:
    """A copy of the local file under .vam/backups/{stamp}/{rel} (hard link when the disk can)."""
    return keep_copy(target.staging / rel, target.state_dir / BACKUPS / stamp / rel)


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
    conflicts only with --force, and then the local file is kept under .vam/backups/ first."""
    hasher = hasher or Hasher()
    scan = scan_project(s3, target, user=user, rules=rules, hasher=hasher, save_cache=not dry_run)
    plan = scan.plan
    actions = download_actions(plan, force=force, delete=delete)
    messages = _skip_messages(target, plan, actions)
    if dry_run:
        return SyncReport("down", target, plan, actions, True, messages=messages,
                          bytes_read=hasher.bytes_read, skipped=scan.skipped)  # fmt: skip
    base = load_record(target.state_dir, user)
    if _apply_bookkeeping(actions, plan, base):
        save_record(target.state_dir, user, target.project_id, base)
    cache = ChecksumCache(target.state_dir)
    outcomes: list[Outcome] = []
    downloads = [a for a in actions if a.kind is ActionKind.DOWNLOAD]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    got = 0
    cancel = threading.Event()  # Ctrl-C or a failure: the other files in flight stop too
    with make_progress(sum(a.size for a in downloads), enabled=show_progress) as progress:

        def fetch(action: Action) -> tuple[transfer.Downloaded, Path | None] | Outcome:
            row = plan.row(action.rel)
            assert row is not None and row.remote is not None
            remote = row.remote
            dest = target.staging / check_relative(action.rel, remote.key)
            # the local file must still be what the plan saw: never replace an edit made meanwhile
            seen = row.local
            try:
                st = dest.stat()
                now = (st.st_size, st.st_mtime_ns)
            except FileNotFoundError:
                now = None
            if now != ((seen.size, seen.mtime_ns) if seen else None):
                return Outcome(action.rel, action.kind, action.state, False, 0,
                               f"{action.rel} changed here while planning; nothing replaced. "
                               f"Run `{target.command('down')}` again")  # fmt: skip
            backup = _keep_backup(target, action.rel, stamp) if action.backup and seen else None
            try:
                done = transfer.download_file(
                    s3, target.bucket, remote.key, dest, size=remote.size, etag=remote.etag,
                    crc32=remote.crc32, mtime_ns=remote.mtime_ns, progress=progress,
                    max_rate=max_rate, state_dir=target.state_dir, cancel=cancel,
                )  # fmt: skip
            except transfer.RemoteChanged:
                return Outcome(action.rel, action.kind, action.state, False, 0,
                               f"{action.rel} changed in S3 while downloading; nothing replaced. "
                               f"Run `{target.command('status')}`")  # fmt: skip
            return done, backup

        for action, result in each_transfer(downloads, fetch, cancel):
            if isinstance(result, Outcome):
                outcomes.append(result)
                continue
            done, backup = result
            row = plan.row(action.rel)
            assert row is not None and row.remote is not None
            remote = row.remote
            st = done.path.stat()
            crc = done.crc32 if done.crc32 is not None else remote.crc32
            if crc is None:
                crc = hasher.crc32(done.path)
            cache.remember(action.rel, st.st_size, st.st_mtime_ns, crc)
            cache.save()
            base[action.rel] = BaseEntry(
                rel=action.rel, size=done.size, crc32=crc, etag=done.etag,
                version_id=done.version_id or remote.version_id, mtime_ns=st.st_mtime_ns,
                synced_at=now_iso(), uploaded_by=remote.uploaded_by,
            )  # fmt: skip
            save_record(target.state_dir, user, target.project_id, base)
            got += done.size
            note = f"your version is kept in {backup}" if backup else ""
            outcomes.append(Outcome(action.rel, action.kind, action.state, True, done.size, note))
    outcomes.sort(key=_in_order_of(downloads))
    for action in (a for a in actions if a.kind is ActionKind.DELETE_LOCAL):
        row = plan.row(action.rel)
        assert row is not None and row.local is not None
        outcome = _delete_local(target, action, row.local, stamp)
        outcomes.append(outcome)
        if outcome.ok:
            base.pop(action.rel, None)
            save_record(target.state_dir, user, target.project_id, base)
    after, unsettled = _recheck(s3, target, user, rules, hasher, outcomes, _idle(plan, actions))
    return SyncReport(
        "down", target, plan, actions, False, tuple(outcomes), messages, after, unsettled,
        bytes_transferred=got, bytes_read=hasher.bytes_read,
            skipped=scan.skipped,
    )  # fmt: skip


# --------------------------------------------------------------------------- status


def status(
    s3,
    target: Target,
    *,
    user: str,
    rules: FileRules,
    staging_days: int,
    objects: Iterable[RemoteObject] | None = None,
    hasher: Hasher | None = None,
) -> ProjectStatus:
    """`s3.status` for one project: per-file state, recommendations, staging expiry."""
    scan = scan_project(s3, target, user=user, rules=rules, hasher=hasher, objects=objects)
    first, last = expiry(scan.plan, staging_days)
    return ProjectStatus(
        target, scan.plan, recommend(target, scan.plan), first, last, scan.heads, scan.skipped
    )


def brand_status(
    s3,
    config: Config,
    root: Path,
    brand_key: str,
    *,
    user: str,
    hasher: Hasher | None = None,
) -> tuple[list[ProjectStatus], list[str]]:
    """Every project of a brand that has staging files on either side: one paginated listing of
    the brand prefix, then the index GET (and HEADs for unknown objects) per project.
    Returns (statuses, refusals) where refusals are S3 project folders with unsafe names."""
    brand = next(b for b in config.team.brands if b.key == brand_key)
    prefix = config.storage.prefix_for(brand.key)
    grouped = list_staging(s3, config.storage.bucket, prefix)
    local = {p.id: p for p in list_active(root, brand) if _has_files(p.path / STAGING)}
    refusals = []
    statuses = []
    for pid in sorted(set(grouped) | set(local)):
        reason = unsafe_reason(pid)
        if reason:
            refusals.append(f"refused S3 project folder {prefix}{pid}/: {reason}")
            continue
        project = local.get(pid) or Project(brand, pid, projects_dir(root, brand) / pid, "remote")
        target = target_for(config, project)
        statuses.append(
            status(
                s3,
                target,
                user=user,
                rules=config.team.files,
                staging_days=config.storage.staging_days,
                objects=grouped.get(pid, []),
                hasher=hasher,
            )  # fmt: skip
        )
    return statuses, refusals


def _has_files(folder: Path) -> bool:
    try:
        return any(p.is_file() for p in folder.rglob("*"))
    except OSError:
        return False


def staged_projects(root: Path, brand) -> list[Project]:
    """Projects of a brand with a non-empty s3-staging/ (for `s3.up --all`)."""
    return [p for p in list_active(root, brand) if _has_files(p.path / STAGING)]
