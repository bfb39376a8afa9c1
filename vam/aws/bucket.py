"""The staging bucket: the settings it should have (from brands.toml), the settings it has, and
the plan of named changes between the two. `plan_bucket` only reads; `apply_bucket` changes, then
reads everything back and fails loudly if the bucket is still not as intended.

The same functions serve real AWS, any S3-compatible endpoint and the local demo server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import botocore.exceptions as bce

from vam.core.errors import AwsError, ConfigError
from vam.core.team import Storage

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
VAM_RULES = (RULE_STAGING, RULE_NONCURRENT, RULE_MULTIPART)

# "absent" answers of the GET calls: the setting was never configured on this bucket
_ABSENT = {
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchLifecycleConfiguration",
    "NoSuchTagSet",
}


# botocore operation -> the IAM action it needs, so "access denied" names what to grant
S3_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "CreateBucket": "s3:CreateBucket",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketTagging": "s3:PutBucketTagging",
}


def owner_only(exc: BaseException, bucket: str) -> AwsError | None:
    """AccessDenied while reading or changing bucket settings: one line naming the action; the
    fix is the owner's (or an administrator's) profile, not a wider editor policy."""
    if not isinstance(exc, bce.ClientError) or _status(exc) != 403:
        return None
    if _code(exc) not in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled"):
        return None
    action = S3_ACTIONS.get(exc.operation_name, exc.operation_name)
    return AwsError(
        f"access denied: these credentials may not {action} on bucket {bucket}; setting up the "
        "bucket needs the owner's or an administrator's profile (--aws-profile NAME)"
    )


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

    def describe(self) -> str:
        where = f"objects under {self.prefix}" if self.prefix else "every object"
        parts = []
        if self.expire_days is not None:
            parts.append(f"{where} expire after {self.expire_days} days")
        if self.noncurrent_days is not None:
            parts.append(f"old versions deleted {self.noncurrent_days} days after being replaced")
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
                "",
                noncurrent_days=storage.noncurrent_days,
                expired_delete_markers=True,
            ),
            Rule(RULE_MULTIPART, "", abort_days=storage.abort_multipart_days),
        ),
        tags=tuple(sorted(TAGS.items())),
    )


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


@dataclass(frozen=True)
class Change:
    """One named difference and what will be done about it."""

    setting: str
    current: str
    wanted: str

    def line(self) -> str:
        return f"{self.setting}: {self.current} -> {self.wanted}"


@dataclass(frozen=True)
class BucketPlan:
    bucket: str
    region: str
    exists: bool
    current: tuple[tuple[str, str], ...]  # (setting, description) of what exists now
    changes: tuple[Change, ...]
    desired: BucketSettings
    keep_rules: tuple[Rule, ...] = ()  # other tools' lifecycle rules, kept as they are
    keep_tags: tuple[tuple[str, str], ...] = ()  # other tags, kept as they are

    @property
    def nothing_to_change(self) -> bool:
        return not self.changes

    @property
    def needs_confirmation(self) -> bool:
        """An existing bucket is only converged when someone said yes: it may be set up like that
        on purpose."""
        return self.exists and bool(self.changes)


# --------------------------------------------------------------------------- reading


def _code(exc: bce.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: bce.ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def bucket_region(s3, bucket: str) -> str | None:
    """The bucket's region, or None when it does not exist. A bucket we may not see is someone
    else's: that is one clear line, not a traceback."""
    try:
        head = s3.head_bucket(Bucket=bucket)
    except bce.ClientError as exc:
        if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return None
        if _status(exc) == 403:
            try:  # every vam policy grants GetBucketLocation: then it is ours, just not readable
                location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
                return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(
                    location, location
                )
            except bce.ClientError:
                pass
            raise AwsError(
                f"bucket {bucket} exists but these credentials may not use it (it belongs to "
                "another AWS account, or you lack s3:ListBucket); choose another storage.bucket "
                "in brands.toml or use the owner's profile (--aws-profile NAME)"
            ) from None
        if _status(exc) == 301:
            region = (
                exc.response.get("ResponseMetadata", {})
                .get("HTTPHeaders", {})
                .get("x-amz-bucket-region")
            )
            if region:
                return region
        raise
    region = head.get("BucketRegion")
    if not region:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        region = location or "us-east-1"
    return "eu-west-1" if region == "EU" else region


