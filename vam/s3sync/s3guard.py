"""Replacing or deleting one exact S3 version without losing it.

Before vam replaces (`s3.up --force` over a conflict) or deletes (`s3.up --delete`, `s3.cleanup`)
an S3 object whose content is not provably elsewhere, and the bucket keeps no previous versions
(bucketcaps.read_versioning: off, suspended or unknown), the version is copied server-side to

    {staging prefix}{project}/.vam/backups/{UTC stamp}/{path}

with CopySourceIfMatch on the ETag the plan showed (objects over COPY_LIMIT, S3's 5 GB limit of a
single CopyObject, by a multipart copy whose every UploadPartCopy carries the same condition).
Where the server may ignore copy-source conditions, the source is also HEADed before and after the
copy: the same ETag on both sides of it means the copy holds that version. Keys under `.vam/` are
vam's own: sync never takes them for project files, and cleanup keeps them unless asked.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import botocore.exceptions as bce

from vam.aws.bucketcaps import Conditions, VersioningState, conditions_for, read_versioning
from vam.core.errors import VamError
from vam.core.layout import STATE_DIR

BACKUPS = "backups"
BACKUP_PREFIX = f"{STATE_DIR}/{BACKUPS}/"  # under a project's prefix
COPY_LIMIT = 5 * 1000**3  # larger sources need a multipart copy (S3: CopyObject up to 5 GB)
COPY_PART_SIZE = 512 * 1024 * 1024
COPY_WORKERS = 4

# said wherever a HEAD stands in for a condition the server ignores
WEAKER = "checked by a HEAD just before: this bucket ignores conditional requests, a weaker check"
DELETED, GONE, CHANGED = "deleted", "gone", "changed"


class Changed(VamError):
    """The S3 object is no longer the version the plan showed: nothing was copied or changed."""


@dataclass(frozen=True)
class Kept:
    """A server-side copy of the version about to be replaced or deleted."""

    key: str
    bucket: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def is_backup_key(rel: str) -> bool:
    """A key inside a project (relative to its prefix) that holds one of vam's backups."""
    return rel.startswith(BACKUP_PREFIX)


def stamp_now() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _quoted(etag: str) -> str:
    return f'"{etag.strip(chr(34))}"'


