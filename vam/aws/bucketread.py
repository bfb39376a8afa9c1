"""Reading what a bucket has: its region (or that it does not exist, or is someone else's), each
setting vam manages (a setting never configured reads as absent, not as an error), and an
"access denied" turned into one line that names the permission and whose profile it needs.
"""

from __future__ import annotations

import botocore.exceptions as bce

from vam.aws.bucketsettings import PUBLIC_ACCESS_FLAGS, BucketSettings, rule_from_aws
from vam.core.errors import AwsError


def error_code(exc: bce.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: bce.ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


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
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
}


def owner_only(exc: BaseException, bucket: str) -> AwsError | None:
    """AccessDenied while reading or changing bucket settings: one line naming the action; the
    fix is the owner's (or an administrator's) profile, not a wider editor policy."""
    if not isinstance(exc, bce.ClientError) or http_status(exc) != 403:
        return None
    if error_code(exc) not in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled"):
        return None
    action = S3_ACTIONS.get(exc.operation_name, exc.operation_name)
    return AwsError(
        f"access denied: these credentials may not {action} on bucket {bucket}; setting up the "
        "bucket needs the owner's or an administrator's profile (--aws-profile NAME)"
    )


def bucket_region(s3, bucket: str) -> str | None:
    """The bucket's region, or None when it does not exist. A bucket we may not see is someone
    else's: that is one clear line, not a traceback."""
    try:
        head = s3.head_bucket(Bucket=bucket)
    except bce.ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return None
        if http_status(exc) == 403:
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
        if http_status(exc) == 301:
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
        if error_code(exc) in _ABSENT:
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
    return BucketSettings(
        region=region,
        public_access=flags,
        encryption=algorithm,
        versioning=versioning,
        rules=rules,
        tags=tags,
        accelerate=read_accelerate(s3, bucket),
    )


def read_accelerate(s3, bucket: str) -> str | None:
    """S3 Transfer Acceleration's status ("" when never set); None where the server has no such
    setting (S3-compatible servers other than AWS answer NotImplemented or the like)."""
    try:
        return s3.get_bucket_accelerate_configuration(Bucket=bucket).get("Status", "")
    except bce.ClientError as exc:
        if http_status(exc) == 403:
            raise
        return None
