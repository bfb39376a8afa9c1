"""Uploading one file: the checks before anything is sent, and the single PUT of a file below
SINGLE_PUT_LIMIT (read once, checked against the caller's CRC32, sent with its CRC32 and the
caller's condition). Larger files go to the multipart upload (multipart.py)."""

from __future__ import annotations

import hashlib
import os
import threading
import zlib
from pathlib import Path
from typing import Any

import botocore.exceptions as bce

from vam.core.crc import crc32_b64, crc32_hex
from vam.core.files import Stamp
from vam.s3sync.transfer import tuning
from vam.s3sync.transfer.conditions import (
    changed,
    check_precondition,
    conditional_args,
    is_our_object,
    remote_changed,
)
from vam.s3sync.transfer.metering import Meter, install_meter, metered
from vam.s3sync.transfer.multipart import put_multipart
from vam.s3sync.transfer.progress import NO_PROGRESS, Progress
from vam.s3sync.transfer.ratelimit import limiter_for
from vam.s3sync.transfer.retries import precondition_failed, with_retries
from vam.s3sync.transfer.roundtrip import observe
from vam.s3sync.transfer.signing import install_unsigned_payload
from vam.s3sync.transfer.values import META_CRC32, META_PART_SIZE, Uploaded


def upload_file(
    s3: Any,
    bucket: str,
    key: str,
    path: Path,
    *,
    crc32: int | None,
    metadata: dict[str, str],
    if_match: str | None = None,
    if_none_match: bool = False,
    progress: Progress = NO_PROGRESS,
    max_rate: int | None = None,
    state_dir: Path | None = None,
    planned: Stamp | None = None,
    cancel: threading.Event | None = None,
    head_first: bool = False,
    complete_checked: bool = False,
    storage_class: str | None = None,
) -> Uploaded:
    """Upload `path` to `key`, verified against `crc32`, resumably when `state_dir` is given.

    `crc32` None: nobody read the file yet (a new file); its CRC32 is taken from the bytes as
    they are sent, and a change while sending is caught by size and mtime. A multipart upload
    then carries no crc32 metadata (it is fixed when the upload starts): S3 keeps the FULL_OBJECT
    CRC32 and vam's index the value, and on servers that keep neither the ETag still verifies.
    `planned` = the stamp the plan saw: a file saved since is refused before sending; the file's
    stamp must be the same again once the bytes are out (a save in place with its mtime put back
    still moves the ctime), or the upload is not recorded.
    `cancel`, once set, stops the transfer within a chunk (the caller re-raises its reason).
    `head_first`: the server ignores If-Match / If-None-Match, so a single PUT HEADs the key just
    before (the multipart path HEADs before completing anyway).
    `complete_checked`: the server refuses a multipart upload's complete step when the caller's
    condition fails (probed: bucketcaps.py), so the multipart path does not HEAD right before it.
    `storage_class`: the object's S3 storage class (the off-site archive's DEEP_ARCHIVE, …);
    None leaves it to the bucket (STANDARD)."""
    path = Path(path)
    stat = path.stat()
    if planned is not None and Stamp.of(stat) != planned:
        raise changed(path, "it was saved again after the plan was made")
    meta = dict(metadata)
    placement = {"StorageClass": storage_class} if storage_class else {}
    if crc32 is not None:
        meta[META_CRC32] = crc32_hex(crc32)
    meter = Meter(key, progress, limiter_for(max_rate), cancel)
    install_meter(s3)
    observe(s3)
    install_unsigned_payload(s3)
    progress.start_file(key, stat.st_size)
    ok = False
    try:
        if stat.st_size < tuning.SINGLE_PUT_LIMIT:
            if head_first:
                check_precondition(s3, bucket, key, if_match, if_none_match)
            result = _put_single(
                s3, bucket, key, path, stat, crc32, meta, if_match, if_none_match, meter, placement
            )
        else:
            result = put_multipart(
                s3,
                bucket,
                key,
                path,
                stat,
                crc32,
                meta,
                if_match,
                if_none_match,
                meter,
                state_dir,
                placement,
                complete_checked,
            )
        ok = True
        return result
    finally:
        progress.end_file(key, ok)


def _put_single(
    s3: Any,
    bucket: str,
    key: str,
    path: Path,
    stat: os.stat_result,
    crc32: int | None,
    meta: dict[str, str],
    if_match: str | None,
    if_none_match: bool,
    meter: Meter,
    placement: dict[str, str],
) -> Uploaded:
    with path.open("rb") as fh:
        data = fh.read(tuning.SINGLE_PUT_LIMIT + 1)
    if len(data) != stat.st_size:
        raise changed(path, "its size changed")
    if crc32 is None:  # one read: the bytes we hold are the bytes we send and describe
        now = os.stat(path)
        if Stamp.of(now) != Stamp.of(stat):
            raise changed(path, "it was saved again while it was being read")
        crc32 = zlib.crc32(data)
        meta = {**meta, META_CRC32: crc32_hex(crc32)}
    elif zlib.crc32(data) != crc32:
        raise changed(path, "its content no longer matches the checksum taken before")
    kwargs: dict[str, Any] = dict(
        Bucket=bucket,
        Key=key,
        Body=data,
        Metadata={**meta, META_PART_SIZE: "0"},
        ChecksumAlgorithm="CRC32",
        ChecksumCRC32=crc32_b64(crc32),
        **placement,
        **conditional_args(if_match, if_none_match),
    )
    try:
        response = with_retries(
            lambda: metered(meter, s3.put_object, **kwargs), meter.stop, meter.live, key
        )
    except bce.ClientError as exc:
        if not precondition_failed(exc):
            raise
        # A retry (ours or botocore's) after a lost response may be refused because the first
        # attempt landed: if the object holds exactly our bytes and checksum, it is ours.
        if is_our_object(s3, bucket, key, hashlib.md5(data).hexdigest(), crc32):
            response = s3.head_object(Bucket=bucket, Key=key)
        else:
            raise remote_changed(bucket, key) from None
    return Uploaded(
        key=key,
        size=len(data),
        etag=str(response["ETag"]).strip('"'),
        crc32=crc32,
        version_id=response.get("VersionId"),
        part_size=0,
    )