def _code(exc: bce.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: bce.ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def precondition_failed(exc: BaseException) -> bool:
    return isinstance(exc, bce.ClientError) and (
        _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict")
        or _status(exc) == 412
    )


def not_found(exc: BaseException) -> bool:
    return isinstance(exc, bce.ClientError) and (
        _code(exc) in ("404", "NoSuchKey", "NotFound") or _status(exc) == 404
    )


def current_etag(s3, bucket: str, key: str) -> str | None:
    """The object's ETag now (HEAD), None when it is gone."""
    try:
        return str(s3.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')
    except bce.ClientError as exc:
        if not_found(exc):
            return None
        raise


def _expect(s3, bucket: str, key: str, etag: str) -> dict:
    """HEAD the source; Changed unless it is still the version `etag`."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except bce.ClientError as exc:
        if not_found(exc):
            raise Changed(f"s3://{bucket}/{key} was deleted since the plan") from None
        raise
    if str(head["ETag"]).strip('"') != etag.strip('"'):
        raise Changed(f"s3://{bucket}/{key} changed in S3 since the plan (someone uploaded again)")
    return head


def _free_key(s3, bucket: str, project_prefix: str, stamp: str, rel: str) -> str:
    """The backup's key; a second backup of the same path within the same second gets `-2`."""
    for n in range(1, 100):
        folder = stamp if n == 1 else f"{stamp}-{n}"
        key = f"{project_prefix}{BACKUP_PREFIX}{folder}/{rel}"
        if current_etag(s3, bucket, key) is None:
            return key
    raise VamError(f"too many backups of {rel} under {project_prefix}{BACKUP_PREFIX}{stamp}")


def copy_version(
    s3,
    bucket: str,
    key: str,
    etag: str,
    size: int,
    backup_key: str,
    *,
    verify_by_head: bool = True,
) -> Kept:
    """Copy the object `key`, only while it is the version `etag`, to `backup_key` (server-side:
    no byte crosses the person's link). `verify_by_head`: the server may ignore copy-source
    conditions, so HEAD the source before and after the copy as well."""
    source = {"Bucket": bucket, "Key": key}
    head = _expect(s3, bucket, key, etag) if verify_by_head else None
    try:
        if size <= COPY_LIMIT:
            s3.copy_object(
                Bucket=bucket,
                Key=backup_key,
                CopySource=source,
                CopySourceIfMatch=_quoted(etag),
                MetadataDirective="COPY",
            )
        else:
            if head is None:
                head = _expect(s3, bucket, key, etag)  # its metadata goes with the copy
            _multipart_copy(s3, bucket, source, etag, size, backup_key, head)
    except bce.ClientError as exc:
        if precondition_failed(exc):
            raise Changed(
                f"s3://{bucket}/{key} changed in S3 since the plan (someone uploaded again)"
            ) from None
        if not_found(exc) and _code(exc) != "NoSuchUpload":
            raise Changed(f"s3://{bucket}/{key} was deleted since the plan") from None
        raise
    if verify_by_head:
        try:
            _expect(s3, bucket, key, etag)
        except Changed:
            _delete_quietly(s3, bucket, backup_key)  # it may hold the newer version, not ours
            raise
    return Kept(backup_key, bucket)


def _multipart_copy(
    s3, bucket: str, source: dict, etag: str, size: int, backup_key: str, head: dict
) -> None:
    created = s3.create_multipart_upload(
        Bucket=bucket,
        Key=backup_key,
        Metadata=head.get("Metadata") or {},
        ContentType=head.get("ContentType") or "binary/octet-stream",
    )
    upload_id = created["UploadId"]
    ranges = [
        (n + 1, start, min(start + COPY_PART_SIZE, size) - 1)
        for n, start in enumerate(range(0, size, COPY_PART_SIZE))
    ]

    def part(bounds: tuple[int, int, int]) -> dict:
        number, first, last = bounds
        resp = s3.upload_part_copy(
            Bucket=bucket,
            Key=backup_key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource=source,
            CopySourceRange=f"bytes={first}-{last}",
            CopySourceIfMatch=_quoted(etag),
        )
        return {"PartNumber": number, "ETag": resp["CopyPartResult"]["ETag"]}

    try:
        with ThreadPoolExecutor(min(COPY_WORKERS, len(ranges)), "vam-copy") as pool:
            parts = list(pool.map(part, ranges))
        s3.complete_multipart_upload(
            Bucket=bucket, Key=backup_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=backup_key, UploadId=upload_id)
        except (bce.ClientError, bce.BotoCoreError):
            pass  # the bucket's lifecycle rule aborts it after 7 days
        raise


def delete_version(s3, bucket: str, key: str, etag: str, conditions: Conditions) -> str:
    """Delete `key` only while it is the version `etag`: DELETED, GONE (already), or CHANGED
    (nothing deleted). With If-Match where the bucket honours it on DELETE, else by a HEAD right
    before the delete (the window between the two is the weaker protection)."""
    if conditions.deletes:
        try:
            s3.delete_object(Bucket=bucket, Key=key, IfMatch=_quoted(etag))
        except bce.ClientError as exc:
            if precondition_failed(exc):
                return CHANGED
            if not_found(exc):
                return GONE
            raise
        return DELETED
    now = current_etag(s3, bucket, key)
    if now is None:
        return GONE
    if now != etag.strip('"'):
        return CHANGED
    s3.delete_object(Bucket=bucket, Key=key)
    return DELETED


def _delete_quietly(s3, bucket: str, key: str) -> None:
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except (bce.ClientError, bce.BotoCoreError):
        pass


class RemoteGuard:
    """One run's protection of the S3 versions it replaces or deletes in one project.

    The bucket's versioning is read at most once per run, and only when something is about to
    be replaced or deleted; what conditional requests it honours comes from vam's cache (or one
    probe under `probe_prefix`, the brand's staging prefix). Thread-safe: uploads run several at
    a time."""

    def __init__(
        self,
        s3,
        bucket: str,
        project_prefix: str,
        *,
        probe_prefix: str | None = None,
        stamp: str | None = None,
        versioning: VersioningState | None = None,
        conditions: Conditions | None = None,
    ):
        self.s3 = s3
        self.bucket = bucket
        self.project_prefix = project_prefix
        # a project prefix is `{brand prefix}{project}/`: probe one level up, outside projects
        self.probe_prefix = probe_prefix or project_prefix.rstrip("/").rpartition("/")[0] + "/"
        self.stamp = stamp or stamp_now()
        self._versioning = versioning  # None: read when first needed
        self._conditions = conditions
        self._lock = threading.Lock()

    def versioning(self) -> VersioningState:
        with self._lock:
            if self._versioning is None:
                self._versioning = read_versioning(self.s3, self.bucket)
            return self._versioning

    def conditions(self) -> Conditions:
        with self._lock:
            if self._conditions is None:
                self._conditions = conditions_for(self.s3, self.bucket, self.probe_prefix)
            return self._conditions

    def delete(self, rel: str, etag: str) -> str:
        """Delete the project's `rel` only while it is the version `etag` (see delete_version)."""
        key = f"{self.project_prefix}{rel}"
        return delete_version(self.s3, self.bucket, key, etag, self.conditions())

    def keep(self, rel: str, etag: str, size: int) -> Kept | None:
        """Before replacing or deleting the version `etag` of `rel`: None when bucket
        versioning keeps it, else a server-side copy under .vam/backups/. Raises Changed when
        the object is no longer that version (then nothing may be replaced or deleted)."""
        if self.versioning().keeps_old_versions:
            return None
        key = f"{self.project_prefix}{rel}"
        backup = _free_key(self.s3, self.bucket, self.project_prefix, self.stamp, rel)
        verify = not self.conditions().copies
        return copy_version(self.s3, self.bucket, key, etag, size, backup, verify_by_head=verify)

    def kept_note(self, kept: Kept | None, verb: str) -> str:
        """What happened to the version that was `verb` (replaced / deleted), truthfully."""
        if kept is None:
            return f"bucket versioning keeps it (the {verb} version is in the S3 version listing)"
        state = self.versioning()
        why = f"; {state.describe()}" if state.why else ""
        return f"kept the {verb} S3 version as {kept.url}{why}"
