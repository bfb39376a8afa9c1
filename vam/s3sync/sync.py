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
import errno
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TypeVar

import botocore.exceptions as bce

from vam.core import durable
from vam.core.config import Config
from vam.core.errors import NotFoundError
from vam.core.files import FileRules, Skipped, Stamp, excluded_part, link_in_path
from vam.core.layout import STAGING, STATE_DIR
from vam.core.projects import Project, list_active, projects_dir
from vam.core.units import format_size, human_utc
from vam.s3sync import transfer
from vam.s3sync.fingerprint import ChecksumCache, Hasher, local_listing, resolve_foreign
from vam.s3sync.keys import check_relative, is_conflict_copy, nfc, project_prefix, unsafe_reason
from vam.s3sync.model import (
    Action,
    ActionKind,
    BaseEntry,
    FileRow,
    FileState,
    LocalEntry,
    Plan,
    RemoteEntry,
)
from vam.s3sync.overwrite import ChangedHere, changed_since, publish_download
from vam.s3sync.plan import download_actions, make_plan, upload_actions
from vam.s3sync.remote import RemoteObject, list_project, list_staging
from vam.s3sync.remoteindex import IndexEntry, RemoteIndex, is_vam_key, read_index, update_index
from vam.s3sync.s3guard import CHANGED, WEAKER, Changed, Kept, RemoteGuard
from vam.s3sync.syncrecord import load_record, save_record
from vam.s3sync.transfer.progress import make_progress

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
        # on Windows in the `\\?\` form: Jan's files deep inside work past 260 characters
        return durable.native(self.folder / STAGING)

    @property
    def state_dir(self) -> Path:
        return durable.native(self.folder / STATE_DIR)

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
    cache: ChecksumCache | None = None  # the checksum cache the scan used (and may have filled)


@dataclass(frozen=True)
class Outcome:
    rel: str
    kind: ActionKind
    state: FileState
    ok: bool
    bytes: int = 0
    message: str = ""
    resumed: int = 0  # bytes already there when the transfer resumed (0: started from scratch)

    @classmethod
    def failed(cls, action: Action, message: str, state: FileState | None = None) -> Outcome:
        """The action was not carried out; `state`: what the file turned out to be, if known."""
        return cls(action.rel, action.kind, state or action.state, False, 0, message)

    @classmethod
    def done(cls, action: Action, nbytes: int = 0, message: str = "", resumed: int = 0) -> Outcome:
        return cls(action.rel, action.kind, action.state, True, nbytes, message, resumed=resumed)


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
    def name_clashes(self) -> tuple[FileRow, ...]:
        """Files neither side can write until a person renames one (see plan.name_clashes)."""
        return (self.after or self.plan).with_state(FileState.NAME_CLASH)

    @property
    def unreadable(self) -> tuple[Skipped, ...]:
        """Local files that could not be read (not those left out by design, such as links)."""
        return tuple(s for s in self.skipped if s.problem)

    @property
    def conflicts_left(self) -> tuple[Action, ...]:
        """Conflicts the run leaves untouched (no --force)."""
        return tuple(
            a for a in self.actions if a.kind is ActionKind.SKIP and a.state is FileState.CONFLICT
        )

    @property
    def problems(self) -> tuple[str, ...]:
        """What the run leaves not as it should be, one `file: what` line each: a transfer or
        deletion that failed, a file the re-check does not find settled, a conflict left
        untouched, a name clash nothing can write, a file that could not be read. The one
        definition of a failed run: the exit code and every `ok` come from it. A dry run lists
        what the real run would leave, so it exits as the real run would."""
        lines = [f"{o.rel}: {o.message}" for o in self.outcomes if not o.ok]
        lines.extend(self.unsettled)
        lines.extend(f"{a.rel}: conflict left untouched ({a.note})" for a in self.conflicts_left)
        lines.extend(f"{r.rel}: name clash ({r.reason})" for r in self.name_clashes)
        lines.extend(f"{s.rel}: {s.reason}" for s in self.unreadable)
        return tuple(lines)

    @property
    def ok(self) -> bool:
        return not self.problems


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
    partials: tuple[transfer.PartialDownload, ...] = ()  # interrupted downloads, resumable