def _get(call, bucket: str, default=None):
    try:
        return call(Bucket=bucket)
    except bce.ClientError as exc:
        if _code(exc) in _ABSENT:
            return default
        raise


def read_settings(s3, bucket: str, region: str) -> BucketSettings:
    """What the bucket has now (several GET calls; raises ClientError on AccessDenied)."""
    pab = _get(s3.get_public_access_block, bucket)
    flags = None
    if pab is not None:
        conf = pab.get("PublicAccessBlockConfiguration", {})
        flags = tuple(f for f in PUBLIC_ACCESS_FLAGS if conf.get(f))
    enc = _get(s3.get_bucket_encryption, bucket)
    algorithm = None
    if enc is not None:
        rules = enc.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        if rules:
            algorithm = rules[0].get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status", "")
    life = _get(s3.get_bucket_lifecycle_configuration, bucket, {})
    rules = tuple(rule_from_aws(r) for r in life.get("Rules", []))
    tagging = _get(s3.get_bucket_tagging, bucket, {})
    tags = tuple(sorted((t["Key"], t["Value"]) for t in tagging.get("TagSet", [])))
    return BucketSettings(region, flags, algorithm, versioning, rules, tags)


# --------------------------------------------------------------------------- planning


def _current_lines(have: BucketSettings) -> tuple[tuple[str, str], ...]:
    lines = [
        ("region", have.region),
        ("public access", describe_public_access(have.public_access)),
        ("encryption", describe_encryption(have.encryption)),
        ("versioning", describe_versioning(have.versioning)),
    ]
    for rule in have.rules:
        lines.append((f"lifecycle {rule.id}", rule.describe()))
    if not have.rules:
        lines.append(("lifecycle", "no rules"))
    lines.append(("tags", describe_tags(have.tags)))
    return tuple(lines)


def compare(have: BucketSettings | None, want: BucketSettings) -> tuple[Change, ...]:
    """The named changes that turn `have` (None: no bucket) into `want`; empty when equal."""
    changes: list[Change] = []
    if have is None:
        where = want.region + (" (no location constraint)" if want.region == "us-east-1" else "")
        changes.append(Change("bucket", "does not exist", f"create in {where}"))
        have = BucketSettings(want.region, None, None, "", (), ())
    if set(have.public_access or ()) != set(want.public_access or ()):
        changes.append(
            Change(
                "public access",
                describe_public_access(have.public_access),
                describe_public_access(want.public_access),
            )
        )
    if have.encryption != want.encryption:
        changes.append(
            Change(
                "encryption",
                describe_encryption(have.encryption),
                describe_encryption(want.encryption),
            )
        )
    if have.versioning != want.versioning:
        changes.append(
            Change(
                "versioning",
                describe_versioning(have.versioning),
                describe_versioning(want.versioning),
            )
        )
    current = {r.id: r for r in have.rules}
    for rule in want.rules:
        old = current.get(rule.id)
        if old != rule:
            changes.append(
                Change(
                    f"lifecycle {rule.id}", old.describe() if old else "missing", rule.describe()
                )
            )
    stray = [r for r in have.rules if r.id.startswith("vam-") and r.id not in VAM_RULES]
    for rule in stray:
        changes.append(
            Change(f"lifecycle {rule.id}", rule.describe(), "removed (not vam's any more)")
        )
    have_tags = dict(have.tags)
    missing = tuple((k, v) for k, v in want.tags if have_tags.get(k) != v)
    if missing:
        changes.append(
            Change(
                "tags",
                describe_tags(have.tags),
                describe_tags(tuple(sorted({**have_tags, **dict(want.tags)}.items()))),
            )
        )
    return tuple(changes)


