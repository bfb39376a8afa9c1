"""A person's IAM user and access keys: plan/apply of the user (policy attached, first key), and
key rotation that never leaves the user without a working key.

Secrets only travel inside `AccessKey` values handed to a caller-supplied `store` function (see
vam.keyfile); nothing here prints one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import botocore.exceptions as bce

from vam.aws.client import Aws, new_session
from vam.aws.keyfile import AccessKey
from vam.aws.policy import (
    Account,
    PolicyPlan,
    PolicyScope,
    apply_policy,
    base_name,
    iam_call,
    iam_denied,
    plan_policy,
    scope_for_user,
)
from vam.core.errors import AwsError, UsageError
from vam.core.team import Storage, Team, TeamUser

MAX_KEYS = 2  # IAM's limit per user


def team_user(team: Team, name: str) -> TeamUser:
    user = team.user(name)
    if user is None:
        known = ", ".join(u.name for u in team.users) or "none"
        raise UsageError(
            f"{name!r} is not in brands.toml [users] (known: {known}); add [users.{name}] "
            f"(with brands = [...] to limit them to some brands) to {team.path} and run again"
        )
    return user


def iam_user_name(user: TeamUser) -> str:
    return user.iam_user or f"{user.name}-video-projects"


@dataclass(frozen=True)
class KeyInfo:
    id: str
    active: bool
    created: datetime | None

    def describe(self) -> str:
        when = f", created {self.created:%Y-%m-%d}" if self.created else ""
        return f"{self.id} ({'active' if self.active else 'inactive'}{when})"


def list_keys(iam, iam_user: str) -> tuple[KeyInfo, ...]:
    keys = iam_call(iam.list_access_keys, "iam:ListAccessKeys", iam_user, UserName=iam_user)
    return tuple(
        sorted(
            (
                KeyInfo(k["AccessKeyId"], k["Status"] == "Active", k.get("CreateDate"))
                for k in keys.get("AccessKeyMetadata", [])
            ),
            key=lambda k: (k.created is None, k.created or 0, k.id),
        )
    )


@dataclass(frozen=True)
class UserPlan:
    person: str
    iam_user: str
    policy: PolicyPlan
    user_exists: bool
    attach: str | None  # policy ARN to attach
    detach: tuple[str, ...]  # other vam policies attached now (the person's brands changed)
    keys: tuple[KeyInfo, ...]
    create_key: bool

    @property
    def scope(self) -> PolicyScope:
        return self.policy.scope

    @property
    def nothing_to_change(self) -> bool:
        return (
            self.user_exists
            and self.policy.nothing_to_change
            and not self.attach
            and not self.detach
            and not self.create_key
        )

    def lines(self) -> list[str]:
        out = list(self.policy.lines())
        out.append(
            f"IAM user {self.iam_user}: "
            + ("exists" if self.user_exists else "does not exist -> create")
        )
        if self.attach:
            out.append(f"attach policy {self.policy.scope.name} to {self.iam_user}")
        elif self.user_exists:
            out.append(f"policy {self.policy.scope.name} attached")
        for arn in self.detach:
            out.append(f"detach {arn.rsplit('/', 1)[-1]} (no longer this person's scope)")
        if self.keys:
            out.append("access keys: " + ", ".join(k.describe() for k in self.keys))
        out.append("create an access key" if self.create_key else "no new access key needed")
        return out


def plan_user(iam, account: Account, team: Team, name: str, *, new_key: bool = False) -> UserPlan:
    """What setting up `name` needs. Refuses (one line) a new key when the user has two."""
    user = team_user(team, name)
    iam_user = iam_user_name(user)
    policy = plan_policy(iam, account, team.storage, scope_for_user(team, user))
    try:
        iam_call(iam.get_user, "iam:GetUser", iam_user, UserName=iam_user)
        exists = True
    except bce.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        exists = False
    attached: list[str] = []
    keys: tuple[KeyInfo, ...] = ()
    if exists:
        pages = iam.get_paginator("list_attached_user_policies").paginate(UserName=iam_user)
        try:
            attached = [p["PolicyArn"] for page in pages for p in page.get("AttachedPolicies", [])]
        except bce.ClientError as exc:
            raise (iam_denied(exc, "iam:ListAttachedUserPolicies", iam_user) or exc) from None
        keys = list_keys(iam, iam_user)
    prefix = base_name(team.storage)
    detach = tuple(
        a for a in attached if a != policy.arn and a.rsplit("/", 1)[-1].startswith(prefix)
    )
    create_key = new_key or not keys
    if create_key and len(keys) >= MAX_KEYS:
        raise AwsError(
            f"IAM user {iam_user} already has {len(keys)} access keys "
            f"({', '.join(k.describe() for k in keys)}), IAM's maximum; replace one with "
            f"`vam aws.rotate-key --name {name} --old-key KEYID` or delete the unused one"
        )
    return UserPlan(
        name,
        iam_user,
        policy,
        exists,
        None if policy.arn in attached else policy.arn,
        detach,
        keys,
        create_key,
    )


def create_key(iam, iam_user: str) -> AccessKey:
    key = iam_call(iam.create_access_key, "iam:CreateAccessKey", iam_user, UserName=iam_user)[
        "AccessKey"
    ]
    return AccessKey(iam_user, key["AccessKeyId"], key["SecretAccessKey"])


def delete_key(iam, iam_user: str, key_id: str) -> None:
    iam_call(
        iam.delete_access_key,
        "iam:DeleteAccessKey",
        iam_user,
        UserName=iam_user,
        AccessKeyId=key_id,
    )


def apply_user(iam, plan: UserPlan, store: Callable[[AccessKey], object]) -> AccessKey | None:
    """Create or update the policy, create the user, attach the policy, create the key and hand it
    to `store` (which writes it somewhere 0600), then read the user back. If `store` fails, the
    new key is deleted again: no key exists that nobody holds. Returns the new key (None when
    none was needed)."""
    apply_policy(iam, plan.policy)
    if not plan.user_exists:
        iam_call(
            iam.create_user,
            "iam:CreateUser",
            plan.iam_user,
            UserName=plan.iam_user,
            Tags=[{"Key": "managed-by", "Value": "vam"}, {"Key": "vam-user", "Value": plan.person}],
        )
    if plan.attach:
        iam_call(
            iam.attach_user_policy,
            "iam:AttachUserPolicy",
            plan.iam_user,
            UserName=plan.iam_user,
            PolicyArn=plan.attach,
        )
    for arn in plan.detach:
        iam_call(
            iam.detach_user_policy,
            "iam:DetachUserPolicy",
            plan.iam_user,
            UserName=plan.iam_user,
            PolicyArn=arn,
        )
    if not plan.create_key:
        verify_user(iam, plan, None)
        return None
    key = create_key(iam, plan.iam_user)
    try:
        store(key)
    except BaseException:
        delete_key(iam, plan.iam_user, key.access_key_id)
        raise
    verify_user(iam, plan, key)
    return key


def verify_user(iam, plan: UserPlan, key: AccessKey | None) -> None:
    """Read the user back: its policy attached, no stale vam policy, the new key present."""
    pages = iam.get_paginator("list_attached_user_policies").paginate(UserName=plan.iam_user)
    attached = {p["PolicyArn"] for page in pages for p in page.get("AttachedPolicies", [])}
    keys = {k.id for k in list_keys(iam, plan.iam_user)}
    problems = []
    if plan.policy.arn not in attached:
        problems.append(f"policy {plan.scope.name} not attached")
    if attached & set(plan.detach):
        problems.append("an old vam policy is still attached")
    if key is not None and key.access_key_id not in keys:
        problems.append(f"key {key.access_key_id} missing")
    if problems:
        raise AwsError(
            f"IAM user {plan.iam_user} is not as intended after the changes "
            f"({'; '.join(problems)}); run the same command again"
        )


# --------------------------------------------------------------------------- rotation


@dataclass(frozen=True)
class RotationPlan:
    person: str
    iam_user: str
    keys: tuple[KeyInfo, ...]
    replace: KeyInfo  # the key the new one replaces
    delete_first: KeyInfo | None = None  # frees IAM's second slot; never the last working key

    def lines(self) -> list[str]:
        out = [
            f"IAM user {self.iam_user}: access keys " + ", ".join(k.describe() for k in self.keys)
        ]
        if self.delete_first:
            why = (
                "inactive"
                if not self.delete_first.active
                else "frees a slot; the other key keeps working"
            )
            out.append(f"delete {self.delete_first.id} first ({why})")
        out.append("create a new key, prove it works (STS + a listing under staging)")
        out.append(
            "store the new key, then deactivate and delete "
            + (self.replace.id if self.replace != self.delete_first else "nothing more")
        )
        return out


def plan_rotation(iam, team: Team, name: str, old_key: str | None = None) -> RotationPlan:
    user = team_user(team, name)
    iam_user = iam_user_name(user)
    keys = list_keys(iam, iam_user)
    if not keys:
        raise UsageError(
            f"IAM user {iam_user} has no access key to rotate; create one with "
            f"`vam aws.setup-user --name {name}`"
        )
    if old_key:
        replace = next((k for k in keys if k.id == old_key), None)
        if replace is None:
            raise UsageError(
                f"{old_key} is not a key of {iam_user} (its keys: "
                f"{', '.join(k.id for k in keys)}); check --old-key"
            )
    elif len(keys) == 1:
        replace = keys[0]
    else:
        active = [k for k in keys if k.active]
        if len(active) != 1:
            raise UsageError(
                f"IAM user {iam_user} has two {'active' if active else 'inactive'} keys "
                f"({', '.join(k.describe() for k in keys)}); "
                "say which one to replace with --old-key KEYID"
            )
        replace = active[0]
    delete_first = None
    if len(keys) >= MAX_KEYS:
        other = next(k for k in keys if k.id != replace.id)
        # the inactive one goes first; if both work, the replaced one goes and the other carries on
        delete_first = other if not other.active else replace
    return RotationPlan(name, iam_user, keys, replace, delete_first)


def session_for(key: AccessKey, storage: Storage) -> Aws:
    session = new_session(
        None, storage.region, access_key_id=key.access_key_id, secret_access_key=key.secret
    )
    return Aws(session=session, storage=storage, profile=None)


def prove_key(
    key: AccessKey,
    storage: Storage,
    prefix: str,
    *,
    attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Use the new key for real: who am I (STS) and a listing under one of its staging prefixes.
    IAM is eventually consistent, so a brand-new key gets a few tries. Returns the caller ARN."""
    aws = session_for(key, storage)
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            ident = aws.client("sts").get_caller_identity()
            aws.client("s3").list_objects_v2(Bucket=storage.bucket, Prefix=prefix, MaxKeys=1)
            return str(ident["Arn"])
        except bce.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in _NOT_YET:
                # not IAM catching up: waiting will not help
                raise AwsError(
                    f"the new key {key.access_key_id} of {key.iam_user} could not list "
                    f"{storage.bucket}/{prefix} ({code}); run `vam aws.setup-bucket` and "
                    "`vam aws.setup-policy` first"
                ) from None
            last = exc
            if attempt + 1 < attempts:
                sleep(min(2**attempt, 10))
    code = last.response.get("Error", {}).get("Code") if isinstance(last, bce.ClientError) else last
    raise AwsError(
        f"the new key {key.access_key_id} of {key.iam_user} does not work yet ({code}); "
        "run the same command again in a minute"
    )


