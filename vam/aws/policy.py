"""The least-privilege IAM policy for the staging area and the off-site archive: a pure document
builder (SPEC §6: only real IAM actions, objects scoped by resource, listing scoped by an s3:prefix
condition), and the managed policy's plan/apply (create, or a new default version when the
document changed).

Staging: everyone reads, writes and deletes (SPEC §6). The archive (SPEC §10): everyone may read
and restore its objects (and write the small restore record beside them); only the owner's
policy (brands.toml role "owner") may write and delete them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.exceptions as bce

from vam.core.errors import AwsError
from vam.core.team import Storage, Team, TeamUser

BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucketMultipartUploads")
LIST_ACTION = "s3:ListBucket"
OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
ARCHIVE_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:RestoreObject")
ARCHIVE_WRITE_ACTIONS = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
# the owner replaces an archived file only where versioning keeps the old one: it must be able to
# ask (vam/archive/cloud.py)
OWNER_BUCKET_ACTIONS = ("s3:GetBucketVersioning",)
RESTORE_RECORD = ".vam/restore.json"  # vam/archive/keys.py: who asked for a restore, and when
# Every action a vam policy may grant (SPEC §6, plus RestoreObject for the archive, §10). Tests
# assert generated documents stay inside it.
ALLOWED_ACTIONS = frozenset(
    (
        *BUCKET_ACTIONS,
        LIST_ACTION,
        *OBJECT_ACTIONS,
        *ARCHIVE_READ_ACTIONS,
        *ARCHIVE_WRITE_ACTIONS,
        *OWNER_BUCKET_ACTIONS,
    )
)
MAX_VERSIONS = 5  # IAM keeps at most five versions of a managed policy
DESCRIPTION = (
    "vam: read/write the video staging area, read/restore the archive "
    "(managed by `vam aws.setup-policy`)"
)
OWNER_ROLE = "owner"


@dataclass(frozen=True)
class PolicyScope:
    """Which brands a policy grants, and the managed policy's name."""

    name: str
    brands: tuple[str, ...]
    every_brand: bool
    owner: bool = False  # may write and delete archive objects

    def describe(self) -> str:
        which = "every brand" if self.every_brand else "brands " + ", ".join(self.brands)
        return which + ("; the owner's: writes the archive" if self.owner else "")


def base_name(storage: Storage) -> str:
    return f"vam-{storage.bucket}-staging"


def scope_for(
    team: Team, brands: Iterable[str] | None = None, *, owner: bool = False
) -> PolicyScope:
    """The policy for `brands` (None or all of them: the team-wide policy); `owner`: the one that
    may also write and delete the archive."""
    every = tuple(b.key for b in team.brands)
    chosen = tuple(sorted(set(brands))) if brands is not None else every
    suffix = "-owner" if owner else ""
    if set(chosen) >= set(every):
        return PolicyScope(base_name(team.storage) + suffix, every, True, owner)
    if not chosen:
        raise ValueError("a policy scope needs at least one brand")
    name = f"{base_name(team.storage)}-{'-'.join(chosen)}{suffix}"
    if len(name) > 128:  # IAM's limit on policy names
        import hashlib

        name = name[:115] + "-" + hashlib.sha256(name.encode()).hexdigest()[:12]
    return PolicyScope(name, chosen, False, owner)


def scope_for_user(team: Team, user: TeamUser) -> PolicyScope:
    return scope_for(team, user.brands, owner=user.role == OWNER_ROLE)


def scopes_needed(team: Team) -> tuple[PolicyScope, ...]:
    """Every policy brands.toml implies: the team-wide one plus one per distinct brand list."""
    scopes = {scope_for(team).name: scope_for(team)}
    for user in team.users:
        scope = scope_for_user(team, user)
        scopes.setdefault(scope.name, scope)
    return tuple(scopes.values())


