"""The archive index: `{archive prefix}{project}/.vam/archive.json`, in S3 Standard (readable
without a restore), written by `archive.cloud` after its uploads.

Per file: size, CRC32 (the FULL_OBJECT checksum S3 verified on upload), ETag, version, storage
class, who archived it and when, its mtime. It is what a restore is verified against, what a
second `archive.cloud` compares the project with (so it sends nothing), and what the manifest
and `archive.status` read without touching the archived objects.

Written with a conditional write (If-Match on its own ETag, If-None-Match when new), merged again
on a race. An entry in any other form than vam writes is left out on its own; an object the index
does not know is compared by a HEAD (an interrupted run wrote its objects but not the index).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions as bce

from vam.archive.target import ArchiveTarget
from vam.core.crc import crc32_hex
from vam.core.units import iso_utc
from vam.s3sync.transfer import RemoteChanged

FORMAT = 1


@dataclass(frozen=True)
class ArchivedFile:
    size: int
    crc32: int
    etag: str
    version_id: str | None
    storage_class: str
    archived_at: str  # ISO 8601 UTC
    archived_by: str | None
    mtime_ns: int | None


@dataclass(frozen=True)
class ArchiveIndex:
    files: dict[str, ArchivedFile]
    etag: str | None  # the index object's own; None when there is none yet
    archived_at: str | None = None  # the last run that changed it
    archived_by: str | None = None


EMPTY = ArchiveIndex({}, None)


def _code(exc: bce.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def read_index(s3, target: ArchiveTarget) -> ArchiveIndex:
    """The index, or an empty one when there is none; a damaged one reads as empty (its objects
    are then compared by HEAD)."""
    try:
        resp = s3.get_object(Bucket=target.bucket, Key=target.index_key)
    except bce.ClientError as exc:
        if _code(exc) in ("NoSuchKey", "404", "NotFound"):
            return EMPTY
        raise
    etag = str(resp.get("ETag", "")).strip('"')
    try:
        data = json.loads(resp["Body"].read())
        raw = {str(rel): e for rel, e in data.get("files", {}).items() if isinstance(e, dict)}
    except (ValueError, TypeError, AttributeError):
        return ArchiveIndex({}, etag)
    files = {rel: entry for rel, e in raw.items() if (entry := _entry(e)) is not None}
    return ArchiveIndex(files, etag, _text(data.get("archived_at")), _text(data.get("archived_by")))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


_FIELDS = {f.name for f in fields(ArchivedFile)}


def _entry(raw: dict[str, Any]) -> ArchivedFile | None:
    if set(raw) != _FIELDS:
        return None
    try:
        crc = int(str(raw["crc32"]), 16)
    except ValueError:
        return None
    entry = ArchivedFile(**{**raw, "crc32": crc})
    whole = (
        _is_int(entry.size)
        and isinstance(entry.etag, str)
        and isinstance(entry.storage_class, str)
        and isinstance(entry.archived_at, str)
        and isinstance(entry.version_id, str | None)
        and isinstance(entry.archived_by, str | None)
        and (entry.mtime_ns is None or _is_int(entry.mtime_ns))
    )
    return entry if whole else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _document(target: ArchiveTarget, files: dict[str, ArchivedFile], user: str, when: str) -> bytes:
    return json.dumps(
        {
            "format": FORMAT,
            "brand": target.brand_key,
            "project": target.project_id,
            "archived_at": when,
            "archived_by": user,
            "files": {
                rel: {**asdict(f), "crc32": crc32_hex(f.crc32)} for rel, f in sorted(files.items())
            },
        },
        indent=1,
        ensure_ascii=False,
    ).encode()


def write_index(
    s3,
    target: ArchiveTarget,
    changes: dict[str, ArchivedFile],
    *,
    user: str,
    attempts: int = 5,
) -> ArchiveIndex:
    """Merge `changes` into the index and write it conditionally; when someone else wrote it
    meanwhile, read it again and merge again. Returns the index as written."""
    when = iso_utc(datetime.now(UTC))
    for _ in range(attempts):
        current = read_index(s3, target)
        files = {**current.files, **changes}
        condition = {"IfMatch": f'"{current.etag}"'} if current.etag else {"IfNoneMatch": "*"}
        try:
            resp = s3.put_object(
                Bucket=target.bucket,
                Key=target.index_key,
                Body=_document(target, files, user, when),
                ContentType="application/json",
                ChecksumAlgorithm="CRC32",
                **condition,
            )
        except bce.ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                continue
            raise
        return ArchiveIndex(files, str(resp.get("ETag", "")).strip('"'), when, user)
    raise RemoteChanged(
        f"the archive index s3://{target.bucket}/{target.index_key} kept changing while vam "
        "wrote it (is someone else archiving this project?); the files are archived: run the "
        "same command again to record them"
    )
