"""AWS bootstrap: bucket, least-privilege policy, users and keys, and a check of it all."""

from __future__ import annotations

import os
from pathlib import Path

from invoke import Exit

from vam.aws import bucket, iamuser, keyfile, policy
from vam.aws import check as awscheck
from vam.aws.client import connect_as
from vam.core.config import Config, load_config
from vam.core.errors import SafetyError, UsageError, VamError
from vam.core.settings import default_settings_path, load_settings
from vam.core.team import Storage
from vam.tasks.base import JSON_HELP, confirmed, report_checks, result, say, vam_task

AWS_PROFILE_HELP = (
    "AWS profile to act with (default: aws_profile in your vam settings, or AWS_PROFILE)"
)
DRY_RUN_HELP = "show what exists and the plan, change nothing"


def _confirm(question: str, yes: bool) -> None:
    """Go on only if the person agreed: --yes, or y at a prompt. Without a terminal, refuse."""
    unasked = SafetyError(
        f"{question} needs confirmation; run the same command with --yes to go ahead"
    )
    if not confirmed(question, yes, unasked):
        raise Exit("vam: nothing changed", code=1)


def _plan_block(title: str, lines: list[str]) -> None:
    say(title)
    for line in lines:
        say(f"  {line}")


# --------------------------------------------------------------------------- bucket


@vam_task(
    help={
        "dry_run": DRY_RUN_HELP,
        "yes": "converge an existing bucket whose settings differ without asking",
        "aws_profile": AWS_PROFILE_HELP,
        "json": JSON_HELP,
    }
)
def setup_bucket(c, dry_run=False, yes=False, aws_profile=None, json_=False):
    """Create or converge the staging bucket (private, SSE-S3, versioning, lifecycle, tags)."""
    config = load_config()
    s3 = connect_as(config, profile=aws_profile).client("s3")
    plan = bucket.plan_bucket(s3, config.storage)
    result(
        bucket=plan.bucket,
        region=plan.region,
        exists=plan.exists,
        dry_run=dry_run,
        current={k: v for k, v in plan.current},
        plan=[ch.line() for ch in plan.changes],
        changed=0,
    )
    if plan.exists:
        _plan_block(
            f"bucket {plan.bucket} exists in {plan.region}:", [f"{k}: {v}" for k, v in plan.current]
        )
    else:
        say(f"bucket {plan.bucket} does not exist yet")
    if plan.nothing_to_change:
        say("nothing to change")
        return plan
    _plan_block("plan:", [c.line() for c in plan.changes])
    if dry_run:
        say(f"dry run: {len(plan.changes)} changes planned, nothing changed")
        return plan
    if plan.needs_confirmation:
        _confirm(
            f"bucket {plan.bucket} exists with other settings; change {len(plan.changes)} of them?",
            yes,
        )
    done = bucket.apply_bucket(s3, plan)
    result(changed=len(done))
    say(f"changed {len(done)}; bucket {plan.bucket} re-checked: as intended")
    return plan


# --------------------------------------------------------------------------- policy


def _scopes(config: Config, name: str | None, brands: str | None) -> tuple[policy.PolicyScope, ...]:
    team = config.team
    if name and brands:
        raise UsageError(
            "give --name or --brands, not both (a person's brands come from brands.toml)"
        )
    if name:
        return (policy.scope_for_user(team, iamuser.team_user(team, name)),)
    if brands:
        from vam.core.projects import find_brand

        return (
            policy.scope_for(
                team, [find_brand(config, b).key for b in brands.split(",") if b.strip()]
            ),
        )
    return policy.scopes_needed(team)


