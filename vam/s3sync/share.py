"""Presigned download links for a project's staged files (SPEC §4 s3.share; handoff's links)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vam.core.errors import NotFoundError, UsageError
from vam.s3sync.remote import list_project
from vam.s3sync.remoteindex import is_vam_key
from vam.s3sync.target import Target

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

    def as_dict(self) -> dict[str, Any]:
        """For `--json`."""
        expires = self.expires_at.isoformat().replace("+00:00", "Z")
        return {"path": self.rel, "bytes": self.size, "url": self.url, "expires": expires}


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


def project_links(s3, target: Target, seconds: int, *, contains: str | None = None) -> list[Link]:
    """Links for the project's S3 files (vam's own objects aside), or only those whose path
    contains `contains` (any case). NotFoundError when there is none, naming what there is."""
    files = [o for o in list_project(s3, target.bucket, target.prefix) if not is_vam_key(o.rel)]
    objects = [o for o in files if not contains or contains.lower() in o.rel.lower()]
    if not files:
        raise NotFoundError(
            f"no S3 files in {target.brand_key} {target.project_id}; "
            f"upload them first: {target.command('up')}"
        )
    if not objects:
        names = ", ".join(o.rel for o in files[:5]) + (", …" if len(files) > 5 else "")
        raise NotFoundError(
            f"no S3 file of {target.brand_key} {target.project_id} has {contains!r} in its "
            f"name; its files: {names}"
        )
    return share_links(s3, target.bucket, [(o.rel, o.key, o.size) for o in objects], seconds)
