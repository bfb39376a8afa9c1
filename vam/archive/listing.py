"""Reading the off-site archive: one paginated listing per brand (or project) prefix, grouped by
project, each object with its storage class and, where S3 says it in the listing, its restore
state; and what one HEAD says about an object's restore (`x-amz-restore`).

S3 reports a restore in a listing only when asked (`OptionalObjectAttributes=RestoreStatus`) and
only for objects restored or being restored; servers that do not know the attribute (moto,
several S3-compatible ones) leave it out, so "not in the listing" means "not known", never "not
restored". The HEAD is the authority.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import botocore.exceptions as bce

from vam.archive.classes import storage_class
from vam.archive.target import is_state
from vam.s3sync.remote import iter_objects

# restore states of one object
ARCHIVED = "archived"  # in an archival class, no restored copy, none asked for (as far as S3 says)
RESTORING = "restoring"  # a restore was requested and is not done yet
RESTORED = "restored"  # a temporary copy can be read until `until`
READABLE = "readable"  # a class that needs no restore (Glacier IR, Standard-IA, Standard)


@dataclass(frozen=True)
class RestoreState:
    state: str
    until: datetime | None = None  # when a restored copy goes again

    @property
    def readable(self) -> bool:
        return self.state in (RESTORED, READABLE)


@dataclass(frozen=True)
class ArchivedObject:
    key: str
    project: str
    rel: str  # path inside the project (POSIX, unchecked)
    size: int
    etag: str
    last_modified: datetime
    storage_class: str  # "STANDARD" when the listing leaves it out
    restore: RestoreState | None = None  # from the listing, when S3 said; None: not known

    @property
    def is_state(self) -> bool:
        return is_state(self.rel)


_ONGOING = re.compile(r'ongoing-request\s*=\s*"(true|false)"', re.IGNORECASE)
_EXPIRY = re.compile(r'expiry-date\s*=\s*"([^"]+)"', re.IGNORECASE)


def restore_from_head(header: str | None, klass: str | None) -> RestoreState:
    """The state an `x-amz-restore` header (HeadObject's `Restore`) says, for an object of
    `klass`: none and an archival class -> ARCHIVED."""
    if not storage_class(klass).needs_restore:
        return RestoreState(READABLE)
    if not header:
        return RestoreState(ARCHIVED)
    ongoing = _ONGOING.search(header)
    if ongoing and ongoing.group(1).lower() == "true":
        return RestoreState(RESTORING)
    until = None
    expiry = _EXPIRY.search(header)
    if expiry:
        try:
            until = parsedate_to_datetime(expiry.group(1)).astimezone(UTC)
        except (TypeError, ValueError):
            until = None
    return RestoreState(RESTORED, until)


def _from_listing(item: dict) -> RestoreState | None:
    klass = item.get("StorageClass")
    if not storage_class(klass).needs_restore:
        return RestoreState(READABLE)
    status = item.get("RestoreStatus")
    if not status:
        return None
    if status.get("IsRestoreInProgress"):
        return RestoreState(RESTORING)
    until = status.get("RestoreExpiryDate")
    return RestoreState(RESTORED, until.astimezone(UTC) if isinstance(until, datetime) else None)


def _items(s3, bucket: str, prefix: str):
    paginator = s3.get_paginator("list_objects_v2")
    asked = {"OptionalObjectAttributes": ["RestoreStatus"]}
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, **asked):
            yield from page.get("Contents", [])
        return
    except bce.ClientError as exc:
        # a server that refuses the optional attribute instead of ignoring it: list without
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in ("InvalidArgument", "NotImplemented", "InvalidRequest"):
            raise
    yield from iter_objects(s3, bucket, prefix)


def _object(item: dict, project: str, rel: str) -> ArchivedObject:
    return ArchivedObject(
        key=item["Key"],
        project=project,
        rel=rel,
        size=int(item["Size"]),
        etag=str(item.get("ETag", "")).strip('"'),
        last_modified=item["LastModified"],
        storage_class=str(item.get("StorageClass") or "STANDARD"),
        restore=_from_listing(item),
    )


def list_archive(s3, bucket: str, prefix: str) -> dict[str, list[ArchivedObject]]:
    """Every object under a brand's archive prefix, by project id, in key order; one paginated
    listing."""
    if not prefix.endswith("/"):
        prefix += "/"
    grouped: dict[str, list[ArchivedObject]] = {}
    for item in _items(s3, bucket, prefix):
        project, sep, rel = item["Key"][len(prefix) :].partition("/")
        if not sep or not project or not rel:
            continue  # directly under the brand prefix (aws.check's probe): no project's
        grouped.setdefault(project, []).append(_object(item, project, rel))
    return grouped


def list_project(s3, bucket: str, brand_prefix: str, project: str) -> list[ArchivedObject]:
    """One project's objects (files and vam's own), one paginated listing."""
    prefix = f"{brand_prefix}{project}/"
    return [
        _object(item, project, item["Key"][len(prefix) :]) for item in _items(s3, bucket, prefix)
    ]