@vam_task(
    help={
        "name": "only the policy this person (brands.toml [users.NAME]) needs",
        "brands": "only the policy for these brands (comma-separated), e.g. voz",
        "dry_run": DRY_RUN_HELP,
        "aws_profile": AWS_PROFILE_HELP,
        "json": JSON_HELP,
    }
)
def setup_policy(c, name=None, brands=None, dry_run=False, aws_profile=None, json_=False):
    """Create or update the least-privilege policies: staging, the archive (team, brands, owner)."""
    config = load_config()
    aws = connect_as(config, profile=aws_profile)
    iam = aws.client("iam")
    account = policy.caller_account(aws.client("sts"))
    plans = [
        policy.plan_policy(iam, account, config.storage, s) for s in _scopes(config, name, brands)
    ]
    todo = [p for p in plans if not p.nothing_to_change]
    result(
        dry_run=dry_run,
        policies=[
            {
                "name": p.scope.name,
                "arn": p.arn,
                "brands": list(p.scope.brands),
                "action": p.action,
                "plan": p.lines(),
            }
            for p in plans
        ],
        changed=0,
    )
    for plan in plans:
        for line in plan.lines():
            say(line)
    if not todo:
        say("nothing to change")
        return plans
    if dry_run:
        for plan in todo:
            _plan_block(f"document of {plan.scope.name}:", plan.document.splitlines())
        say(f"dry run: {len(todo)} policies to change, nothing changed")
        return plans
    for plan in todo:
        policy.apply_policy(iam, plan)
    result(changed=len(todo))
    say(
        f"changed {len(todo)} {'policy' if len(todo) == 1 else 'policies'}; re-checked: as intended"
    )
    return plans


# --------------------------------------------------------------------------- users and keys


def _storer(config: Config, person: str, target: keyfile.KeyTarget, written: list):
    storage = config.storage

    def store(key: keyfile.AccessKey) -> None:
        scope = policy.scope_for_user(config.team, iamuser.team_user(config.team, person))
        kf = keyfile.KeyFile(
            key,
            person,
            _profile_for(config, person),
            storage.region,
            storage.bucket,
            storage.endpoint_url,
            storage.prefix_for(scope.brands[0]),
        )
        written.append((target, target.write(kf)))

    return store


def _no_key_expected(key: keyfile.AccessKey) -> None:
    raise SafetyError("internal: a key was created that the plan did not announce; it was deleted")


def _profile_for(config: Config, person: str) -> str:
    user = config.team.user(person)
    return (user.aws_profile if user else None) or person


def _handover(written: list, person: str, replaces: str | None = None) -> None:
    """How the key reaches the person. After a rotation their profile holds the old key, so the
    import command says --replace."""
    result(
        key_stored=[
            {"profile": t.profile.profile, "path": str(path)}
            if t.profile is not None
            else {"file": str(path)}
            for t, path in written
        ]
    )
    for target, path in written:
        if target.profile is not None:
            say(f"key stored as AWS profile {target.profile.profile} in {path} (mode 0600)")
            say(
                f'on this machine, {person} sets aws_profile = "{target.profile.profile}" '
                "in their vam settings"
            )
        else:
            say(
                f"key written to {path} (mode 0600); send it to {person} over a private channel, "
                "then delete it"
            )
            flag = " --replace" if replaces else ""
            say(f"{person} runs: vam aws.import-key --file {path.name}{flag}")
    if replaces:
        say(
            f"the old key {replaces} no longer works: {person} imports the new one before "
            "their next sync"
        )


@vam_task(
    help={
        "name": "the person, as in brands.toml [users.NAME] (e.g. jan)",
        "out": "write the key to this file (mode 0600, never overwritten); default: "
        "~/.config/vam/keys/<iam user>-<key id>.toml",
        "profile": "instead of a file, store the key as this AWS profile on this machine",
        "replace": "with --profile: overwrite the key that profile holds now",
        "new_key": "create a key even though the user has one (IAM allows two)",
        "dry_run": DRY_RUN_HELP,
        "aws_profile": AWS_PROFILE_HELP,
        "json": JSON_HELP,
    }
)
def setup_user(
    c,
    name,
    out=None,
    profile=None,
    replace=False,
    new_key=False,
    dry_run=False,
    aws_profile=None,
    json_=False,
):
    """Create a person's IAM user, attach their scoped policy, hand over an access key (0600)."""
    config = load_config()
    aws = connect_as(config, profile=aws_profile)
    iam = aws.client("iam")
    account = policy.caller_account(aws.client("sts"))
    plan = iamuser.plan_user(iam, account, config.team, name, new_key=new_key)
    target = None
    lines = plan.lines()
    if plan.create_key:
        target = keyfile.key_target(plan.iam_user, out, profile, replace=replace)
        lines.append(f"the secret goes only into the {target.describe(plan.iam_user)}")
    result(
        person=name,
        iam_user=plan.iam_user,
        policy=plan.scope.name,
        plan=lines,
        dry_run=dry_run,
        changed=False,
        access_key_id=None,
    )
    _plan_block(f"{name}:", lines)
    if plan.nothing_to_change:
        say("nothing to change")
        return plan
    if dry_run:
        say("dry run: nothing changed")
        return plan
    written: list = []
    store = _storer(config, name, target, written) if target else _no_key_expected
    key = iamuser.apply_user(iam, plan, store)
    result(changed=True, access_key_id=key.access_key_id if key else None)
    say(
        f"done; re-checked: {plan.iam_user} has policy {plan.scope.name}"
        + (f" and key {key.access_key_id}" if key else "")
    )
    _handover(written, name)
    return plan


