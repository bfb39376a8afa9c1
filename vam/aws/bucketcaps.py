"""What a bucket does for the safety of people's work: does it keep old versions, and does it
honour conditional requests?

Versioning. vam cannot assume a bucket is the one `vam aws.setup-bucket` made. R2, B2, MinIO's
default, or a bucket made by hand keep no previous versions, and an editor's least-privilege key may
not even be allowed to ask (GetBucketVersioning is not in vam's policy). So a run that is about to
replace or delete an S3 object asks once, and anything but a clear "Enabled" counts as "nothing
keeps the old version": suspended versioning replaces the current version in place, and unknown is
treated like off.

Conditional requests. Some S3-compatible servers accept If-Match / If-None-Match and ignore them
(moto itself ignores the copy-source conditions). What this server does is probed with a
throwaway key directly under the brand's staging prefix (no project folder, so sync never sees it):
a PUT with a stale If-Match and a PUT with If-None-Match: * over the key must fail, and so must a
copy with a stale copy-source If-Match and a DELETE with a stale If-Match, and the complete step
of a one-part multipart upload with either condition (where it is refused, a large file's upload
needs no HEAD right before completing: the server itself refuses to replace what changed; moto
refuses If-None-Match there and ignores If-Match). A dozen requests: about two seconds on a
150 ms link, so the answer is kept per endpoint and bucket in vam's cache
folder for a week (`aws.check` and `doctor` ask again and refresh it). A run that needs it and
finds no fresh answer probes once itself; a probe that cannot run (access denied) leaves it
unknown, and unknown counts as "not honoured": vam then HEADs right before each write and delete.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import botocore.exceptions as bce

from vam.aws.botocache import cache_root

MAX_AGE = timedelta(days=7)  # how long a probe's answer is trusted
_STALE_ETAG = '"00000000000000000000000000000000"'  # the MD5 of no body S3 will ever hold here


class Versioning(StrEnum):
    ON = "on"
    OFF = "off"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"  # not readable with these credentials, or not supported by the server


@dataclass(frozen=True)
class VersioningState:
    status: Versioning
    why: str = ""  # for UNKNOWN: what the server answered

    @property
    def keeps_old_versions(self) -> bool:
        return self.status is Versioning.ON

    def describe(self) -> str:
        if self.status is Versioning.ON:
            return "versioning is on"
        if self.status is Versioning.UNKNOWN:
            return f"could not read this bucket's versioning ({self.why})"
        return f"versioning is {self.status.value} on this bucket"


def read_versioning(s3, bucket: str) -> VersioningState:
    """GetBucketVersioning, once; a refusal or an unsupported call is UNKNOWN, never an error."""
    try:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    except bce.ClientError as exc:
        err = exc.response.get("Error", {})
        return VersioningState(Versioning.UNKNOWN, str(err.get("Code") or exc))
    if status == "Enabled":
        return VersioningState(Versioning.ON)
    if status == "Suspended":
        return VersioningState(Versioning.SUSPENDED)
    return VersioningState(Versioning.OFF)


@dataclass(frozen=True)
class Conditions:
    """Which conditional requests this bucket honours: True, False (accepted and ignored) or None
    (unknown: the probe could not tell)."""

    put_if_match: bool | None = None
    put_if_none_match: bool | None = None
    copy_if_match: bool | None = None
    delete_if_match: bool | None = None
    complete_if_match: bool | None = None  # on CompleteMultipartUpload
    complete_if_none_match: bool | None = None
    checked_at: str = ""  # ISO 8601 UTC
    why: str = ""  # when the probe could not run

    @property
    def writes(self) -> bool:
        """A PUT with If-Match / If-None-Match is refused when the condition fails."""
        return self.put_if_match is True and self.put_if_none_match is True

    def completes(self, *, if_match: bool) -> bool:
        """A multipart upload's complete step with this condition (If-Match when `if_match`, else
        If-None-Match: *) is refused when the condition fails."""
        honoured = self.complete_if_match if if_match else self.complete_if_none_match
        return honoured is True

    @property
    def copies(self) -> bool:
        return self.copy_if_match is True

    @property
    def deletes(self) -> bool:
        return self.delete_if_match is True

    def complete_ignored(self) -> list[str]:
        """The conditions a multipart upload's complete step is not known to honour."""
        names = {"If-Match": self.complete_if_match, "If-None-Match": self.complete_if_none_match}
        return [name for name, honoured in names.items() if honoured is not True]

    def ignored(self) -> list[str]:
        """The requests whose condition this bucket is not known to honour, in words."""
        names = {
            "If-Match on PUT": self.put_if_match,
            "If-None-Match on PUT": self.put_if_none_match,
            "If-Match on DELETE": self.delete_if_match,
            "copy-source If-Match": self.copy_if_match,
        }
        ignored = [name for name, honoured in names.items() if honoured is not True]
        return ignored + [f"{name} on a multipart complete" for name in self.complete_ignored()]

    def fresh(self, now: datetime | None = None) -> bool:
        try:
            when = datetime.fromisoformat(self.checked_at)
        except ValueError:
            return False
        return (now or datetime.now(UTC)) - when < MAX_AGE


