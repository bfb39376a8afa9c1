"""Downloading the restored (or readable) files of a restore plan into its folder, each through
the transfer engine (a `.vam-part` file, resumable, checked against the archive index's CRC32
before it takes its name) and published only where no file of that name is (the sync's rule: a
file that appeared meanwhile is kept, and the archived version waits beside it under a conflict
name). The restored file gets its archived mtime back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import botocore.exceptions as bce

from vam.archive.restore import RestoreFile, RestorePlan
from vam.core.errors import NotFoundError
from vam.core.files import Stamp
from vam.core.layout import STATE_DIR
from vam.s3sync.fingerprint import ChecksumCache, Hasher
from vam.s3sync.overwrite import ChangedHere, publish_download
from vam.s3sync.parallel import each_transfer
from vam.s3sync.transfer import IntegrityError, RemoteChanged, download_file
from vam.s3sync.transfer.progress import make_progress


@dataclass(frozen=True)
class Fetched:
    restored: tuple[RestoreFile, ...]  # downloaded, verified, under their names
    set_aside: tuple[tuple[RestoreFile, Path], ...] = ()  # a file appeared: ours is beside it
    failed: tuple[tuple[RestoreFile, str], ...] = ()  # (file, why) not restored

    @property
    def restored_bytes(self) -> int:
        return sum(f.entry.size for f in self.restored)


def _why(exc: BaseException) -> str | None:
    """One line for an error that stops one file, not the run; None: stop the run."""
    if isinstance(exc, IntegrityError | RemoteChanged | NotFoundError):
        return str(exc)
    if isinstance(exc, bce.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "InvalidObjectState":
            return (
                "not readable (its restore expired, or has not finished): run the same command "
                "again"
            )
    return None


def fetch(
    s3,
    plan: RestorePlan,
    files: tuple[RestoreFile, ...],
    *,
    max_rate: int | None = None,
    show_progress: bool | None = None,
) -> Fetched:
    """Download `files` (readable now) into the plan's folder, verified."""
    target = plan.target
    state_dir = plan.dest / STATE_DIR
    cache = ChecksumCache(state_dir / "archive")
    hasher = Hasher()
    cancel = threading.Event()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H%M")
    restored: list[RestoreFile] = []
    aside: list[tuple[RestoreFile, Path]] = []
    failed: list[tuple[RestoreFile, str]] = []

    def publish_as(f: RestoreFile):
        def publish(temp: Path, dest: Path):
            # seen=None: there was no file of this name when planned; if one appeared since, it
            # stays, and the archived version goes beside it
            return publish_download(
                temp,
                dest,
                rel=f.rel,
                seen=None,
                hasher=hasher,
                backup=None,
                who="archive",
                when=when,
            )

        return publish

    def move(f: RestoreFile):
        try:
            return download_file(
                s3,
                target.bucket,
                f.key,
                plan.dest.joinpath(*f.rel.split("/")),
                size=f.entry.size,
                etag=f.entry.etag,
                crc32=f.entry.crc32,
                mtime_ns=f.entry.mtime_ns,
                progress=progress,
                max_rate=max_rate,
                state_dir=state_dir,
                cancel=cancel,
                publish=publish_as(f),
            )
        except ChangedHere as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - sorted below: one file's, or the run's
            if _why(exc) is None:
                raise
            return exc

    try:
        with make_progress(sum(f.entry.size for f in files), enabled=show_progress) as progress:
            for f, outcome in each_transfer(list(files), move, cancel):  # type: ignore[arg-type]
                if isinstance(outcome, ChangedHere):
                    aside.append((f, outcome.copy or plan.dest))
                elif isinstance(outcome, Exception):
                    failed.append((f, _why(outcome) or str(outcome)))
                else:
                    restored.append(f)
                    path = plan.dest.joinpath(*f.rel.split("/"))
                    cache.remember(f.rel, Stamp.read(path), f.entry.crc32)
    finally:
        cache.save()
    return Fetched(tuple(restored), tuple(aside), tuple(failed))