# --------------------------------------------------------------------------- helpers


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
    cache: ChecksumCache | None = None,
) -> Scan:
    """Both sides and the base, fingerprinted as cheaply as possible, and the plan.

    Requests: one listing (unless `objects` is given), one GET of the index, and a HEAD only for
    objects whose ETag neither the index nor the sync record knows.

    `defer_new` (s3.up): a local file that neither S3 nor the sync record knows is not read
    here, since nothing is compared with it; its CRC32 is taken by the upload as the bytes go out,
    so a new 10 GB render is read once, not twice, and its first byte leaves at once.

    Names are compared in NFC (keys.nfc). Left out, and reported with the reason: local files
    the walk skips (links, unreadable, still being written), conflict copies vam left beside a
    file, names invalid on Windows; remote keys on the exclude list; the zero-byte `folder/`
    markers the S3 console makes are not files at all and are ignored.
    """
    hasher = hasher or Hasher()
    cache = cache or ChecksumCache(target.state_dir)
    if objects is None:
        objects = list_project(s3, target.bucket, target.prefix)
    objects = [o for o in objects if not is_vam_key(o.rel) and not _folder_marker(o)]
    if index is None:
        index = read_index(s3, target.bucket, target.prefix) if objects else RemoteIndex({}, None)
    base = load_record(target.state_dir, user)
    known = {nfc(o.rel) for o in objects} | set(base)
    skipped: list[Skipped] = []
    local = []
    defer = (lambda rel: rel not in known) if defer_new else None
    for entry in local_listing(target.staging, rules, cache, hasher, skipped, defer):
        shown = entry.name or entry.rel
        reason = unsafe_reason(entry.rel)
        if is_conflict_copy(PurePosixPath(shown).name):
            skipped.append(Skipped(shown, CONFLICT_COPY_REASON))
        elif reason:  # Jan (Windows) could never download it: rename it before it is uploaded
            skipped.append(Skipped(shown, f"not uploaded: {reason}; rename it"))
        else:
            local.append(entry)
    left_out = {nfc(s.rel): s.reason for s in skipped}
    for rel in base:
        part = excluded_part(rel, rules)
        if part is not None:
            left_out.setdefault(rel, _excluded_reason(part))
    by_local = {e.rel: e for e in local}
    remote: list[RemoteEntry] = []
    heads = 0
    for obj in objects:
        rel = nfc(obj.rel)
        entry = RemoteEntry(
            rel,
            obj.key,
            obj.size,
            obj.etag,
            obj.last_modified,
            name=obj.rel if obj.rel != rel else None,
        )
        reason = unsafe_reason(obj.rel)
        if reason:
            remote.append(replace(entry, unsafe=reason))
            continue
        part = excluded_part(obj.rel, rules)
        if part is not None:  # .DS_Store, Thumbs.db uploaded by another tool: not a project file
            left_out.setdefault(rel, _excluded_reason(part))
            remote.append(entry)
            continue
        known = index.entries.get(obj.rel) or index.entries.get(rel)
        b = base.get(rel)
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
                entry,
                crc32=b.crc32,
                version_id=b.version_id,
                uploaded_by=b.uploaded_by,
                mtime_ns=b.mtime_ns,
            )
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
                entry, by_local.get(rel), target.staging, cache, hasher, details.part_size
            )
        remote.append(entry)
    if save_cache and (local or target.state_dir.is_dir()):
        cache.save()
    plan = make_plan(local, remote, base, left_out)
    return Scan(target, plan, tuple(skipped), heads, len(objects), cache)


CONFLICT_COPY_REASON = (
    "a version vam kept beside its file when that file changed here during a download: compare "
    "the two, keep one under the file's own name and delete the other"
)


def _excluded_reason(part: str) -> str:
    return f"{part!r} is on the exclude list (brands.toml [files] exclude): ignored"


def _folder_marker(obj: RemoteObject) -> bool:
    """The zero-byte `name/` object the S3 console's "Create folder" leaves: not a file."""
    return obj.key.endswith("/") and obj.size == 0


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
    if st is FileState.NAME_CLASH:
        where = []
        if row.remote is not None:
            url = f"s3://{target.bucket}/{row.remote.key}"
            where.append(f"in S3 rename or delete {url} (S3 console, or `aws s3 mv`)")
        if row.local is not None:
            where.append("here rename the file")
        return (
            f"name clash: {row.rel!r} is {row.reason}; neither is uploaded or downloaded. Keep "
            f"one name: {'; '.join(where)}"
        )
    if st is FileState.SKIPPED:
        return f"skipped {row.rel}: {row.reason}"
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
    cache: ChecksumCache | None = None,
) -> tuple[Plan, tuple[str, ...]]:
    done = list(done)
    if not done and plan is not None:
        # nothing was done: nothing to confirm, and the scan just made is the state (a re-sync
        # with nothing changed stays one listing and one index GET)
        return plan, ()
    after = scan_project(s3, target, user=user, rules=rules, hasher=hasher, cache=cache).plan
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


def _unreadable(rel: str, exc: OSError) -> str:
    """One line for a file that could not be read or written (the others go on)."""
    why = exc.strerror or str(exc)
    return (
        f"cannot read or write {rel}: {why} ({exc.filename or 'the file'}); check its permissions "
        "or close the program holding it, then run the same command again (the other files "
        "went on)"
    )


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
        target,
        scan.plan,
        recommend(target, scan.plan),
        first,
        last,
        scan.heads,
        scan.skipped,
        partial_downloads(target),
    )


def partial_downloads(target: Target) -> tuple[transfer.PartialDownload, ...]:
    """The project's interrupted downloads (a re-run of s3.down resumes them)."""
    if not target.state_dir.is_dir():
        return ()
    staging = target.staging.absolute()
    return tuple(
        p for p in transfer.partial_downloads(target.state_dir) if p.dest.is_relative_to(staging)
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
