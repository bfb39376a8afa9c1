"""The restore record, `{archive prefix}{project}/.vam/restore.json`: who asked for a restore of
the project, which tier, when, and when it is expected to be done. S3 itself knows only, per
object, that a restore is in progress; the record is what lets `archive.status`, the manifest and
the next `archive.restore` say "requested by jan at …, expected by …" from one small GET.

Anyone with access to the brand may write it (aws.setup-policy grants exactly this key to
editors); it is read tolerantly, and a record that cannot be read or written costs only the
"expected by" line, never the restore.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

import botocore.exceptions as bce

from vam.archive.target import ArchiveTarget

FORMAT = 1


@dataclass(frozen=True)
class RestoreRecord:
    requested_at: str  # ISO 8601 UTC
    requested_by: str
    tier: str
    days: int  # how long the restored copies stay readable
    expected_by: str  # ISO 8601 UTC: requested_at + the tier's stated upper bound
    files: int
    bytes: int

    @property
    def expected(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.expected_by.replace("Z", "+00:00"))
        except ValueError:
            return None


def read_record(s3, target: ArchiveTarget) -> RestoreRecord | None:
    """The project's restore record, or None when there is none or it cannot be read."""
    try:
        resp = s3.get_object(Bucket=target.bucket, Key=target.restore_key)
        data = json.loads(resp["Body"].read())
        return RestoreRecord(**{k: data[k] for k in RestoreRecord.__dataclass_fields__})
    except (bce.ClientError, bce.BotoCoreError, ValueError, TypeError, KeyError, AttributeError):
        return None


def write_record(s3, target: ArchiveTarget, record: RestoreRecord) -> str | None:
    """Store the record; None when stored, else why not (one line for a note)."""
    body = json.dumps({"format": FORMAT, **asdict(record)}, indent=1).encode()
    try:
        s3.put_object(
            Bucket=target.bucket,
            Key=target.restore_key,
            Body=body,
            ContentType="application/json",
        )
    except (bce.ClientError, bce.BotoCoreError) as exc:
        return f"the restore was requested, but its record could not be stored ({exc})"
    return None
