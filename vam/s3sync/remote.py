"""Reading the S3 staging area: one paginated listing per prefix, grouped by project.

Only listing here (no HEADs): callers that need an object's metadata ask for it separately.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from vam.s3sync.keys import unsafe_reason


@dataclass(frozen=True)
class RemoteObject:
    key: str
    project: str  # first path part after the brand prefix
    rel: str  # the rest: path inside the project's s3-staging folder (POSIX, unchecked)
    size: int
    etag: str  # without quotes; '…-N' for multipart uploads
    last_modified: datetime


def iter_objects(s3, bucket: str, prefix: str) -> Iterator[dict]:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def _remote_object(item: dict, project: str, rel: str) -> RemoteObject:
    return RemoteObject(
        key=item["Key"],
        project=project,
        rel=rel,
        size=int(item["Size"]),
        etag=str(item.get("ETag", "")).strip('"'),
        last_modified=item["LastModified"],
    )


def list_staging(s3, bucket: str, prefix: str) -> dict[str, list[RemoteObject]]:
    """Every object under a brand (or project) prefix, grouped by project id, keys sorted."""
    if not prefix.endswith("/"):
        prefix += "/"
    grouped: dict[str, list[RemoteObject]] = {}
    for item in iter_objects(s3, bucket, prefix):
        rest = item["Key"][len(prefix) :]
        project, sep, rel = rest.partition("/")
        if not sep or not project:
            continue  # an object directly under the brand prefix belongs to no project
        grouped.setdefault(project, []).append(_remote_object(item, project, rel))
    return grouped


def list_project(s3, bucket: str, prefix: str) -> list[RemoteObject]:
    """One project's objects (`prefix` is the project's, ending in '/'), one paginated listing."""
    project = prefix.rstrip("/").rsplit("/", 1)[-1]
    return [
        _remote_object(item, project, item["Key"][len(prefix) :])
        for item in iter_objects(s3, bucket, prefix)
    ]


def remote_project_ids(s3, bucket: str, brand_prefix: str) -> list[str]:
    """Project folders that exist in S3 under a brand prefix (one delimited listing)."""
    ids = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=brand_prefix, Delimiter="/"):
        for cp in page.get("CommonPrefixes", []):
            name = cp["Prefix"][len(brand_prefix) :].rstrip("/")
            if name and not unsafe_reason(name):
                ids.append(name)
    return ids
