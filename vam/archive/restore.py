"""`archive.restore`, its plan and its restore requests: for each archived file of a project, what
S3 says of it (a HEAD: its class, whether a restore is in progress or done) and what the
destination folder holds under its name (missing, the same bytes, or another version, which is
never replaced); then a restore request (tier, days) for every missing file that needs one and
has none in progress, with the expected wait and cost stated as data (vam.archive.classes).

Downloading what is readable is vam.archive.fetch; a later run downloads what a restore made
readable meanwhile. The local project folder need not exist: the archive index says what the
project holds.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.exceptions as bce

from vam.archive.classes import StorageClass, Tier, storage_class
from vam.archive.index import ArchivedFile, read_index
from vam.archive.listing import ARCHIVED, RESTORED, RESTORING, RestoreState, list_project
from vam.archive.listing import restore_from_head as parse_restore
from vam.archive.record import RestoreRecord, read_record, write_record
from vam.archive.target import INDEX_REL, RESTORE_REL, ArchiveTarget
from vam.core.errors import NotFoundError
from vam.core.files import Stamp, is_link, link_in_path
from vam.core.layout import STATE_DIR
from vam.core.units import iso_utc
from vam.s3sync.fingerprint import ChangingFile, ChecksumCache, Hasher
from vam.s3sync.keys import unsafe_reason
from vam.s3sync.transfer import head_checksum

HEAD_WORKERS = 8  # HEADs at once: on a 150 ms link, 500 files one by one take over a minute
MISSING, SAME, DIFFERS = "missing", "same", "differs"


@dataclass(frozen=True)
class RestoreFile:
    rel: str
    key: str
    entry: ArchivedFile  # what the archive holds (size, CRC32, ETag, version, class)
    state: RestoreState  # what S3 says now
    here: str  # missing | same | differs, at `dest`
    dest: Path
    detail: str = ""

    @property
    def klass(self) -> StorageClass:
        return storage_class(self.entry.storage_class)

    @property
    def size(self) -> int:
        return self.entry.size


@dataclass(frozen=True)
class RestorePlan:
    target: ArchiveTarget
    dest: Path  # the folder restored into
    files: tuple[RestoreFile, ...]
    tier: str
    days: int
    record: RestoreRecord | None  # the last request, as recorded
    refused: tuple[tuple[str, str], ...] = ()  # (rel, why) that cannot be restored here

    def _where(self, here: str, states: tuple[str, ...] | None = None) -> tuple[RestoreFile, ...]:
        return tuple(
            f for f in self.files if f.here == here and (states is None or f.state.state in states)
        )

    @property
    def to_request(self) -> tuple[RestoreFile, ...]:
        return self._where(MISSING, (ARCHIVED,))

    @property
    def restoring(self) -> tuple[RestoreFile, ...]:
        return self._where(MISSING, (RESTORING,))

    @property
    def ready(self) -> tuple[RestoreFile, ...]:
        return tuple(f for f in self._where(MISSING) if f.state.readable)

    @property
    def same(self) -> tuple[RestoreFile, ...]:
        return self._where(SAME)

    @property
    def differs(self) -> tuple[RestoreFile, ...]:
        return self._where(DIFFERS)


def _head(s3, bucket: str, key: str, version_id: str | None) -> dict:
    args = {"VersionId": version_id} if version_id else {}
    try:
        return s3.head_object(Bucket=bucket, Key=key, **args)
    except bce.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise NotFoundError(
                f"s3://{bucket}/{key} is in the archive index but not in S3 (any more); "
                "run `vam archive.status` to see what the archive holds"
            ) from None
        raise


def _here(dest: Path, rel: str, entry: ArchivedFile, cache: ChecksumCache, hasher: Hasher):
    """(missing | same | differs, detail) of the destination's file of that name."""
    path = dest.joinpath(*rel.split("/"))
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return MISSING, ""
    if is_link(st):
        return DIFFERS, "is a link here"
    if st.st_size != entry.size:
        return DIFFERS, f"{st.st_size} bytes here, {entry.size} archived"
    try:
        _stamp, crc = cache.crc32(rel, path, Stamp.of(st), hasher)
    except (ChangingFile, OSError):
        return DIFFERS, "cannot be read here right now"
    if crc != entry.crc32:
        return DIFFERS, f"same size, checksum here {crc:08x}, archived {entry.crc32:08x}"
    return SAME, ""


