"""`aws.check`: with the current credentials, use the staging area for real (list, put, get,
delete a probe object), try the archive as the person's role should (the owner writes and
deletes there; an editor's key is refused both), and compare the bucket's settings with the
intended ones, the archive's lifecycle included. One Check (✓/✗ line with its fix) per item;
settings these credentials may not read are reported, not failed (an editor's least-privilege
policy grants no bucket-configuration reads).
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterable

import botocore.exceptions as bce

from vam.aws.bucket import compare
from vam.aws.bucketcaps import refresh
from vam.aws.bucketread import read_accelerate, read_settings
from vam.aws.bucketsettings import (
    archive_root,
    archive_threats,
    archive_version_days,
    describe_accelerate,
    desired_settings,
)
from vam.aws.client import explain
from vam.core.checks import Check
from vam.core.team import Storage

SETUP = "`vam aws.setup-bucket` with the owner's profile"


def _denied(exc: BaseException) -> bool:
    if not isinstance(exc, bce.ClientError):
        return False
    code = exc.response.get("Error", {}).get("Code")
    return code in ("AccessDenied", "AccessDeniedException") or (
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403
    )


def probe_staging(
    s3,
    storage: Storage,
    brand: str,
    profile: str | None = None,
    *,
    prefix: str | None = None,
    label: str | None = None,
) -> Check:
    """List, put, get and delete a small object directly under the brand's staging prefix (or
    `prefix`), where no project folder is, so sync never sees it. One line: all four worked, or
    the first that failed and why."""
    prefix = prefix or storage.prefix_for(brand)
    key = f"{prefix}.vam-check-{socket.gethostname()[:20]}-{secrets.token_hex(4)}"
    body = f"vam aws.check probe {secrets.token_hex(8)}\n".encode()
    label = label or f"{brand} staging"
    steps = (
        (
            "list",
            "s3:ListBucket",
            prefix,
            lambda: s3.list_objects_v2(Bucket=storage.bucket, Prefix=prefix, MaxKeys=1),
        ),
        (
            "put",
            "s3:PutObject",
            key,
            lambda: s3.put_object(Bucket=storage.bucket, Key=key, Body=body),
        ),
        (
            "get",
            "s3:GetObject",
            key,
            lambda: s3.get_object(Bucket=storage.bucket, Key=key)["Body"].read(),
        ),
        (
            "delete",
            "s3:DeleteObject",
            key,
            lambda: s3.delete_object(Bucket=storage.bucket, Key=key),
        ),
    )
    done = []
    for step, action, target, call in steps:
        try:
            result = call()
        except Exception as exc:  # noqa: BLE001 - every failure is one line
            err = explain(exc, action=action, key=target, profile=profile)
            fix = (
                "ask the bucket owner to run `vam aws.setup-user --name YOU` for you"
                if _denied(exc)
                else "run `vam doctor` for the setup"
            )
            if "put" in done:  # do not leave the probe behind
                try:
                    s3.delete_object(Bucket=storage.bucket, Key=key)
                except Exception:  # noqa: BLE001,S110 - best effort; the lifecycle expires it too
                    pass
            ok_part = f" ({', '.join(done)} worked)" if done else ""
            return Check(False, label, f"{step} failed{ok_part}: {err or exc}", fix)
        if step == "get" and result != body:
            return Check(
                False, label, f"{key} came back different", "check endpoint_url in brands.toml"
            )
        done.append(step)
    return Check(True, label, f"list, put, get, delete under {prefix}")


def _tried(call) -> BaseException | None:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the caller names what happened
        return exc
    return None


def probe_archive(
    s3, storage: Storage, brand: str, *, owner: bool, profile: str | None = None
) -> Check:
    """The off-site archive with these credentials. The owner: list, put, get and delete a small
    probe object directly under the brand's archive prefix (in no project). Anyone else: list
    works, and putting or deleting there is refused (an editor may read and restore archived
    projects, never replace or delete them)."""
    prefix = storage.archive_prefix_for(brand)
    key = f"{prefix}.vam-check-{socket.gethostname()[:20]}-{secrets.token_hex(4)}"
    label = f"{brand} archive"
    bucket = storage.bucket
    failed = _tried(lambda: s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1))
    if failed is not None:
        err = explain(failed, action="s3:ListBucket", key=prefix, profile=profile)
        return Check(False, label, f"list failed: {err or failed}", _setup_fix(failed))
    if owner:
        check = probe_staging(s3, storage, brand, profile, prefix=prefix, label=label)
        detail = check.detail.replace(" under ", " (as the owner) under ", 1)
        return Check(check.ok, label, detail, check.fix)
    written: dict = {}
    put = _tried(
        lambda: written.update(s3.put_object(Bucket=bucket, Key=key, Body=b"vam aws.check probe\n"))
    )
    # the delete asks only for the probe: the version this check just wrote (If-Match on its
    # ETag), or, when the put was refused, a key with a fresh random name that holds nothing
    only_ours = {"IfMatch": written["ETag"]} if written.get("ETag") else {}
    delete = _tried(lambda: s3.delete_object(Bucket=bucket, Key=key, **only_ours))
    allowed = [what for what, exc in (("put", put), ("delete", delete)) if exc is None]
    if allowed:
        return Check(
            False,
            label,
            f"these credentials may {' and '.join(allowed)} archive objects under {prefix}; an "
            "editor's key should only read and restore them",
            "the owner runs `vam aws.setup-policy` and `vam aws.setup-user --name YOU`, or set "
            'role = "owner" for yourself in brands.toml if you are the owner',
        )
    other = next((exc for exc in (put, delete) if not _denied(exc)), None)
    if other is not None:
        err = explain(other, action="s3:PutObject", key=key, profile=profile)
        return Check(False, label, f"probe failed: {err or other}", "run `vam doctor`")
    return Check(
        True,
        label,
        f"list works under {prefix}; put and delete refused (an editor reads and restores, "
        "only the owner writes and deletes)",
    )


def _setup_fix(exc: BaseException) -> str:
    return (
        "ask the bucket owner to run `vam aws.setup-user --name YOU` for you"
        if _denied(exc)
        else "run `vam doctor` for the setup"
    )


def check_archive_lifecycle(have_rules, storage: Storage) -> Check:
    """No lifecycle rule of anyone's deletes or moves current archive objects."""
    label = "archive lifecycle"
    root = archive_root(storage)
    threats = archive_threats(tuple(have_rules), storage)
    if threats:
        named = "; ".join(f"{r.id or '(no id)'}: {r.describe()}" for r in threats)
        return Check(
            False,
            label,
            f"rules that would delete or move archived projects under {root}: {named}",
            "narrow those rules' prefix so they leave " + root + " alone (vam's own never touch "
            "it), then run `vam aws.check` again",
        )
    return Check(
        True,
        label,
        f"nothing expires objects under {root}; their old versions are kept "
        f"{archive_version_days(storage)} days ({storage.archive_class}'s minimum storage "
        "duration)",
    )


