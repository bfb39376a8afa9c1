"""`doctor`: the settings in effect and one ✓/✗ line per thing vam needs, each ✗ with its fix."""

from __future__ import annotations

import os
from pathlib import Path

from vam.aws.check import check_accelerate, check_bucket, check_conditional_writes
from vam.aws.client import connect_as, explain
from vam.core.checks import Check
from vam.core.config import Config
from vam.core.errors import ConfigError, VamError
from vam.core.people import nearest_user, require_user, unknown_user, user_source
from vam.core.projects import (
    Brand,
    brand_repo,
    projects_root,
    settings_for_brand,
    ssd_mounted,
    ssd_path,
)
from vam.core.settings import Settings, ssd_setting_hint
from vam.core.units import SLOW_RATE, format_duration, format_size


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
        _accelerate_line(config),
        _ssd_line(s),
        f"max rate       {_rate(s.max_rate)}",
        f"webhook        {'set' if s.webhook_url else 'none'}",
    ]
    if brand is not None:
        staging = config.storage.prefix_for(brand.key)
        lines.append(f"brand          {brand.key} ({brand.name}), staging {staging}")
    return lines


def _accelerate_line(config: Config) -> str:
    """S3 Transfer Acceleration: asked for in brands.toml, and whether transfers use it."""
    if not config.storage.accelerate:
        return "acceleration   off (accelerate = true under [storage] turns it on, AWS only)"
    if os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"):
        return "acceleration   asked for, not used: $AWS_ENDPOINT_URL points transfers elsewhere"
    return f"acceleration   on: transfers use {config.storage.bucket}.s3-accelerate.amazonaws.com"


def _ssd_line(s: Settings) -> str:
    if s.ssd_root is not None:
        extra = f" (+ [ssd] folders for {', '.join(s.ssd_brands)})" if s.ssd_brands else ""
        return f"SSD root       {s.ssd_root}{extra}"
    if s.ssd_brands:
        return f"SSD            [ssd] folders for {', '.join(s.ssd_brands)}; no ssd_root"
    # not an error: an editor (Jan) needs no archive SSD; the SSD tasks say the same when run
    return f"SSD            no SSD configured; to archive to one, {ssd_setting_hint(s)}"


def _rate(rate: int | None) -> str:
    if rate is None:
        return "no cap"
    slow = rate < SLOW_RATE
    return f"{format_size(rate)}/s" + (
        f"  (under 64 KB/s: 1 GB takes {format_duration(1e9 / rate)})" if slow else ""
    )


def run_checks(
    config: Config, brands: list[Brand], *, cwd: Path | None = None, network: bool = True
) -> list[Check]:
    checks = [
        Check(True, "brands.toml valid", f"{config.team.path} ({len(config.team.brands)} brands)")
    ]
    checks.append(user_check(config))
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
        if ssd is not None:  # none configured: the settings above say so and what to set
            checks.append(
                Check(
                    ssd_mounted(settings, brand),
                    f"SSD for {brand.key}",
                    str(ssd),
                    "plug in and mount the SSD, or fix ssd_root in your settings",
                )
            )
    if network:
        me = config.team.user(config.settings.user or "")
        # probe under a brand this person may write to (a client may work on one brand only)
        mine = [b.key for b in brands if me is None or me.brands is None or b.key in me.brands]
        checks.extend(aws_checks(config, settings, (mine or [None])[0]))
    return checks


def user_check(config: Config) -> Check:
    """Set, a name S3 can keep, and one of brands.toml's [users] (when it lists any)."""
    settings = config.settings
    user = settings.user
    if not user:
        fix = 'set user = "yourname" in your settings file or VAM_USER'
        return Check(False, "user known", "not set", fix)
    try:
        require_user(settings, config.team)
    except ConfigError as exc:
        unknown = unknown_user(user, config.team)
        if unknown is None:
            return Check(False, "user known", str(exc))  # the message says the fix
        near = nearest_user(user, config.team)
        if near is None:
            fix = f"fix user ({user_source(settings)}), or add [users.{user}] to {config.team.path}"
        elif settings.sources.get("user") == "$VAM_USER":
            fix = f"set VAM_USER={near}"
        else:
            fix = f'set user = "{near}" in {settings.path or "your settings file"}'
        return Check(False, "user known", unknown, fix)
    return Check(True, "user known", user)


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
    if checks[-1].ok and storage.accelerate:
        checks.append(check_accelerate(s3, storage))
    if checks[-1].ok and brand is not None:
        # whether If-Match / If-None-Match protect anything on this server (and remember it)
        checks.append(check_conditional_writes(s3, storage, brand))
    return checks
