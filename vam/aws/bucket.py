"""The staging bucket: the plan of named changes between the settings it should have
(vam.aws.bucketsettings, from brands.toml) and the settings it has (vam.aws.bucketread).
`plan_bucket` only reads; `apply_bucket` changes, then reads everything back and fails loudly if
the bucket is still not as intended.

The same functions serve real AWS, any S3-compatible endpoint and the local demo server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import botocore.exceptions as bce

from vam.aws.bucketread import bucket_region, error_code, owner_only, read_settings
from vam.aws.bucketsettings import (
    PUBLIC_ACCESS_FLAGS,
    TAGS,
    VAM_RULES,
    BucketSettings,
    Rule,
    describe_accelerate,
    describe_encryption,
    describe_public_access,
    describe_tags,
    describe_versioning,
    desired_settings,
)
from vam.core.errors import AwsError
from vam.core.team import Storage

ACCELERATION = "transfer acceleration"  # S3 Transfer Acceleration (accelerate = true)


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
    if have.accelerate is not None:
        lines.append((ACCELERATION, describe_accelerate(have.accelerate)))
    return tuple(lines)


def compare(have: BucketSettings | None, want: BucketSettings) -> tuple[Change, ...]:
    """The named changes that turn `have` (None: no bucket) into `want`; empty when equal."""
    changes: list[Change] = []
    if have is None:
        where = want.region + (" (no location constraint)" if want.region == "us-east-1" else "")
        changes.append(Change("bucket", "does not exist", f"create in {where}"))
        have = BucketSettings.unset(want.region)
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
    if want.accelerate is not None and have.accelerate != want.accelerate:
        changes.append(
            Change(
                ACCELERATION,
                describe_accelerate(have.accelerate),
                describe_accelerate(want.accelerate),
            )
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
        if error_code(exc) == "BucketAlreadyOwnedByYou":
            return  # created meanwhile by us: the settings below still converge it
        if error_code(exc) == "BucketAlreadyExists":
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
    if ACCELERATION in names:
        s3.put_bucket_accelerate_configuration(
            Bucket=bucket, AccelerateConfiguration={"Status": want.accelerate}
        )
    left = compare(read_settings(s3, bucket, plan.region), want)
    if left:
        raise AwsError(
            f"bucket {bucket} still differs after the changes "
            f"({'; '.join(c.line() for c in left)}); the endpoint may not support that setting; "
            "run `vam aws.check` for details"
        )
    return plan.changes
