"""The per-project index object in S3: `{staging prefix}{project}/.vam/index.json`.

rel -> size, crc32, etag, version_id, uploaded_by, uploaded_at, mtime_ns. Written by `s3.up` with a
conditional write (If-Match on the index's own ETag, If-None-Match when creating it), retried on a
race, so `s3.status` learns every vam-uploaded object's checksum and uploader from one GET instead
of one HEAD per file. It is a cache of object metadata: an entry is trusted only while its ETag
equals the listed object's ETag; anything else gets a HEAD.

`read_index` is the one reader (the sync's scan, and the reports' staging read): an entry counts
only in the form vam writes it (every field, a CRC32 as an int); one in any other form is left
out on its own, and the next `s3.up` writes the index without it. `index_changed` is the cheap
look `vam watch` takes every few seconds: has anyone written it since?
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions as bce

from vam.core.layout import STATE_DIR

INDEX_REL = f"{STATE_DIR}/index.json"
VAM_PREFIX = f"{STATE_DIR}/"  # keys under {project}/.vam/ are vam's own, never project files


@dataclass(frozen=True)
class IndexEntry:
    size: int
    crc32: int
    etag: str
    version_id: str | None
    uploaded_by: str | None
    uploaded_at: str  # ISO 8601 UTC
    mtime_ns: int | None


@dataclass(frozen=True)
class RemoteIndex:
    entries: dict[str, IndexEntry]
    etag: str | None  # the index object's own ETag; None when it does not exist yet
    # rel -> who uploaded it, from every entry that names someone, whole or not (for reports)
    uploaders: dict[str, str] = field(default_factory=dict)


def is_vam_key(rel: str) -> bool:
    return rel == STATE_DIR or rel.startswith(VAM_PREFIX)


def index_key(project_prefix: str) -> str:
    return f"{project_prefix}{INDEX_REL}"


def _code(exc: bce.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class IndexLook:
    changed: bool  # written (or created, or deleted) since it had the ETag asked about
    etag: str | None  # its ETag now; None: the project has no index (nothing uploaded by vam)


def index_changed(s3, bucket: str, project_prefix: str, etag: str | None) -> IndexLook:
    """Whether the project's index changed since it had ETag `etag` (None: it did not exist):
    a HEAD with If-None-Match, which S3 answers 304 with no body when nothing changed. A server
    that ignores the condition answers 200 with the same ETag, which counts as unchanged too."""
    condition = {"IfNoneMatch": f'"{etag}"'} if etag else {}
    try:
        resp = s3.head_object(Bucket=bucket, Key=index_key(project_prefix), **condition)
    except bce.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if _code(exc) == "304" or status == 304:
            return IndexLook(False, etag)
        if _code(exc) in ("NoSuchKey", "404", "NotFound") or status == 404:
            return IndexLook(etag is not None, None)
        raise
    now = str(resp.get("ETag", "")).strip('"') or None
    return IndexLook(now != etag, now)


def read_index(s3, bucket: str, project_prefix: str) -> RemoteIndex:
    """The index, or an empty one when absent or unreadable (it is only a shortcut)."""
    try:
        resp = s3.get_object(Bucket=bucket, Key=index_key(project_prefix))
    except bce.ClientError as exc:
        if _code(exc) in ("NoSuchKey", "404", "NotFound"):
            return RemoteIndex({}, None)
        raise
    etag = str(resp.get("ETag", "")).strip('"')
    try:
        files = json.loads(resp["Body"].read()).get("files", {})
        raw = {str(rel): e for rel, e in files.items() if isinstance(e, dict)}
    except (ValueError, TypeError, AttributeError):
        raw = {}
    entries = {rel: entry for rel, e in raw.items() if (entry := _entry(e)) is not None}
    who = {rel: e["uploaded_by"] for rel, e in raw.items() if isinstance(e.get("uploaded_by"), str)}
    return RemoteIndex(entries, etag, who)


_FIELDS = {f.name for f in fields(IndexEntry)}


def _entry(raw: dict[str, Any]) -> IndexEntry | None:
    """An entry as vam writes it (see IndexEntry), else None: vam does not guess at the meaning
    of a CRC32 in another form or a field left out."""
    if set(raw) != _FIELDS:
        return None
    entry = IndexEntry(**raw)
    whole = (
        _is_int(entry.size)
        and _is_int(entry.crc32)
        and isinstance(entry.etag, str)
        and isinstance(entry.uploaded_at, str)
        and isinstance(entry.version_id, str | None)
        and isinstance(entry.uploaded_by, str | None)
        and (entry.mtime_ns is None or _is_int(entry.mtime_ns))
    )
    return entry if whole else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def update_index(
    s3,
    bucket: str,
    project_prefix: str,
    changes: dict[str, IndexEntry],
    *,
    present: set[str] | None = None,
    user: str | None = None,
    attempts: int = 5,
    current: RemoteIndex | None = None,
) -> RemoteIndex:
    """Merge `changes` into the index with a conditional write; re-read and merge again when
    someone else wrote it meanwhile. `present`: the rels the caller saw in S3; the entries of
    the others are dropped (deleted files), except those someone else added since the version the
    caller began from (Jan's upload that landed meanwhile: not the caller's to judge).
    `current`: the index as the caller read it earlier, written on without reading it again
    (only where the server honours the condition: a stale one is then refused, and re-read)."""
    began: set[str] | None = set(current.entries) if current is not None else None
    for attempt in range(attempts):
        if attempt or current is None:
            current = read_index(s3, bucket, project_prefix)
        if began is None:
            began = set(current.entries)
        entries = dict(current.entries)
        if present is not None:
            entries = {
                rel: e
                for rel, e in entries.items()
                if rel in present or rel in changes or rel not in began
            }
        entries.update(changes)
        body = json.dumps(
            {
                "version": 1,
                "updated_by": user,
                "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "files": {rel: asdict(e) for rel, e in sorted(entries.items())},
            },
            indent=1,
        ).encode()
        cond = {"IfMatch": f'"{current.etag}"'} if current.etag else {"IfNoneMatch": "*"}
        try:
            resp = s3.put_object(
                Bucket=bucket,
                Key=index_key(project_prefix),
                Body=body,
                ContentType="application/json",
                **cond,
            )
        except bce.ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                continue
            raise
        return RemoteIndex(entries, str(resp.get("ETag", "")).strip('"'))
    # lost the race every time: the index stays behind, status will HEAD the new objects instead
    return read_index(s3, bucket, project_prefix)