@vam_task(
    help={
        "name": "the person whose key is replaced (brands.toml [users.NAME])",
        "old_key": "the access key id to replace, when the user has two",
        "out": "write the new key to this file (mode 0600); default: ~/.config/vam/keys/",
        "profile": "instead of a file, store the new key as this AWS profile on this machine",
        "dry_run": DRY_RUN_HELP,
        "aws_profile": AWS_PROFILE_HELP,
        "json": JSON_HELP,
    }
)
def rotate_key(
    c, name, old_key=None, out=None, profile=None, dry_run=False, aws_profile=None, json_=False
):
    """Replace a person's access key: the new one is proven to work before the old one goes."""
    config = load_config()
    aws = connect_as(config, profile=aws_profile)
    iam = aws.client("iam")
    plan = iamuser.plan_rotation(iam, config.team, name, old_key)
    # rotating means replacing: a profile holding the old key may be overwritten
    target = keyfile.key_target(plan.iam_user, out, profile, replace=True)
    where = target.describe(plan.iam_user)
    lines = [*plan.lines(), f"the secret goes only into the {where}"]
    result(
        person=name,
        iam_user=plan.iam_user,
        replaces=plan.replace.id,
        plan=lines,
        dry_run=dry_run,
        new_key_id=None,
        deleted=[],
    )
    _plan_block(f"{name}:", lines)
    if dry_run:
        say("dry run: nothing changed")
        return plan
    scope = policy.scope_for_user(config.team, iamuser.team_user(config.team, name))
    prefix = config.storage.prefix_for(scope.brands[0])
    written: list = []
    rotated = iamuser.rotate(
        iam,
        plan,
        prove=lambda key: iamuser.prove_key(key, config.storage, prefix),
        store=_storer(config, name, target, written),
    )
    result(new_key_id=rotated.new_key_id, deleted=list(rotated.deleted))
    say(
        f"new key {rotated.new_key_id} works ({rotated.caller_arn}); "
        f"deleted {', '.join(rotated.deleted)}"
    )
    left = iamuser.list_keys(iam, plan.iam_user)
    result(keys=[k.id for k in left])
    say(f"re-checked: {plan.iam_user} has keys " + ", ".join(k.describe() for k in left))
    _handover(written, name, replaces=plan.replace.id)
    return rotated