# answers of a key IAM has not finished propagating
_NOT_YET = {
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "AuthFailure",
}


@dataclass(frozen=True)
class RotationResult:
    new_key_id: str
    deleted: tuple[str, ...]
    caller_arn: str
    key: AccessKey = field(repr=False)


def rotate(
    iam,
    plan: RotationPlan,
    *,
    prove: Callable[[AccessKey], str],
    store: Callable[[AccessKey], object],
) -> RotationResult:
    """Create the new key, prove it, store it, then deactivate and delete the old. Any failure
    before the old key goes deletes the new key again and leaves the old one as it was."""
    deleted: list[str] = []
    if plan.delete_first:
        delete_key(iam, plan.iam_user, plan.delete_first.id)
        deleted.append(plan.delete_first.id)
    key = create_key(iam, plan.iam_user)
    try:
        arn = prove(key)
        store(key)
    except AwsError as exc:
        delete_key(iam, plan.iam_user, key.access_key_id)
        raise AwsError(f"{exc}; the new key was deleted again, the old key is untouched") from None
    except BaseException:
        delete_key(iam, plan.iam_user, key.access_key_id)
        raise
    if plan.replace.id not in deleted:
        iam_call(
            iam.update_access_key,
            "iam:UpdateAccessKey",
            plan.iam_user,
            UserName=plan.iam_user,
            AccessKeyId=plan.replace.id,
            Status="Inactive",
        )
        delete_key(iam, plan.iam_user, plan.replace.id)
        deleted.append(plan.replace.id)
    return RotationResult(key.access_key_id, tuple(deleted), arn, key)