def _code(exc: bce.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _refused(call) -> bool | None:
    """Run a request whose condition must fail: True when the server refused it (412, or 409
    for a concurrent conditional write), False when it went through, None for any other error."""
    try:
        call()
    except bce.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = _code(exc)
        if status in (412, 409) or code in ("PreconditionFailed", "ConditionalRequestConflict"):
            return True
        return None
    return False


def _refused_complete(s3, bucket: str, key: str, **condition: str) -> bool | None:
    """Complete a one-part multipart upload over `key` (which exists) with a condition that must
    fail; the upload is aborted whatever happens (a refused complete leaves it open). None when
    the upload cannot even be made (a key without multipart rights): the PUT answers still count."""
    try:
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    except bce.ClientError:
        return None
    try:
        try:
            part = s3.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=1,
                Body=b"vam complete probe\n",
            )
        except bce.ClientError:
            return None
        parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
        return _refused(
            lambda: s3.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload=parts, **condition
            )
        )
    finally:
        # only this probe's own upload, by the id it was just given: no one's object or parts
        with contextlib.suppress(bce.ClientError, bce.BotoCoreError):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def probe_conditions(s3, bucket: str, prefix: str) -> Conditions:
    """Ask the server, with two throwaway keys under `prefix` (a brand's staging prefix), which
    conditional requests it honours. Raises what the first plain PUT raises (no access, no
    bucket): then nothing can be learnt. Leaves nothing behind."""
    name = f"{prefix}.vam-check-{socket.gethostname()[:20]}-{secrets.token_hex(4)}"
    key, copy = f"{name}-cond", f"{name}-copy"
    s3.put_object(Bucket=bucket, Key=key, Body=b"vam conditional-write probe\n")
    try:
        put_if_match = _refused(
            lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"stale", IfMatch=_STALE_ETAG)
        )
        put_if_none_match = _refused(
            lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"again", IfNoneMatch="*")
        )
        copy_if_match = _refused(
            lambda: s3.copy_object(
                Bucket=bucket,
                Key=copy,
                CopySource={"Bucket": bucket, "Key": key},
                CopySourceIfMatch=_STALE_ETAG,
            )
        )
        complete_if_none_match = _refused_complete(s3, bucket, key, IfNoneMatch="*")
        complete_if_match = _refused_complete(s3, bucket, key, IfMatch=_STALE_ETAG)
        delete_if_match = _refused(
            lambda: s3.delete_object(Bucket=bucket, Key=key, IfMatch=_STALE_ETAG)
        )
    finally:
        for leftover in (key, copy):
            with contextlib.suppress(bce.ClientError, bce.BotoCoreError):
                s3.delete_object(Bucket=bucket, Key=leftover)
    return Conditions(
        put_if_match=put_if_match,
        put_if_none_match=put_if_none_match,
        copy_if_match=copy_if_match,
        delete_if_match=delete_if_match,
        complete_if_match=complete_if_match,
        complete_if_none_match=complete_if_none_match,
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


# --------------------------------------------------------------------------- the cache


def _cache_file() -> Path | None:
    root = cache_root()
    return root / "buckets.json" if root else None


def _cache_key(s3, bucket: str) -> str:
    return f"{s3.meta.endpoint_url}|{bucket}"


def _read_cache() -> dict:
    path = _cache_file()
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remembered(s3, bucket: str) -> Conditions | None:
    """The last probe's answer for this endpoint and bucket, whatever its age."""
    entry = _read_cache().get(_cache_key(s3, bucket))
    # written by another version of vam (a field more or less): probe again
    if not isinstance(entry, dict) or set(entry) != {f.name for f in fields(Conditions)}:
        return None
    return Conditions(**entry)


def remember(s3, bucket: str, conditions: Conditions) -> None:
    """Keep a probe's answer (a cache that cannot be written only costs a probe next time)."""
    path = _cache_file()
    if path is None or not conditions.checked_at:
        return
    data = _read_cache()
    data[_cache_key(s3, bucket)] = asdict(conditions)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temp, path)  # several vam commands may write it at once


def refresh(s3, bucket: str, prefix: str) -> Conditions:
    """Probe now and remember the answer (aws.check, doctor). A probe that cannot run is
    unknown, with the reason; what was known before is left in the cache."""
    try:
        found = probe_conditions(s3, bucket, prefix)
    except (bce.ClientError, bce.BotoCoreError) as exc:
        why = _code(exc) if isinstance(exc, bce.ClientError) else type(exc).__name__
        return Conditions(why=why or str(exc))
    remember(s3, bucket, found)
    return found


def conditions_for(s3, bucket: str, prefix: str) -> Conditions:
    """What a run goes by: the remembered answer while it is fresh, else a probe now."""
    known = remembered(s3, bucket)
    if known is not None and known.fresh():
        return known
    return refresh(s3, bucket, prefix)
