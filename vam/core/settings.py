"""One person's settings (never in brands.toml, never committed): ~/.config/vam/settings.toml or
$VAM_SETTINGS, then environment overrides, then a legacy `.video-tools.env` in a brand repo as a
fallback. Each value remembers where it came from (for `doctor`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vam.core.errors import ConfigError
from vam.core.layout import LEGACY_ENV_FILE
from vam.core.tomltable import Table, located, misplaced, read_toml
from vam.core.units import parse_rate


@dataclass(frozen=True)
class Settings:
    """One person's settings. Never in brands.toml, never committed."""

    path: Path | None  # the settings file read, or None when there was none
    user: str | None = None
    projects_root: Path | None = None
    ssd_root: Path | None = None
    ssd_brands: Mapping[str, Path] = field(default_factory=dict)  # per-brand SSD folder overrides
    aws_profile: str | None = None
    max_rate: int | None = None  # bytes per second
    webhook_url: str | None = None
    brands_file: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  # key -> where its value came from


EXAMPLE_SSD_ROOT = "/Volumes/T7/youtube-PUBLISHED"


def ssd_setting_hint(settings: Settings, brand_key: str = "BRAND") -> str:
    """What to write, and where, to give vam an archive SSD (doctor, manifest)."""
    where = settings.path or "~/.config/vam/settings.toml"
    return f'set ssd_root = "{EXAMPLE_SSD_ROOT}" (or [ssd] {brand_key} = "…") in {where}'


SETTINGS_KEYS = {
    "user",
    "projects_root",
    "ssd_root",
    "ssd",
    "aws_profile",
    "max_rate",
    "webhook_url",
    "brands_file",
}


def default_settings_path(env: Mapping[str, str]) -> Path:
    if env.get("VAM_SETTINGS"):
        return Path(env["VAM_SETTINGS"]).expanduser()
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    return home / ".config" / "vam" / "settings.toml"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The person's settings: file, then env overrides (env wins)."""
    env = os.environ if env is None else env
    path = default_settings_path(env)
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if path.exists():
        data = read_toml(path, "settings file")
        for table, value in data.items():
            for key in value if isinstance(value, dict) else ():
                if key in SETTINGS_KEYS and key != table:  # `user` below [ssd] is ssd.user to TOML
                    raise misplaced(path, table, key, "move it above the first [table]")
        Table(path, "", data, SETTINGS_KEYS)
        sources = {k: str(path) for k in data}
    elif env.get("VAM_SETTINGS"):
        raise ConfigError(
            f"settings file not found: {path} (from VAM_SETTINGS); create it or unset VAM_SETTINGS"
        )
    table = Table(path, "", data, SETTINGS_KEYS)

    def pick(key: str, env_name: str, kind=str):
        if env.get(env_name):
            sources[key] = f"${env_name}"
            return env[env_name]
        return table.get(key, kind)

    ssd_brands: dict[str, Path] = {}
    ssd_table = table.get("ssd", dict, {})
    for brand_key, folder in ssd_table.items():
        if not isinstance(folder, str):
            raise ConfigError(f"{located(path, 'ssd')}: ssd.{brand_key} must be a folder path")
        ssd_brands[brand_key] = Path(folder).expanduser()

    rate_raw = pick("max_rate", "VAM_MAX_RATE", (str, int))
    projects_root = pick("projects_root", "VAM_PROJECTS_ROOT")
    ssd_root = pick("ssd_root", "VAM_SSD_ROOT")
    brands_file = table.get("brands_file", str)
    return Settings(
        path=path if path.exists() else None,
        user=pick("user", "VAM_USER"),
        projects_root=Path(projects_root).expanduser() if projects_root else None,
        ssd_root=Path(ssd_root).expanduser() if ssd_root else None,
        ssd_brands=ssd_brands,
        aws_profile=pick("aws_profile", "AWS_PROFILE"),
        max_rate=parse_rate(
            rate_raw,
            where="$VAM_MAX_RATE"
            if sources.get("max_rate") == "$VAM_MAX_RATE"
            else f"{located(path, 'max_rate')}: max_rate",
        ),
        webhook_url=pick("webhook_url", "VAM_WEBHOOK_URL"),
        brands_file=Path(brands_file).expanduser() if brands_file else None,
        sources=sources,
    )


def read_legacy_env(repo: Path) -> dict[str, str]:
    """KEY=value lines of a brand repo's legacy `.video-tools.env` (comments, quotes, export ok)."""
    path = repo / LEGACY_ENV_FILE
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def with_legacy_fallback(settings: Settings, legacy: Mapping[str, str], brand_key: str) -> Settings:
    """Fill what the person's settings leave open from a brand repo's legacy env file."""
    changes: dict[str, Any] = {}
    sources = dict(settings.sources)
    if not settings.user and legacy.get("S3_SYNC_USER"):
        changes["user"] = legacy["S3_SYNC_USER"]
        sources["user"] = LEGACY_ENV_FILE
    if not settings.aws_profile and legacy.get("AWS_PROFILE"):
        changes["aws_profile"] = legacy["AWS_PROFILE"]
        sources["aws_profile"] = LEGACY_ENV_FILE
    if brand_key not in settings.ssd_brands and legacy.get("SSD_BASE"):
        changes["ssd_brands"] = {**settings.ssd_brands, brand_key: Path(legacy["SSD_BASE"])}
        sources[f"ssd.{brand_key}"] = LEGACY_ENV_FILE
    if not changes:
        return settings
    return dataclasses.replace(settings, sources=sources, **changes)