def check_conditional_writes(s3, storage: Storage, brand: str) -> Check:
    """Does this bucket honour If-Match / If-None-Match? Probed for real under the brand's
    staging prefix (vam.bucketcaps), and remembered for the sync runs of the next days."""
    found = refresh(s3, storage.bucket, storage.prefix_for(brand))
    label = "conditional writes"
    if not found.checked_at:
        return Check(
            False,
            label,
            f"could not be probed ({found.why}); until they are, vam HEADs right before each "
            "overwrite and delete, a weaker protection",
            "run `vam aws.check` with credentials that may put and delete under staging",
        )
    if found.writes and found.deletes:
        detail = "If-Match / If-None-Match honoured on PUT and DELETE by this bucket"
        if not found.copies:
            detail += (
                "; copy-source If-Match ignored, so vam HEADs before and after each backup copy"
            )
        ignored = found.complete_ignored()
        if ignored:
            detail += (
                f"; {' / '.join(ignored)} on a multipart upload's complete step ignored, so vam "
                "HEADs right before completing a large file"
            )
        return Check(True, label, detail)
    return Check(
        False,
        label,
        f"this bucket ignores {', '.join(found.ignored())} (a stale condition was accepted): "
        "vam HEADs right before each overwrite and delete instead, a weaker protection (a change "
        "in that moment is not seen)",
        "use an S3 service that honours conditional writes (this check says when it does), or "
        "let one person at a time upload to a project",
    )


