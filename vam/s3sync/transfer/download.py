"""Downloading one version of an object to a file: into `<name>.vam-part` next to it, resumed
from its record after an interruption, verified, fsynced and only then given its name."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vam.core import durable
from vam.core.errors import NotFoundError
from vam.core.layout import PARTIAL_SUFFIX
from vam.core.posio import reserve
from vam.s3sync.transfer.download_state import DownloadState
from vam.s3sync.transfer.etag_follower import follower_for
from vam.s3sync.transfer.metering import Meter
from vam.s3sync.transfer.partials import disk_full, download_record, resumable_bytes
from vam.s3sync.transfer.progress import NO_PROGRESS, Progress
from vam.s3sync.transfer.ranges import fetch_ranges, moved, ranges_for
from vam.s3sync.transfer.ratelimit import limiter_for
from vam.s3sync.transfer.records import drop_record, read_record, write_record
from vam.s3sync.transfer.remote import head_checksum
from vam.s3sync.transfer.roundtrip import observe
from vam.s3sync.transfer.values import (
    Downloaded,
    IntegrityError,
    NotPublished,
    RemoteChanged,
)
from vam.s3sync.transfer.verify import verify


def download_file(
    s3: Any,
    bucket: str,
    key: str,
    dest: Path,
    *,
    size: int,
    etag: str,
    crc32: int | None = None,
    mtime_ns: int | None = None,
    progress: Progress = NO_PROGRESS,
    max_rate: int | None = None,
    state_dir: Path | None = None,
    cancel: threading.Event | None = None,
    publish: Callable[[Path, Path], Any] | None = None,
    make_folder: bool = True,
) -> Downloaded:
    """Download the version `etag` of `key` to `dest`, verified, via `<dest>.vam-part`.
    `cancel`, once set, stops the transfer within a chunk; the bytes on disk are kept.

    `publish(temp, dest)` gives the verified, durable file its name (default: a rename that
    waits while another program holds `dest`, vam.core.durable.replace); its return value is
    Downloaded.published. The sync core passes one that first checks the local file is still
    the version it planned to replace. A full disk raises DiskFull naming the partial file.
    `make_folder=False`: dest's folder must be there already (the caller made it, and a folder
    moved away since is not made again: the partial file cannot be opened, OSError)."""
    dest = Path(dest)
    etag = etag.strip('"')
    if make_folder:
        dest.parent.mkdir(parents=True, exist_ok=True)
    temp = dest.with_name(dest.name + PARTIAL_SUFFIX)
    record_path = download_record(state_dir, bucket, key, dest)
    ranges = ranges_for(size)
    base = {
        "bucket": bucket,
        "key": key,
        "dest": str(dest.absolute()),
        "etag": etag,
        "size": size,
        "ranges": [list(r) for r in ranges],
    }
    meter = Meter(key, progress, limiter_for(max_rate), cancel)
    observe(s3)

    record = read_record(record_path)
    done: dict[int, int] = {}
    if (
        record is not None
        and all(record.get(k) == v for k, v in base.items())
        and temp.exists()
        and temp.stat().st_size == size
    ):
        done = {int(k): int(v) for k, v in (record.get("done") or {}).items()}
    else:
        drop_record(record_path)
        temp.unlink(missing_ok=True)

    progress.start_file(key, size)
    resumed = sum(done.values())
    if resumed:
        progress.resumed(key, resumed)
    ok = False
    keep_partial = record_path is not None
    try:
        details = None
        if crc32 is None:  # we will need the object's own checksum (or its ETag's part size)
            details = head_checksum(s3, bucket, key)
            if details.etag != etag:
                raise moved(bucket, key)
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            had = os.fstat(fd).st_size
            if had != size:
                try:
                    reserve(fd, size)  # its blocks allocated now, where the filesystem can
                except OSError as exc:
                    if exc.errno == errno.ENOSPC:
                        os.ftruncate(fd, had)  # give back what a failed allocation took
                        # nothing in it worth keeping: only ever the empty file this call made
                        # (a partial without its record was removed above), checked again here
                        if not resumed and had == 0 and os.fstat(fd).st_size == 0:
                            keep_partial = False
                            with contextlib.suppress(OSError):  # (Windows: unlinked below)
                                temp.unlink()
                    raise
            state = DownloadState(record_path, base, done, fd)
            if ranges:  # written before the first byte arrives, so even kill -9 can resume
                state.advance(ranges[0][0], done.get(ranges[0][0], 0))
                state.save()
            follower = follower_for(fd, size, ranges, state, etag, crc32, details)
            try:
                crc, version_id = fetch_ranges(s3, bucket, key, etag, fd, ranges, state, meter)
                computed_etag = follower.result() if follower else None
            finally:
                if follower:
                    follower.stop()
            durable.flush(fd)  # on the disk before it can take a name (F_FULLFSYNC on macOS)
        finally:
            os.close(fd)
        verify(temp, bucket, key, size, etag, crc, crc32, details, computed_etag)
        if mtime_ns is not None:
            os.utime(temp, ns=(mtime_ns, mtime_ns))
        try:
            published = publish(temp, dest) if publish is not None else durable.replace(temp, dest)
        except durable.FileBusy:
            # complete, verified and on the disk: the next run only gives it its name
            write_record(record_path, {**base, "done": {str(a): b - a for a, b in ranges}})
            raise
        drop_record(record_path)
        ok = True
        if version_id is None and details is not None:
            version_id = details.version_id
        return Downloaded(
            path=dest,
            size=size,
            etag=etag,
            crc32=crc,
            version_id=version_id,
            resumed_bytes=resumed,
            published=published,
        )
    except (IntegrityError, RemoteChanged, NotFoundError, NotPublished):
        keep_partial = False  # these bytes will never become that file: start clean next time
        raise
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        raise disk_full(dest, size, resumable_bytes(record_path)) from None
    finally:
        if not ok and not keep_partial:
            temp.unlink(missing_ok=True)
            drop_record(record_path)
        progress.end_file(key, ok)
