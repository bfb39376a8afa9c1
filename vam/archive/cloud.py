"""`archive.cloud`, carried out: the plan's files sent in the archive class through the transfer
engine (a FULL_OBJECT CRC32 that S3 checks on receipt; resumable: an interrupted multipart upload
continues from its parts on the next run, and a file whose object made it but whose index entry
did not is recognised by a HEAD), the archive index written, then everything re-checked: a
second listing (every file present, same ETag and size, in its class) and a HEAD of each file
sent (its stored CRC32 is ours).

New objects are written only where nothing is (If-None-Match); a changed file archived again
(--update) replaces only the version the plan saw (If-Match), and that version stays, through
bucket versioning, for the class's minimum storage duration.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import botocore.exceptions as bce

from vam.archive.index import ArchivedFile, ArchiveIndex, write_index
from vam.archive.listing import list_project
from vam.archive.plan import ARCHIVED, CHANGED, CloudPlan, FileStep
from vam.aws.bucketcaps import read_versioning
from vam.aws.client import explain
from vam.core.errors import SafetyError
from vam.core.units import format_size, iso_utc
from vam.s3sync.fingerprint import ChecksumCache
from vam.s3sync.parallel import each_transfer
from vam.s3sync.transfer import (
    META_MTIME,
    META_UPLOADED_BY,
    ChangedDuringUpload,
    RemoteChanged,
    Uploaded,
    head_checksum,
    upload_file,
)
from vam.s3sync.transfer.progress import Progress, make_progress


@dataclass(frozen=True)
class CloudResult:
    plan: CloudPlan
    sent: tuple[tuple[FileStep, Uploaded], ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (rel, why) not sent
    verified: int = 0  # files proven in the archive after the run
    unverified: tuple[tuple[str, str], ...] = ()  # (rel, why) not as intended after the run
    index: ArchiveIndex | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        """The archive holds every file of the source as it is now, verified."""
        return not (self.failed or self.unverified or self.plan.problems or self.plan.left_changed)

    @property
    def sent_bytes(self) -> int:
        return sum(up.size for _s, up in self.sent)


def _entry(step: FileStep, up: Uploaded, klass: str, user: str, when: str) -> ArchivedFile:
    assert step.source is not None
    return ArchivedFile(
        size=up.size,
        crc32=up.crc32,
        etag=up.etag,
        version_id=up.version_id,
        storage_class=klass,
        archived_at=when,
        archived_by=user,
        mtime_ns=step.source.stamp.mtime_ns,
    )


def archive_project(
    s3,
    plan: CloudPlan,
    *,
    user: str,
    state_dir: Path,
    max_rate: int | None = None,
    show_progress: bool | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    profile: str | None = None,
) -> CloudResult:
    """Send what the plan sends, write the index (also when stopped part-way: what was sent is
    recorded), then re-check the archive. `progress`: where the bytes are reported (default:
    tqdm bars on a terminal); `profile`: the AWS profile in use, for the one line an access
    denied becomes."""
    target = plan.target
    cancel = cancel or threading.Event()
    cache = ChecksumCache(state_dir)
    when = iso_utc(datetime.now(UTC))
    changes: dict[str, ArchivedFile] = {
        # proven by a HEAD (an interrupted run's objects): into the index now
        s.rel: s.archived
        for s in plan.of(ARCHIVED)
        if s.archived is not None and plan.index.files.get(s.rel) != s.archived
    }
    sent: list[tuple[FileStep, Uploaded]] = []
    failed: list[tuple[str, str]] = []

    def move(step: FileStep) -> Uploaded | Exception:
        assert shown is not None
        assert step.source is not None
        replacing = step.action == CHANGED and step.obj is not None
        try:
            return upload_file(
                s3,
                target.bucket,
                target.key(step.rel),
                step.source.path,
                crc32=step.source.crc32,
                metadata={META_UPLOADED_BY: user, META_MTIME: str(step.source.stamp.mtime_ns)},
                if_match=step.obj.etag if replacing and step.obj else None,
                if_none_match=not replacing,
                progress=shown,
                max_rate=max_rate,
                state_dir=state_dir,
                planned=step.source.stamp,
                cancel=cancel,
                storage_class=target.storage_class,
            )
        except (ChangedDuringUpload, RemoteChanged) as exc:
            return exc
        except bce.ClientError as exc:  # one line naming the action and the key
            key = target.key(step.rel)
            raise (explain(exc, action="s3:PutObject", key=key, profile=profile) or exc) from None

    _keeps_what_it_replaces(s3, plan)
    shown: Progress | None = progress
    try:
        enabled = False if progress is not None else show_progress
        with make_progress(plan.send_bytes, enabled=enabled) as bars:
            shown = progress or bars
            for step, outcome in each_transfer(list(plan.to_send), move, cancel):  # type: ignore[arg-type]
                if isinstance(outcome, Exception):
                    failed.append((step.rel, str(outcome)))
                    continue
                sent.append((step, outcome))
                changes[step.rel] = _entry(step, outcome, target.storage_class, user, when)
                assert step.source is not None
                cache.remember(step.rel, step.source.stamp, outcome.crc32)
    except BaseException:
        # stopped part-way (Ctrl-C, the network, a refusal): what went up is recorded, and the
        # person hears why the run stopped, not a failure of this bookkeeping
        cache.save()
        if changes:
            with contextlib.suppress(Exception):
                write_index(s3, target, changes, user=user)
        raise
    cache.save()
    index = write_index(s3, target, changes, user=user) if changes else plan.index
    verified, unverified = verify(s3, plan, index, [s for s, _ in sent], {rel for rel, _ in failed})
    return CloudResult(plan, tuple(sent), tuple(failed), verified, tuple(unverified), index)


def _keeps_what_it_replaces(s3, plan: CloudPlan) -> None:
    """Archiving a changed file again replaces the archived version: only on a bucket that keeps
    old versions (vam's does, for the class's minimum storage duration)."""
    replacing = [s for s in plan.to_send if s.action == CHANGED and s.obj is not None]
    if not replacing:
        return
    versioning = read_versioning(s3, plan.target.bucket)
    if not versioning.keeps_old_versions:
        names = ", ".join(s.rel for s in replacing[:3]) + (" …" if len(replacing) > 3 else "")
        raise SafetyError(
            f"archiving {len(replacing)} changed file(s) again ({names}) would replace their "
            f"archived versions, and {versioning.describe()}: nothing would keep them; nothing "
            "was sent — turn versioning on (`vam aws.setup-bucket`) and run the same command again"
        )


def verify(
    s3, plan: CloudPlan, index: ArchiveIndex, sent: list[FileStep], failed: set[str]
) -> tuple[int, list[tuple[str, str]]]:
    """Every source file the archive should now hold: listed with the ETag, size and class the
    index has; each file sent also HEADed for its CRC32. (verified count, problems)."""
    target = plan.target
    listed = {
        o.rel: o
        for o in list_project(s3, target.bucket, target.brand_prefix, target.project_id)
        if not o.is_state
    }
    left = {s.rel for s in plan.left_changed} | failed  # (those are reported already)
    expected = [
        s.rel
        for s in plan.steps
        if s.source is not None and s.rel not in left and s.rel in index.files
    ]
    problems: dict[str, str] = {}
    for rel in expected:
        entry, obj = index.files[rel], listed.get(rel)
        if obj is None:
            problems[rel] = "not in the archive after the run"
        elif obj.etag != entry.etag or obj.size != entry.size:
            problems[rel] = "the archived object changed while vam archived it"
        elif obj.storage_class != entry.storage_class:
            problems[rel] = f"stored as {obj.storage_class}, not {entry.storage_class}"
    for step in sent:
        if step.rel in problems:
            continue
        entry = index.files[step.rel]
        details = head_checksum(s3, target.bucket, target.key(step.rel))
        if details.crc32 is not None and details.crc32 != entry.crc32:
            problems[step.rel] = f"S3 holds CRC32 {details.crc32:08x}, vam sent {entry.crc32:08x}"
    return len(expected) - len(problems), sorted(problems.items())


def result_lines(result: CloudResult) -> list[str]:
    """What happened, for people: each file sent, then the totals and what is left to do."""
    plan = result.plan
    target = plan.target
    lines = []
    for step, up in result.sent:
        again = f"  (resumed at {up.resumed_bytes * 100 // up.size}%)" if up.resumed_bytes else ""
        verb = "archived again" if step.action == CHANGED else "archived"
        lines.append(f"  ✓ {verb} {format_size(up.size)}  {step.rel}{again}")
    for rel, why in result.failed:
        lines.append(f"  ✗ {rel}: {why}")
    for sk in plan.problems:
        lines.append(f"  ✗ {sk.rel}: {sk.reason}")
    same = len(plan.of(ARCHIVED))
    lines.append(
        f"  {len(result.sent)} sent ({format_size(result.sent_bytes)}), {same} already archived; "
        f"verified {result.verified} file(s) in {target.where} ({target.storage_class})"
    )
    for rel, why in result.unverified:
        lines.append(f"  ✗ not verified: {rel}: {why}")
    for step in plan.left_changed:
        lines.append(f"  ! changed since it was archived: {step.rel} ({step.detail})")
    if plan.left_changed:
        lines.append(
            f"  → {target.command('cloud', '--update')}    # archive the new version(s); the "
            "archived ones stay as old versions"
        )
    kept = plan.of("kept")
    if kept:
        shown = ", ".join(s.rel for s in kept[:5]) + (" …" if len(kept) > 5 else "")
        lines.append(f"  kept in the archive, no longer in the source folder: {shown}")
    return lines
