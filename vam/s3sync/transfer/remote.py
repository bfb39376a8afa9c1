"""What S3 says about one object, from a HEAD: size, ETag, the CRC32 it carries (S3's
FULL_OBJECT checksum or vam's metadata), who uploaded it, and the part size of a multipart
object, which is what comparing it by content needs."""

from __future__ import annotations

import re
from typing import Any

import botocore.exceptions as bce

from vam.core.crc import crc32_from_b64
from vam.core.errors import NotFoundError
from vam.s3sync.transfer.etags import MULTIPART_ETAG
from vam.s3sync.transfer.retries import not_found
from vam.s3sync.transfer.values import (
    META_CRC32,
    META_MTIME,
    META_PART_SIZE,
    META_UPLOADED_BY,
    RemoteDetails,
)


def head_checksum(s3: Any, bucket: str, key: str) -> RemoteDetails:
    """Everything needed to compare an object by content, from one HEAD (two for multipart
    objects uploaded by other tools, whose part size only HEAD PartNumber=1 reveals)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except bce.ClientError as exc:
        if not_found(exc):
            raise NotFoundError(
                f"s3://{bucket}/{key} does not exist (any more); run s3.status to see what changed"
            ) from None
        raise
    etag = str(head.get("ETag", "")).strip('"')
    meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
    multipart = MULTIPART_ETAG.match(etag)
    crc: int | None = None
    checksum_type = head.get("ChecksumType")
    if head.get("ChecksumCRC32") and (
        checksum_type == "FULL_OBJECT" or (checksum_type is None and not multipart)
    ):
        crc = crc32_from_b64(head["ChecksumCRC32"])
    if crc is None and re.fullmatch(r"[0-9a-fA-F]{8}", meta.get(META_CRC32, "")):
        crc = int(meta[META_CRC32], 16)
    part_size = parts = None
    if multipart:
        parts = int(multipart.group(1))
        declared = meta.get(META_PART_SIZE, "")
        if declared.isdigit() and int(declared) > 0:
            part_size = int(declared)
        else:
            # (no If-Match here: moto compares it with the part's ETag, not the object's)
            first = s3.head_object(Bucket=bucket, Key=key, PartNumber=1)
            part_size = int(first["ContentLength"])
            parts = int(first.get("PartsCount") or parts)
    mtime = meta.get(META_MTIME, "")
    return RemoteDetails(
        size=int(head["ContentLength"]),
        etag=etag,
        crc32=crc,
        version_id=head.get("VersionId"),
        uploaded_by=meta.get(META_UPLOADED_BY),
        mtime_ns=int(mtime) if mtime.isdigit() else None,
        last_modified=head["LastModified"],
        part_size=part_size,
        parts=parts,
    )
