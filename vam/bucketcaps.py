"""What a bucket does for the safety of people's work: does it keep old versions?

vam cannot assume a bucket is the one `vam aws.setup-bucket` made. R2, B2, MinIO's default, or a
bucket made by hand keep no previous versions, and an editor's least-privilege key may not even be
allowed to ask (GetBucketVersioning is not in vam's policy). So a run that is about to replace or
delete an S3 object asks once, and anything but a clear "Enabled" counts as "nothing keeps the old
version": suspended versioning replaces the current version in place, and unknown is treated
like off.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import botocore.exceptions as bce


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
