"""`doctor`: the settings in effect and one ✓/✗ line per thing vam needs, each ✗ with its fix."""

from __future__ import annotations

from pathlib import Path

from vam.awscheck import check_bucket, check_conditional_writes
from vam.awsclient import connect_as, explain
from vam.checks import Check
from vam.config import Config
from vam.errors import VamError
from vam.projects import (
    Brand,
    brand_repo,
    projects_root,
    settings_for_brand,
    ssd_mounted,
    ssd_path,
)


def settings_lines(config: Config, brand: Brand | None) -> list[str]:
    """The settings in effect, never a secret."""
    s = config.settings
    lines = [
        f"brands.toml    {config.team.path}  ({config.brands_source})",
        f"settings file  {s.path or 'none (defaults and env only)'}",
        f"user           {s.user or '-'}",
        f"projects root  {s.projects_root or '(inferred)'}",
        f"AWS profile    {s.aws_profile or '(default chain)'}",
        f"bucket         {config.storage.bucket} in {config.storage.region}"
        + (f" at {config.storage.endpoint_url}" if config.storage.endpoint_url else ""),
        f"max rate       {f'{s.max_rate} B/s' if s.max_rate else 'no cap'}",
        f"webhook        {'set' if s.webhook_url else 'none'}",
    ]
    if brand is not None:
        staging = config.storage.prefix_for(brand.key)
        lines.append(f"brand          {brand.key} ({brand.name}), staging {staging}")
    return lines


def run_checks(
    config: Config, brands: list[Brand], *, cwd: Path | None = None, network: bool = True
) -> list[Check]:
    checks = [
        Check(True, "brands.toml valid", f"{config.team.path} ({len(config.team.brands)} brands)")
    ]
    user = config.settings.user
    checks.append(
        Check(
            bool(user),
            "user known",
            user or "not set",
            'set user = "yourname" in your settings file or VAM_USER',
        )
    )
    try:
        root = projects_root(config, cwd)
        checks.append(Check(True, "projects root", str(root)))
    except VamError as exc:
        checks.append(Check(False, "projects root", str(exc)))  # the message says the fix
        root = None
    settings = config.settings
    for brand in brands:
        if root is not None:
            repo = brand_repo(root, brand)
            checks.append(
                Check(
                    repo.is_dir(),
                    f"brand repo {brand.key}",
                    str(repo),
                    f"clone the brand repo into {repo}",
                )
            )
            settings = settings_for_brand(config, root, brand)
        ssd = ssd_path(settings, brand)
        if ssd is None:
            checks.append(
                Check(
                    False,
                    f"SSD for {brand.key}",
                    "no SSD configured",
                    "set ssd_root in your settings (e.g. /Volumes/T7/youtube-PUBLISHED)",
                )
            )
        else:
            checks.append(
                Check(
                    ssd_mounted(settings, brand),
                    f"SSD for {brand.key}",
                    str(ssd),
                    "plug in and mount the SSD, or fix ssd_root in your settings",
                )
            )
    if network:
        me = config.team.user(user or "")
        # probe under a brand this person may write to (a client may work on one brand only)
        mine = [b.key for b in brands if me is None or me.brands is None or b.key in me.brands]
        checks.extend(aws_checks(config, settings, (mine or [None])[0]))
    return checks


def aws_checks(config: Config, settings, brand: str | None = None) -> list[Check]:
    storage = config.storage
    try:
        aws = connect_as(config, settings)
    except VamError as exc:
        return [Check(False, "AWS credentials", str(exc))]
    profile = aws.profile or "default chain"
    creds = aws.session.get_credentials()
    if creds is None:
        return [
            Check(
                False,
                "AWS credentials",
                f"none found ({profile})",
                "set aws_profile in your settings, run `aws configure` or `aws sso login`",
            )
        ]
    checks = []
    try:
        ident = aws.client("sts").get_caller_identity()
        checks.append(Check(True, "AWS credentials", f"{profile}, account {ident.get('Account')}"))
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        err = explain(exc, profile=aws.profile)
        checks.append(Check(False, "AWS credentials", f"{profile}: {err or exc}"))
        return checks
    # GetBucketLocation, not HeadBucket: on real AWS HeadBucket needs an unscoped s3:ListBucket,
    # which a prefix-scoped editor (Jan, a client) does not have
    s3 = aws.client("s3")
    checks.append(check_bucket(s3, storage, aws.profile))
    if checks[-1].ok and brand is not None:
        # whether If-Match / If-None-Match protect anything on this server (and remember it)
        checks.append(check_conditional_writes(s3, storage, brand))
    return checks