def check_bucket(s3, storage: Storage, profile: str | None = None) -> Check:
    """The bucket exists, in the configured region (GetBucketLocation: every vam policy has it)."""
    try:
        location = s3.get_bucket_location(Bucket=storage.bucket).get("LocationConstraint")
    except Exception as exc:  # noqa: BLE001
        err = explain(exc, action="s3:GetBucketLocation", key=storage.bucket, profile=profile)
        # an explained failure already says what to do (credentials, network, setup-bucket)
        return Check(False, "bucket", str(err or exc), "" if err else SETUP)
    region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    if region != storage.region:
        return Check(
            False,
            "bucket",
            f"{storage.bucket} is in {region}, brands.toml says {storage.region}",
            f'set region = "{region}" under [storage] in brands.toml',
        )
    return Check(True, "bucket", f"{storage.bucket} in {region}")


def check_bucket_settings(s3, storage: Storage, profile: str | None = None) -> list[Check]:
    """One line per intended setting: as intended (✓), different (✗ + fix), or not readable with
    these credentials (reported as ✓ with a note: it is not this person's job)."""
    want = desired_settings(storage)
    try:
        have = read_settings(s3, storage.bucket, storage.region)
    except Exception as exc:  # noqa: BLE001
        if _denied(exc):
            return [
                Check(
                    True,
                    "bucket settings",
                    "not readable with these credentials (editors may not read bucket "
                    "configuration; the owner runs `vam aws.check`)",
                )
            ]
        err = explain(exc, action="GetBucketConfiguration", key=storage.bucket, profile=profile)
        return [Check(False, "bucket settings", str(err or exc), "" if err else SETUP)]
    differences = {c.setting: c for c in compare(have, want)}
    names: Iterable[str] = [
        "public access",
        "encryption",
        "versioning",
        *(f"lifecycle {r.id}" for r in want.rules),
        "tags",
        *(["transfer acceleration"] if want.accelerate else []),
    ]
    checks = []
    for name in names:
        change = differences.pop(name, None)
        if change is None:
            checks.append(Check(True, f"bucket {name}", "as intended"))
        else:
            checks.append(
                Check(
                    False,
                    f"bucket {name}",
                    f"is {change.current}, should be {change.wanted}",
                    SETUP,
                )
            )
    for change in differences.values():  # e.g. a stray vam rule
        checks.append(Check(False, f"bucket {change.setting}", change.current, SETUP))
    checks.append(check_archive_lifecycle(have.rules, storage))
    return checks


def check_accelerate(s3, storage: Storage) -> Check:
    """brands.toml asks for S3 Transfer Acceleration: is it on for the bucket?"""
    try:
        status = read_accelerate(s3, storage.bucket)
    except Exception as exc:  # noqa: BLE001
        if _denied(exc):
            return Check(
                True,
                "transfer acceleration",
                "asked for; the bucket's setting is not readable with these credentials",
            )
        raise
    if status == "Enabled":
        return Check(True, "transfer acceleration", f"on for {storage.bucket}")
    if status is None:
        return Check(
            False,
            "transfer acceleration",
            "this server has no S3 Transfer Acceleration (an AWS feature)",
            "remove accelerate = true from [storage] in brands.toml",
        )
    return Check(
        False,
        "transfer acceleration",
        f"asked for in brands.toml but {describe_accelerate(status)} for {storage.bucket}",
        SETUP,
    )
