"""Unfinished multipart uploads under a brand's staging prefix: who started them, when, how much
was sent, which may go (`s3.uploads --abort-older-than`, and `s3.cleanup` for one project), and
aborting them with a re-check (an interrupted upload is kept on purpose so that it can resume; one
nobody will resume only costs storage).

S3 does not return an in-progress upload's metadata, so "who" is the initiator (the IAM user),
shown as the team member whose `iam_user` it is when brands.toml says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.exceptions as bce

from vam.core.config import Config
from vam.core.errors import AwsError, UsageError
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

    def as_dict(self) -> dict[str, Any]:
        """For `--json`."""
        return {
            "key": self.key,
            "upload_id": self.upload_id,
            "initiated": self.initiated.isoformat(),
            "who": self.who,
            "parts": self.parts,
            "bytes_sent": self.bytes_sent,
        }


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


def team_names(config: Config) -> dict[str, str]:
    """IAM user name -> team name, for saying who started an upload (brands.toml `iam_user`)."""
    return {u.iam_user: u.name for u in config.team.users if u.iam_user}


# --------------------------------------------------------------------------- s3.uploads


@dataclass(frozen=True)
class BrandUploads:
    """A brand's unfinished uploads, and the ones older than `age` (`--abort-older-than`)."""

    brand_key: str
    bucket: str
    prefix: str
    found: tuple[IncompleteUpload, ...]
    now: datetime
    age: timedelta | None = None
    age_text: str = ""  # the age as the person wrote it

    @property
    def to_abort(self) -> tuple[IncompleteUpload, ...]:
        if self.age is None:
            return ()
        return tuple(older_than(self.found, self.age, self.now))

    def as_dict(self, *, dry_run: bool = False) -> dict[str, Any]:
        """For `--json` (`aborted` is filled in once they are)."""
        return {
            "brand": self.brand_key,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "dry_run": dry_run,
            "uploads": [u.as_dict() for u in self.found],
            "to_abort": [u.as_dict() for u in self.to_abort],
            "aborted": [],
        }

    def lines(self, *, dry_run: bool = False) -> list[str]:
        """The listing; with an age, what would be aborted."""
        where = f"s3://{self.bucket}/{self.prefix}"
        if not self.found:
            return [f"no unfinished uploads under {where}"]
        out = [f"{len(self.found)} unfinished upload(s) under {where}:"]
        out += [f"  {describe(u, self.prefix, self.now)}" for u in self.found]
        if self.age is None:
            return [
                *out,
                "an interrupted `vam s3.up` resumes these by itself; to clean up old ones: "
                f"vam s3.uploads --brand {self.brand_key} --abort-older-than 7d",
            ]
        doomed = self.to_abort
        if not doomed:
            return [*out, f"none is older than {self.age_text}: nothing to abort"]
        verb = "would abort" if dry_run else "to abort"
        out.append(f"{verb} ({len(doomed)}, older than {self.age_text}):")
        out += [f"  {describe(u, self.prefix, self.now)}" for u in doomed]
        if dry_run:
            out.append("dry run: nothing aborted")
        return out


def brand_uploads(
    s3: Any,
    config: Config,
    brand_key: str,
    *,
    age: timedelta | None = None,
    age_text: str = "",
    now: datetime | None = None,
) -> BrandUploads:
    """Every unfinished upload under the brand's staging prefix (one listing, and one parts
    listing per upload)."""
    when = now or datetime.now(UTC)
    bucket, prefix = config.storage.bucket, config.storage.prefix_for(brand_key)
    found = list_incomplete(s3, bucket, prefix, team_names(config))
    return BrandUploads(brand_key, bucket, prefix, tuple(found), when, age, age_text)


def abort_checked(s3: Any, config: Config, uploads: BrandUploads) -> list[IncompleteUpload]:
    """Abort what `uploads` has to abort, then list again: AwsError when S3 still lists one."""
    aborted = abort(s3, uploads.bucket, uploads.to_abort)
    listed = list_incomplete(s3, uploads.bucket, uploads.prefix, team_names(config))
    left = {u.upload_id for u in listed}
    still = [u for u in aborted if u.upload_id in left]
    if still:
        raise AwsError(
            f"{len(still)} upload(s) are still listed after aborting; run the same command again"
        )
    return aborted


# --------------------------------------------------------------------------- s3.cleanup

# An unfinished upload started this long ago on this computer may be resumed no more: cleanup
# aborts it. Anything younger, or started elsewhere, may be running right now.
STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class UploadDecision:
    """One unfinished multipart upload under a project, and what cleanup does with it."""

    pending: IncompleteUpload
    abort: bool
    why: str
    record: Path | None = None  # this computer's record of it (vam's own upload)

    def line(self, prefix: str, now: datetime) -> str:
        text = describe(self.pending, prefix, now)
        if self.abort:
            return f"  abort  unfinished upload {text} ({self.why})"
        return f"  keep   unfinished upload {text} ({self.why}; --force aborts it)"


def recorded_uploads(state_dir: Path) -> dict[str, tuple[float, Path]]:
    """upload id -> (when it started, the record) of the multipart uploads vam started from
    this computer for this project (vam.s3sync.transfer keeps one record per upload it may
    resume)."""
    found: dict[str, tuple[float, Path]] = {}
    folder = state_dir / "uploads"
    if not folder.is_dir():
        return found
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            found[str(data["upload_id"])] = (float(data.get("started") or 0), path)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable: its upload counts as someone else's, so it is kept
    return found


def judge_upload(
    pending: IncompleteUpload,
    recorded: tuple[float, Path] | None,
    now: datetime,
    *,
    force: bool,
) -> UploadDecision:
    """Abort only what nobody can be running: with --force everything; otherwise only an upload
    this computer started (its record is here) more than STALE_AFTER ago.

    "Someone else" is every upload this computer has no record of. S3's Initiator does not tell:
    on moto and other S3-compatible servers it is one fixed or meaningless identity, and on AWS
    a team that shares one IAM user would see Jan's upload as David's. The start is the later of
    S3's Initiated and the record's (moto reports every upload as started in 2010)."""
    record = recorded[1] if recorded else None
    if recorded is not None:
        started = max(pending.initiated, datetime.fromtimestamp(recorded[0], UTC))
        pending = replace(pending, initiated=started, who="you (this computer)")
    if force:
        return UploadDecision(pending, abort=True, why="--force", record=record)
    if recorded is None:
        why = "not started from this computer: it may be running now"
        return UploadDecision(pending, abort=False, why=why)
    if now - pending.initiated > STALE_AFTER:
        why = "yours, interrupted over 24 hours ago"
        return UploadDecision(pending, abort=True, why=why, record=record)
    why = "yours, started within the last 24 hours: it may still be running or about to resume"
    return UploadDecision(pending, abort=False, why=why, record=record)