def policy_document(
    storage: Storage, brands: Iterable[str], *, owner: bool = False
) -> dict[str, Any]:
    """The policy JSON: bucket-level reads, listing only under the brands' staging and archive
    prefixes, object read/write/delete only under the staging ones; archive objects read and
    restored (written and deleted only with `owner`). Pure; the order is stable so documents
    compare."""
    brands = list(brands)
    prefixes = [storage.prefix_for(b) for b in brands]
    archives = [storage.archive_prefix_for(b) for b in brands]
    if not prefixes:
        raise ValueError("a policy needs at least one brand")
    bucket_arn = f"arn:aws:s3:::{storage.bucket}"
    listed = [p + s for p in prefixes + archives for s in ("", "*")]
    archive: list[dict[str, Any]] = [
        {
            "Sid": "ArchiveRead",
            "Effect": "Allow",
            "Action": list(ARCHIVE_READ_ACTIONS),
            "Resource": [f"{bucket_arn}/{p}*" for p in archives],
        },
    ]
    if owner:
        archive.append(
            {
                "Sid": "ArchiveWrite",
                "Effect": "Allow",
                "Action": list(ARCHIVE_WRITE_ACTIONS),
                "Resource": [f"{bucket_arn}/{p}*" for p in archives],
            }
        )
        archive.append(
            {
                "Sid": "OwnerSeesVersioning",
                "Effect": "Allow",
                "Action": list(OWNER_BUCKET_ACTIONS),
                "Resource": bucket_arn,
            }
        )
    else:  # an editor may say that a restore was asked for, and nothing else
        archive.append(
            {
                "Sid": "ArchiveRestoreRecord",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": [f"{bucket_arn}/{p}*/{RESTORE_RECORD}" for p in archives],
            }
        )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "FindTheBucket",
                "Effect": "Allow",
                "Action": list(BUCKET_ACTIONS),
                "Resource": bucket_arn,
            },
            {
                "Sid": "ListStagingAndArchiveOnly",
                "Effect": "Allow",
                "Action": LIST_ACTION,
                "Resource": bucket_arn,
                # the prefix itself (a listing with Delimiter) and anything below it
                "Condition": {"StringLike": {"s3:prefix": listed}},
            },
            {
                "Sid": "StagingObjects",
                "Effect": "Allow",
                "Action": list(OBJECT_ACTIONS),
                "Resource": [f"{bucket_arn}/{p}*" for p in prefixes],
            },
            *archive,
        ],
    }