@vam_task(
    help={
        "file": "the key file you were sent (…-credentials / <iam user>-<key id>.toml)",
        "profile": "store it under this AWS profile (default: the one named in the file)",
        "replace": "overwrite a profile that holds another key",
        "verify": "prove the key works against the bucket (default on; --no-verify skips)",
        "dry_run": DRY_RUN_HELP,
        "json": JSON_HELP,
    }
)
def import_key(c, file, profile=None, replace=False, verify=True, dry_run=False, json_=False):
    """Import the key file you were sent into your AWS profile and point your vam settings at it."""
    path = Path(file).expanduser()
    kf = keyfile.read_key_file(path)
    name = profile or kf.profile
    pw = keyfile.plan_profile(name)
    settings = load_settings()
    settings_path = settings.path or _settings_target()
    lines = []
    same = pw.existing_key_id == kf.key.access_key_id
    if same:
        lines.append(f"profile {name} in {pw.credentials} already holds key {kf.key.access_key_id}")
    elif pw.existing_key_id and not replace:
        raise SafetyError(
            f"profile {name} in {pw.credentials} already holds another key ({pw.existing_key_id}); "
            "add --replace to overwrite it, or choose another --profile"
        )
    else:
        lines.append(pw.line() + f", key {kf.key.access_key_id}, region {kf.region}")
    set_settings = settings.aws_profile is None
    if set_settings:
        lines.append(f'set aws_profile = "{name}" in {settings_path}')
    elif settings.aws_profile == name:
        lines.append(f"your vam settings already use profile {name}")
    result(
        person=kf.user,
        iam_user=kf.key.iam_user,
        access_key_id=kf.key.access_key_id,
        profile=name,
        credentials=str(pw.credentials),
        settings_file=str(settings_path),
        plan=lines,
        dry_run=dry_run,
        verified=None,
        stored=False,
        settings_updated=False,
    )
    _plan_block(f"import key of {kf.user} ({kf.key.iam_user}):", lines)
    if same and not set_settings:
        say("nothing to change")
        return pw
    if dry_run:
        say("dry run: nothing changed")
        return pw
    storage = Storage(bucket=kf.bucket, region=kf.region, endpoint_url=kf.endpoint_url)
    if verify:
        prefix = kf.staging_prefix
        try:  # brands.toml, when this machine has it, knows the endpoint and the person's brands
            config = load_config()
            storage = config.storage
            if not prefix:
                user = config.team.user(kf.user)
                scope = policy.scope_for(config.team, user.brands if user else None)
                prefix = storage.prefix_for(scope.brands[0])
        except VamError:
            pass  # no brands.toml here yet: the key file says enough
        arn = iamuser.prove_key(kf.key, storage, prefix or "staging/", attempts=3)
        result(verified=arn)
        say(f"the key works: {arn}")
    if not same:
        keyfile.write_profile(pw, kf.key, kf.region)
        result(stored=True)
        say(f"stored as profile {name} in {pw.credentials} (mode 0600)")
    if set_settings:
        keyfile.write_settings_profile(settings_path, name)
        result(settings_updated=True)
        say(f"your vam settings now use it: {settings_path}")
    elif settings.aws_profile != name:
        say(
            f"your vam settings use profile {settings.aws_profile!r}: "
            f'set aws_profile = "{name}" in '
            f"{settings.sources.get('aws_profile', settings_path)} to use this key"
        )
    say(f"you can delete {path} now; then run `vam aws.check`")
    return pw


def _settings_target() -> Path:
    return default_settings_path(os.environ)


# --------------------------------------------------------------------------- check


@vam_task(
    help={
        "brand": "probe only this brand's staging (default: every brand you work on)",
        "aws_profile": AWS_PROFILE_HELP,
        "json": JSON_HELP,
    }
)
def check(c, brand=None, aws_profile=None, json_=False):
    """With your credentials: probe staging and the archive, compare the bucket's settings."""
    config = load_config()
    aws = connect_as(config, profile=aws_profile)
    s3 = aws.client("s3")
    me = config.team.user(config.settings.user or "")
    if brand:
        from vam.core.projects import find_brand

        brands = [find_brand(config, brand).key]
    else:
        brands = list(policy.scope_for(config.team, me.brands if me else None).brands)
    result(bucket=config.storage.bucket, brands=brands, profile=aws.profile)
    checks = [awscheck.check_bucket(s3, config.storage, aws.profile)]
    if checks[0].ok:
        staging = [awscheck.probe_staging(s3, config.storage, b, aws.profile) for b in brands]
        checks += staging
        owner = me is not None and me.role == policy.OWNER_ROLE
        checks += [
            awscheck.probe_archive(s3, config.storage, b, owner=owner, profile=aws.profile)
            for b in brands
        ]
        writable = [b for b, probed in zip(brands, staging, strict=True) if probed.ok]
        if writable:  # probed where these credentials may write
            checks.append(awscheck.check_conditional_writes(s3, config.storage, writable[0]))
        checks += awscheck.check_bucket_settings(s3, config.storage, aws.profile)
    report_checks(checks)
    return checks
