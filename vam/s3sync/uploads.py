"""Unfinished multipart uploads under a brand's staging prefix: who started them, when, how much
was sent, and aborting the old ones (an interrupted upload is kept on purpose so that it can
resume; one nobody will resume only costs storage).

S3 does not return an in-progress upload's metadata, so "who" is the initiator (the IAM user),
shown as the team member whose `iam_user` it is when brands.toml says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions as bce

from vam.core.errors import UsageError
from vam.core.units import format_size


@dataclass(frozen=True)
class IncompleteUpload:
    key: str
    upload_id: str
    initiated: datetime
    who: str
    parts: int
    bytes_sent: int

    def age(self, now: datetime) -> timedelta:
        return now - self.initiated


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> timedelta:
    """'7d', '12h', '2w', '90m' -> timedelta."""
    match = _AGE.match(str(text))
    if not match:
        raise UsageError(
            f"--abort-older-than: cannot read {text!r} as an age; write e.g. 7d, 12h or 2w"
        )
    return timedelta(seconds=float(match.group(1)) * _AGE_UNITS[match.group(2).lower()])


def _who(initiator: Mapping[str, str] | None, people: Mapping[str, str]) -> str:
    if not initiator:
        return "unknown"
    ident = str(initiator.get("ID", ""))
    name = str(initiator.get("DisplayName", "")) or ident.rsplit("/", 1)[-1] or "unknown"
    iam_user = ident.rsplit(":user/", 1)[-1] if ":user/" in ident else name
    return people.get(iam_user) or people.get(name) or name


def _sent(s3: Any, bucket: str, key: str, upload_id: str) -> tuple[int, int]:
    parts = total = 0
    paginator = s3.get_paginator("list_parts")
    try:
        for page in paginator.paginate(Bucket=bucket, Key=key, UploadId=upload_id):
            for part in page.get("Parts", []):
                parts += 1
                total += int(part.get("Size", 0))
    except bce.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
            raise  # completed or aborted since the listing: report it as empty
    return parts, total


def list_incomplete(
    s3: Any, bucket: str, prefix: str, people: Mapping[str, str] | None = None
) -> list[IncompleteUpload]:
    """Every unfinished multipart upload under `prefix`, oldest first. `people` maps IAM user
    names to team names."""
    found: list[IncompleteUpload] = []
    paginator = s3.get_paginator("list_multipart_uploads")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Uploads", []):
            parts, sent = _sent(s3, bucket, item["Key"], item["UploadId"])
            initiated = item["Initiated"]
            if initiated.tzinfo is None:
                initiated = initiated.replace(tzinfo=UTC)
            found.append(
                IncompleteUpload(
                    key=item["Key"],
                    upload_id=item["UploadId"],
                    initiated=initiated,
                    who=_who(item.get("Initiator"), people or {}),
                    parts=parts,
                    bytes_sent=sent,
                )
            )
    return sorted(found, key=lambda u: (u.initiated, u.key))


def older_than(
    uploads: Iterable[IncompleteUpload], age: timedelta, now: datetime
) -> list[IncompleteUpload]:
    return [u for u in uploads if u.age(now) > age]


def abort(s3: Any, bucket: str, uploads: Iterable[IncompleteUpload]) -> list[IncompleteUpload]:
    """Abort each upload; one already gone counts as aborted. Returns those aborted."""
    done = []
    for upload in uploads:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=upload.key, UploadId=upload.upload_id)
        except bce.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise
        done.append(upload)
    return done


def describe_age(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    if seconds >= 86400:
        return f"{seconds // 86400}d ago"
    if seconds >= 3600:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 60}m ago"


def describe(upload: IncompleteUpload, prefix: str, now: datetime) -> str:
    """One line: the key inside the brand, who, when, how much was sent."""
    rel = upload.key[len(prefix) :] if upload.key.startswith(prefix) else upload.key
    return (
        f"{rel}  by {upload.who}, started {upload.initiated:%Y-%m-%d %H:%M} "
        f"({describe_age(upload.age(now))}), {upload.parts} parts, "
        f"{format_size(upload.bytes_sent)} sent"
    )
