"""The conditions under which an upload may publish: the other person's object is never
overwritten (If-Match / If-None-Match on the write, a HEAD before sending and before completing,
our own object recognised after a lost response), and a file saved while it was being sent is
never recorded as uploaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.exceptions as bce

from vam.core.crc import crc32_from_b64, crc32_hex
from vam.s3sync.transfer.etags import quoted
from vam.s3sync.transfer.retries import not_found
from vam.s3sync.transfer.values import META_CRC32, ChangedDuringUpload, RemoteChanged


def conditional_args(if_match: str | None, if_none_match: bool) -> dict[str, str]:
    """The request arguments of the caller's condition, for PutObject and the complete step."""
    args: dict[str, str] = {}
    if if_match:
        args["IfMatch"] = quoted(if_match)
    if if_none_match:
        args["IfNoneMatch"] = "*"
    return args


def check_precondition(
    s3: Any, bucket: str, key: str, if_match: str | None, if_none_match: bool
) -> None:
    """HEAD the key and raise RemoteChanged if the caller's condition no longer holds."""
    if not if_match and not if_none_match:
        return
    try:
        current = str(s3.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')
    except bce.ClientError as exc:
        if not not_found(exc):
            raise
        current = None
    if if_none_match and current is not None:
        raise RemoteChanged(
            f"s3://{bucket}/{key} appeared while uploading (someone else uploaded it); nothing was "
            "overwritten: run s3.status to compare the two versions"
        )
    if if_match and current != if_match.strip('"'):
        raise RemoteChanged(
            f"s3://{bucket}/{key} changed on S3 since it was compared (someone else uploaded a new "
            "version); nothing was overwritten: run s3.status to compare the two versions"
        )


def is_our_object(s3: Any, bucket: str, key: str, etag: str, crc32: int) -> bool:
    """The object holds exactly our bytes: our ETag (MD5, or MD5 of our parts' MD5s), and our
    CRC32 wherever the object states one (metadata, or S3's FULL_OBJECT checksum)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except bce.ClientError:
        return False
    if str(head["ETag"]).strip('"') != etag:
        return False
    declared = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}.get(META_CRC32)
    if declared is not None and declared != crc32_hex(crc32):
        return False
    full = head.get("ChecksumCRC32") if head.get("ChecksumType") == "FULL_OBJECT" else None
    return full is None or crc32_from_b64(full) == crc32


def changed(path: Path, why: str) -> ChangedDuringUpload:
    return ChangedDuringUpload(
        f"{path} changed while it was being uploaded ({why}); nothing was recorded as uploaded: "
        "let the program writing it finish, then run the same command again"
    )


def remote_changed(bucket: str, key: str) -> RemoteChanged:
    return RemoteChanged(
        f"s3://{bucket}/{key} changed on S3 since it was compared (a conditional write was "
        "refused); nothing was overwritten: run s3.status to compare the two versions"
    )