def actions_in(document: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in document.get("Statement", []):
        action = statement.get("Action", [])
        found.update([action] if isinstance(action, str) else action)
    return found


def canonical(document: Mapping[str, Any]) -> str:
    """A document as a string that is equal for equal policies (lists order-free, str == [str])."""

    def norm(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list):
            items = [norm(v) for v in value]
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return value

    statements = []
    for st in document.get("Statement", []):
        st = dict(st)
        for key in ("Action", "Resource", "NotAction", "NotResource"):
            if isinstance(st.get(key), str):
                st[key] = [st[key]]
        statements.append(norm(st))
    statements.sort(key=lambda s: json.dumps(s, sort_keys=True))
    return json.dumps({"Version": document.get("Version"), "Statement": statements}, sort_keys=True)


# --------------------------------------------------------------------------- the managed policy


@dataclass(frozen=True)
class Account:
    """Who the credentials belong to; IAM ARNs need the account id and partition."""

    id: str
    partition: str
    arn: str


def caller_account(sts) -> Account:
    ident = sts.get_caller_identity()
    arn = ident["Arn"]
    return Account(ident["Account"], arn.split(":")[1] or "aws", arn)


def policy_arn(account: Account, name: str) -> str:
    return f"arn:{account.partition}:iam::{account.id}:policy/{name}"


@dataclass(frozen=True)
class PolicyPlan:
    scope: PolicyScope
    arn: str
    document: str  # the wanted document (JSON)
    exists: bool
    current_version: str | None
    action: str  # "create", "new-version" or "none"
    delete_version: str | None = None  # oldest non-default version, when at IAM's 5-version limit

    @property
    def nothing_to_change(self) -> bool:
        return self.action == "none"

    def lines(self) -> list[str]:
        """What exists and what will change, for the plan printout."""
        head = f"policy {self.scope.name} ({self.scope.describe()})"
        if self.action == "create":
            return [f"{head}: does not exist -> create"]
        if self.action == "none":
            return [f"{head}: exists ({self.current_version}), document as intended"]
        lines = [
            f"{head}: exists ({self.current_version}), document differs -> new default version"
        ]
        if self.delete_version:
            lines.append(
                f"  (IAM keeps 5 versions: delete the oldest non-default, {self.delete_version})"
            )
        return lines


def iam_denied(exc: bce.ClientError, action: str, resource: str = "") -> AwsError | None:
    """AccessDenied on an IAM call as one line naming the IAM action the caller lacks."""
    err = exc.response.get("Error", {})
    if err.get("Code") not in ("AccessDenied", "AccessDeniedException"):
        return None
    message = str(err.get("Message", ""))
    named = action
    if "perform: " in message:
        named = message.split("perform: ", 1)[1].split()[0].rstrip(".,")
    on = f" on {resource}" if resource else ""
    return AwsError(
        f"access denied: these credentials may not {named}{on}; run this with an "
        f"administrator profile (--aws-profile NAME) or ask your AWS admin to allow {named}"
    )


def iam_call(call, action: str, resource: str = "", **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except bce.ClientError as exc:
        denied = iam_denied(exc, action, resource)
        if denied:
            raise denied from None
        raise


def _no_such(exc: bce.ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "NoSuchEntity"


def current_document(iam, arn: str) -> tuple[str, dict] | None:
    """(default version id, document) of a managed policy, or None when it does not exist."""
    try:
        policy = iam_call(iam.get_policy, "iam:GetPolicy", arn, PolicyArn=arn)["Policy"]
    except bce.ClientError as exc:
        if _no_such(exc):
            return None
        raise
    default = policy["DefaultVersionId"]
    version = iam_call(
        iam.get_policy_version, "iam:GetPolicyVersion", arn, PolicyArn=arn, VersionId=default
    )["PolicyVersion"]
    document = version["Document"]
    if isinstance(document, str):  # boto3 decodes it; other clients may not
        from urllib.parse import unquote

        document = json.loads(unquote(document))
    return default, document


def plan_policy(iam, account: Account, storage: Storage, scope: PolicyScope) -> PolicyPlan:
    """What the managed policy for `scope` needs: nothing, creating, or a new default version."""
    wanted = policy_document(storage, scope.brands, owner=scope.owner)
    text = json.dumps(wanted, indent=2)
    arn = policy_arn(account, scope.name)
    found = current_document(iam, arn)
    if found is None:
        return PolicyPlan(scope, arn, text, False, None, "create")
    default, current = found
    if canonical(current) == canonical(wanted):
        return PolicyPlan(scope, arn, text, True, default, "none")
    versions = iam_call(iam.list_policy_versions, "iam:ListPolicyVersions", arn, PolicyArn=arn)[
        "Versions"
    ]
    delete = None
    if len(versions) >= MAX_VERSIONS:
        old = sorted(
            (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
        )
        delete = old[0]["VersionId"]
    return PolicyPlan(scope, arn, text, True, default, "new-version", delete)


def apply_policy(iam, plan: PolicyPlan) -> PolicyPlan:
    """Create the policy or its new default version, then read it back (AwsError if it still
    differs). Returns the plan; nothing happens when the plan says nothing to change."""
    if plan.action == "create":
        iam_call(
            iam.create_policy,
            "iam:CreatePolicy",
            plan.arn,
            PolicyName=plan.scope.name,
            PolicyDocument=plan.document,
            Description=DESCRIPTION[:1000],
            Tags=[{"Key": "managed-by", "Value": "vam"}],
        )
    elif plan.action == "new-version":
        if plan.delete_version:
            iam_call(
                iam.delete_policy_version,
                "iam:DeletePolicyVersion",
                plan.arn,
                PolicyArn=plan.arn,
                VersionId=plan.delete_version,
            )
        iam_call(
            iam.create_policy_version,
            "iam:CreatePolicyVersion",
            plan.arn,
            PolicyArn=plan.arn,
            PolicyDocument=plan.document,
            SetAsDefault=True,
        )
    if plan.action != "none":
        recheck_policy(iam, plan)
    return plan


def recheck_policy(iam, plan: PolicyPlan) -> None:
    found = current_document(iam, plan.arn)
    if found is None or canonical(found[1]) != canonical(json.loads(plan.document)):
        raise AwsError(
            f"policy {plan.scope.name} still differs after the update; run the same command again"
        )
