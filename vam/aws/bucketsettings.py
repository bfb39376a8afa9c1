"""The settings vam gives the staging bucket, as values: private (every public access block on),
SSE-S3 encryption, versioning, vam's four lifecycle rules (staging expiry, old versions of staging
objects, old versions of archive objects, unfinished uploads) and its tags, all from brands.toml's
[storage]; and each setting described the way `aws.setup-bucket` and `aws.check` print it.

The off-site archive (`archive/`) is never expired: no rule of vam's deletes its current objects,
and its old versions are kept at least as long as its storage class's minimum storage duration
(deleting sooner is billed as if they had been kept, and would take the undo away early).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from vam.core.errors import ConfigError
from vam.core.team import Storage, fixed_root

TAGS: Mapping[str, str] = {"project": "video-projects", "managed-by": "vam"}
PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)
# vam's lifecycle rules are recognised by their ID; rules with other IDs are someone else's, kept.
RULE_STAGING = "vam-expire-staging"
RULE_NONCURRENT = "vam-expire-noncurrent-versions"
RULE_MULTIPART = "vam-abort-incomplete-uploads"
RULE_ARCHIVE_VERSIONS = "vam-keep-archive-versions"
VAM_RULES = (RULE_STAGING, RULE_NONCURRENT, RULE_ARCHIVE_VERSIONS, RULE_MULTIPART)
# The minimum storage duration of each archive class (S3 User Guide, "Storage classes"; the
# archive's costs are in vam/archive/classes.py): old versions of archive objects live this long.
ARCHIVE_MINIMUM_DAYS = {"DEEP_ARCHIVE": 180, "GLACIER": 90, "GLACIER_IR": 90, "STANDARD_IA": 30}


def staging_root(storage: Storage) -> str:
    """The fixed folder every brand's staging prefix lives in: `staging/v-{brand}/` -> `staging/`.

    The lifecycle rule that expires staging objects is filtered by this prefix, so it must never be
    empty (an empty filter would expire the whole bucket)."""
    head = storage.staging_prefix.split("{brand}", 1)[0]
    root = head[: head.rfind("/") + 1]
    if not root:
        raise ConfigError(
            f"storage.staging_prefix {storage.staging_prefix!r} has no fixed folder before "
            "{brand}; vam's staging expiry needs one, e.g. 'staging/v-{brand}/'"
        )
    return root


def archive_root(storage: Storage) -> str:
    """The fixed folder every brand's archive lives in: `archive/v-{brand}/` -> `archive/`
    (brands.toml's parser refuses an archive prefix without one, or inside staging)."""
    return fixed_root(storage.archive_prefix)


def archive_version_days(storage: Storage) -> int:
    """How long old versions of archive objects are kept: the class's minimum storage duration,
    or noncurrent_days when that is longer."""
    return max(storage.noncurrent_days, ARCHIVE_MINIMUM_DAYS.get(storage.archive_class, 180))


@dataclass(frozen=True)
class Rule:
    """One lifecycle rule, reduced to the parts vam sets (anything else makes it differ)."""

    id: str
    prefix: str
    expire_days: int | None = None
    expired_delete_markers: bool = False
    noncurrent_days: int | None = None
    abort_days: int | None = None
    enabled: bool = True
    other: str = ""  # json of any feature vam does not set (transitions, tag filters, ...)
    raw: str = field(default="", compare=False)  # the rule as read, to put other tools' rules back

    def covers(self, key_prefix: str) -> bool:
        """Whether the rule may act on objects under `key_prefix` (a rule with a filter vam does
        not read, such as tags or sizes, is taken to cover it: the cautious answer)."""
        return key_prefix.startswith(self.prefix) or self.prefix.startswith(key_prefix)

    def deletes_current(self) -> bool:
        """Whether the rule deletes (or moves) current objects, not only old versions."""
        other = json.loads(self.other) if self.other else {}
        moves = bool(other.get("Transitions") or other.get("Transition") or other.get("Expiration"))
        return self.enabled and (self.expire_days is not None or moves)

    def describe(self) -> str:
        where = f"objects under {self.prefix}" if self.prefix else "every object"
        parts = []
        if self.expire_days is not None:
            parts.append(f"{where} expire after {self.expire_days} days")
        if self.noncurrent_days is not None:
            whose = f"old versions under {self.prefix}" if self.prefix else "old versions"
            parts.append(f"{whose} deleted {self.noncurrent_days} days after being replaced")
        if self.expired_delete_markers:
            parts.append("leftover delete markers removed")
        if self.abort_days is not None:
            parts.append(f"unfinished uploads aborted after {self.abort_days} days")
        if self.other:
            parts.append(f"also {self.other}")
        text = "; ".join(parts) or "does nothing"
        return text if self.enabled else f"DISABLED ({text})"

    def to_aws(self) -> dict:
        rule: dict = {
            "ID": self.id,
            "Status": "Enabled" if self.enabled else "Disabled",
            "Filter": {"Prefix": self.prefix},
        }
        if self.expire_days is not None:
            rule["Expiration"] = {"Days": self.expire_days}
        elif self.expired_delete_markers:
            rule["Expiration"] = {"ExpiredObjectDeleteMarker": True}
        if self.noncurrent_days is not None:
            rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": self.noncurrent_days}
        if self.abort_days is not None:
            rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": self.abort_days}
        return rule


def rule_from_aws(raw: Mapping) -> Rule:
    known = {
        "ID",
        "Status",
        "Filter",
        "Prefix",
        "Expiration",
        "NoncurrentVersionExpiration",
        "AbortIncompleteMultipartUpload",
    }
    filt = raw.get("Filter") or {}
    prefix = filt.get("Prefix", raw.get("Prefix", "")) or ""
    other = {k: v for k, v in raw.items() if k not in known}
    if set(filt) - {"Prefix"}:
        other["Filter"] = filt
    exp = raw.get("Expiration") or {}
    nce = raw.get("NoncurrentVersionExpiration") or {}
    if set(exp) - {"Days", "ExpiredObjectDeleteMarker"}:
        other["Expiration"] = exp
    if set(nce) - {"NoncurrentDays"}:
        other["NoncurrentVersionExpiration"] = nce
    abort = raw.get("AbortIncompleteMultipartUpload") or {}
    return Rule(
        id=str(raw.get("ID", "")),
        prefix=prefix,
        expire_days=exp.get("Days"),
        expired_delete_markers=bool(exp.get("ExpiredObjectDeleteMarker", False)),
        noncurrent_days=nce.get("NoncurrentDays"),
        abort_days=abort.get("DaysAfterInitiation"),
        enabled=raw.get("Status", "Enabled") == "Enabled",
        other=json.dumps(other, sort_keys=True, default=str) if other else "",
        raw=json.dumps(dict(raw), default=str),
    )


@dataclass(frozen=True)
class BucketSettings:
    """What a bucket has (or should have). None = not configured."""

    region: str
    public_access: tuple[str, ...] | None  # the PUBLIC_ACCESS_FLAGS that are on
    encryption: str | None  # "AES256" (SSE-S3), "aws:kms", ...
    versioning: str  # "Enabled", "Suspended", "" (never enabled)
    rules: tuple[Rule, ...]
    tags: tuple[tuple[str, str], ...]
    # S3 Transfer Acceleration: "Enabled", "Suspended", "" (never set); None = not vam's concern
    # (brands.toml does not ask for it) or not readable on this server
    accelerate: str | None = None

    @classmethod
    def unset(cls, region: str) -> BucketSettings:
        """A new bucket's: nothing configured."""
        return cls(
            region,
            public_access=None,
            encryption=None,
            versioning="",
            rules=(),
            tags=(),
            accelerate="",
        )


def desired_settings(storage: Storage) -> BucketSettings:
    return BucketSettings(
        region=storage.region,
        public_access=PUBLIC_ACCESS_FLAGS,
        encryption="AES256",
        versioning="Enabled",
        rules=(
            Rule(RULE_STAGING, staging_root(storage), expire_days=storage.staging_days),
            Rule(
                RULE_NONCURRENT,
                staging_root(storage),
                noncurrent_days=storage.noncurrent_days,
                expired_delete_markers=True,
            ),
            Rule(
                RULE_ARCHIVE_VERSIONS,
                archive_root(storage),
                noncurrent_days=archive_version_days(storage),
                expired_delete_markers=True,
            ),
            Rule(RULE_MULTIPART, "", abort_days=storage.abort_multipart_days),
        ),
        tags=tuple(sorted(TAGS.items())),
        accelerate="Enabled" if storage.accelerate else None,
    )


def archive_threats(rules: tuple[Rule, ...], storage: Storage) -> tuple[Rule, ...]:
    """The lifecycle rules (vam's or another tool's) that would delete or move current objects of
    the off-site archive; none, as vam sets the bucket up."""
    root = archive_root(storage)
    return tuple(r for r in rules if r.covers(root) and r.deletes_current())


# --------------------------------------------------------------------------- describing settings


def describe_public_access(flags: tuple[str, ...] | None) -> str:
    if flags is None:
        return "not blocked (no public access block)"
    if set(flags) == set(PUBLIC_ACCESS_FLAGS):
        return "all public access blocked"
    off = [f for f in PUBLIC_ACCESS_FLAGS if f not in flags]
    return f"partly blocked ({', '.join(off)} off)"


def describe_encryption(algorithm: str | None) -> str:
    return {None: "no default encryption", "AES256": "SSE-S3 (AES256)"}.get(
        algorithm,
        f"{algorithm}"
        + (" (needs KMS permissions for every user)" if algorithm and "kms" in algorithm else ""),
    )


def describe_versioning(status: str) -> str:
    return {"Enabled": "on", "Suspended": "suspended"}.get(status, "off")


def describe_tags(tags: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{k}={v}" for k, v in tags) or "none"


def describe_accelerate(status: str | None) -> str:
    return {"Enabled": "on", "Suspended": "suspended", None: "unknown"}.get(status, "off")