def plan_restore(
    s3,
    target: ArchiveTarget,
    dest: Path,
    *,
    tier: str,
    days: int,
    only: tuple[str, ...] = (),
    hasher: Hasher | None = None,
) -> RestorePlan:
    """What restoring the project (or the files and folders in `only`) into `dest` needs."""
    hasher = hasher or Hasher()
    listed = list_project(s3, target.bucket, target.brand_prefix, target.project_id)
    objects = {o.rel: o for o in listed if not o.is_state}
    if not objects:
        raise NotFoundError(
            f"nothing archived for {target.brand_key}/{target.project_id} in {target.where}; "
            "`vam archive.status` lists what the archive holds"
        )
    names = {o.rel for o in listed}
    index = read_index(s3, target) if INDEX_REL in names else None
    record = read_record(s3, target) if RESTORE_REL in names else None
    chosen = _chosen(sorted(objects), only, target)
    refused: list[tuple[str, str]] = []
    for rel in list(chosen):
        link = link_in_path(dest, rel) if dest.exists() else None
        why = unsafe_reason(rel) or (f"{link} is a link or not a folder here" if link else None)
        if why:
            refused.append((rel, why))
            chosen.remove(rel)

    def entry_of(rel: str) -> ArchivedFile | None:
        obj = objects[rel]
        known = index.files.get(rel) if index else None
        if known is not None and known.etag == obj.etag and known.size == obj.size:
            return known
        d = head_checksum(s3, target.bucket, obj.key)  # not in the index: what S3 says of it
        if d.crc32 is None:
            return None
        at = iso_utc(d.last_modified)
        return ArchivedFile(
            d.size, d.crc32, d.etag, d.version_id, obj.storage_class, at, d.uploaded_by, d.mtime_ns
        )

    def state_of(rel: str) -> tuple[ArchivedFile, RestoreState] | None:
        entry = entry_of(rel)
        if entry is None:
            return None
        head = _head(s3, target.bucket, objects[rel].key, entry.version_id)
        klass = head.get("StorageClass") or objects[rel].storage_class
        return replace(entry, storage_class=klass), parse_restore(head.get("Restore"), klass)

    with ThreadPoolExecutor(HEAD_WORKERS, thread_name_prefix="vam-head") as pool:
        states = dict(zip(chosen, pool.map(state_of, chosen), strict=True))
    cache = ChecksumCache(dest / STATE_DIR / "archive")
    files = []
    for rel in chosen:
        found = states[rel]
        if found is None:
            refused.append((rel, "S3 holds no checksum to verify it by (not archived by vam)"))
            continue
        entry, state = found
        here, detail = _here(dest, rel, entry, cache, hasher)
        files.append(RestoreFile(rel, objects[rel].key, entry, state, here, dest, detail))
    cache.save()
    for f in files:
        if f.klass.needs_restore:
            f.klass.tier(tier)  # a tier this class does not have: one line, before anything
    return RestorePlan(target, dest, tuple(files), tier, days, record, tuple(refused))


def _chosen(rels: list[str], only: tuple[str, ...], target: ArchiveTarget) -> list[str]:
    """The archived files `only` names (exact paths, or folders: everything below them)."""
    if not only:
        return list(rels)
    chosen: list[str] = []
    for want in only:
        want = want.replace("\\", "/").strip("/")
        found = [r for r in rels if r == want or r.startswith(want + "/")]
        if not found:
            from vam.core.projects import suggest

            near = suggest(want, rels)
            hint = f"; closest: {', '.join(near)}" if near else ""
            raise NotFoundError(f"--file {want}: not in the archive of {target.project_id}{hint}")
        chosen += [r for r in found if r not in chosen]
    return chosen


@dataclass(frozen=True)
class Requested:
    requested: tuple[RestoreFile, ...]  # asked for by this run
    pending: tuple[RestoreFile, ...]  # not readable yet (this run's requests and earlier ones)
    ready: tuple[RestoreFile, ...]  # readable now: to download
    record: RestoreRecord | None  # the latest request, as recorded
    note: str | None = None  # why the record could not be stored


def expected_by(plan: RestorePlan, files: tuple[RestoreFile, ...], now: datetime) -> datetime:
    """When the slowest of `files` is expected, from its class's stated wait for the tier."""
    hours = max((f.klass.tier(plan.tier).hours for f in files), default=0.0)
    return now + timedelta(hours=hours)


def tier_of(f: RestoreFile, tier: str) -> Tier:
    return f.klass.tier(tier)


def request_restores(s3, plan: RestorePlan, *, user: str) -> Requested:
    """Ask S3 to restore every missing file that needs it (none in progress), record the request,
    and HEAD them again: a server that restores at once (moto) makes them ready now."""
    now = datetime.now(UTC)
    asked: list[RestoreFile] = []
    pending = list(plan.restoring)
    ready = list(plan.ready)
    for f in plan.to_request:
        request = {
            "Days": plan.days,
            "GlacierJobParameters": {"Tier": tier_of(f, plan.tier).name.capitalize()},
        }
        version = {"VersionId": f.entry.version_id} if f.entry.version_id else {}
        try:
            s3.restore_object(
                Bucket=plan.target.bucket, Key=f.key, RestoreRequest=request, **version
            )
            asked.append(f)
        except bce.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "RestoreAlreadyInProgress":  # someone asked a moment ago
                pending.append(replace(f, state=RestoreState(RESTORING)))
            elif code == "InvalidObjectState":  # readable after all (its class changed)
                ready.append(f)
            else:
                raise
    record, note = plan.record, None
    if asked:
        record = RestoreRecord(
            requested_at=iso_utc(now),
            requested_by=user,
            tier=plan.tier,
            days=plan.days,
            expected_by=iso_utc(expected_by(plan, tuple(asked), now)),
            files=len(asked),
            bytes=sum(f.entry.size for f in asked),
        )
        note = write_record(s3, plan.target, record)
    # what S3 says of them now (moto restores at once; S3 takes hours)
    for f in asked:
        head = _head(s3, plan.target.bucket, f.key, f.entry.version_id)
        now_state = parse_restore(head.get("Restore"), f.entry.storage_class)
        (ready if now_state.readable else pending).append(replace(f, state=now_state))
    return Requested(tuple(asked), tuple(pending), tuple(ready), record, note)


def restored_until(files: tuple[RestoreFile, ...]) -> datetime | None:
    """The first moment one of these restored copies goes again."""
    dates = [f.state.until for f in files if f.state.state == RESTORED and f.state.until]
    return min(dates) if dates else None
