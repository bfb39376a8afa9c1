"""Presigned download links for a project's staged files (SPEC §4 s3.share)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vam.core.errors import UsageError

MIN_EXPIRY = 3600
MAX_EXPIRY = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer than 7 days


def parse_expiry(text: str | int) -> int:
    """'1h', '36h', '3d', '7d', '90m' or seconds -> seconds, within 1 hour … 7 days."""
    if isinstance(text, int):
        seconds = text
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", str(text).lower())
        if not m:
            raise UsageError(f"cannot read expiry {text!r}; write e.g. 1h, 24h, 3d or 7d")
        unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
        seconds = int(m.group(1)) * unit
    if not MIN_EXPIRY <= seconds <= MAX_EXPIRY:
        raise UsageError(
            f"expiry {text!r} is outside 1h … 7d (S3 presigned links last at most 7 days); "
            "pick e.g. --expires 3d"
        )
    return seconds


@dataclass(frozen=True)
class Link:
    rel: str
    key: str
    size: int
    url: str
    expires_at: datetime


def presign(s3, bucket: str, key: str, seconds: int) -> str:
    """A GET link for one object; content-disposition keeps the file's own name on download."""
    name = key.rsplit("/", 1)[-1]
    return s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentDisposition": f"attachment; filename*=UTF-8''{_quote(name)}",
        },
        ExpiresIn=seconds,
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def share_links(s3, bucket: str, objects: list[tuple[str, str, int]], seconds: int) -> list[Link]:
    """Links for (rel, key, size) triples; signing is local, no request per file."""
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
    return [
        Link(rel, key, size, presign(s3, bucket, key, seconds), expires_at)
        for rel, key, size in objects
    ]