def plan_bucket(s3, storage: Storage) -> BucketPlan:
    """Read the bucket named in brands.toml and say what would change. Touches nothing."""
    try:
        return _plan_bucket(s3, storage)
    except bce.ClientError as exc:
        raise (owner_only(exc, storage.bucket) or exc) from None


def _plan_bucket(s3, storage: Storage) -> BucketPlan:
    want = desired_settings(storage)
    region = bucket_region(s3, storage.bucket)
    if region is None:
        return BucketPlan(storage.bucket, storage.region, False, (), compare(None, want), want)
    if region != storage.region:
        raise AwsError(
            f"bucket {storage.bucket} already exists in {region}, but brands.toml says region "
            f'{storage.region}; set region = "{region}" under [storage] in brands.toml '
            "(or choose another bucket name)"
        )
    have = read_settings(s3, storage.bucket, region)
    return BucketPlan(
        bucket=storage.bucket,
        region=region,
        exists=True,
        current=_current_lines(have),
        changes=compare(have, want),
        desired=want,
        keep_rules=tuple(r for r in have.rules if not r.id.startswith("vam-")),
        keep_tags=tuple((k, v) for k, v in have.tags if k not in TAGS),
    )


# --------------------------------------------------------------------------- applying


def _create(s3, bucket: str, region: str) -> None:
    kwargs: dict = {"Bucket": bucket}
    if region != "us-east-1":  # us-east-1 rejects a LocationConstraint naming itself
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except bce.ClientError as exc:
        if _code(exc) == "BucketAlreadyOwnedByYou":
            return  # created meanwhile by us: the settings below still converge it
        if _code(exc) == "BucketAlreadyExists":
            raise AwsError(
                f"bucket name {bucket} is taken by another AWS account; choose another "
                "storage.bucket in brands.toml"
            ) from None
        raise


def apply_bucket(s3, plan: BucketPlan) -> tuple[Change, ...]:
    """Make the changes of `plan` (in a safe order), then re-read the bucket and raise AwsError if
    anything still differs. Returns the changes made (empty when there was nothing to change)."""
    try:
        return _apply_bucket(s3, plan)
    except bce.ClientError as exc:
        raise (owner_only(exc, plan.bucket) or exc) from None


def _apply_bucket(s3, plan: BucketPlan) -> tuple[Change, ...]:
    if not plan.changes:
        return ()
    want = plan.desired
    names = {c.setting for c in plan.changes}
    bucket = plan.bucket
    if "bucket" in names:
        _create(s3, bucket, plan.region)
    # lock the door first: public access, then encryption, before anything else
    if "public access" in names or "bucket" in names:
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                f: f in (want.public_access or ()) for f in PUBLIC_ACCESS_FLAGS
            },
        )
    if "encryption" in names:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": want.encryption}}]
            },
        )
    if "versioning" in names:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": want.versioning})
    if any(n.startswith("lifecycle") for n in names):
        rules = [r.to_aws() for r in want.rules]
        # other tools' rules go back exactly as they were read
        rules += [json.loads(r.raw) if r.raw else r.to_aws() for r in plan.keep_rules]
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": rules}
        )
    if "tags" in names:
        tags = {**dict(plan.keep_tags), **dict(want.tags)}
        s3.put_bucket_tagging(
            Bucket=bucket,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]},
        )
    left = compare(read_settings(s3, bucket, plan.region), want)
    if left:
        raise AwsError(
            f"bucket {bucket} still differs after the changes "
            f"({'; '.join(c.line() for c in left)}); the endpoint may not support that setting; "
            "run `vam aws.check` for details"
        )
    return plan.changes
