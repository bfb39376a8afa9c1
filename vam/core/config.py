"""Everything a task needs to know before touching disk or network: the person's settings and the
team's brands.toml, found in this order (SPEC §3): $VAM_BRANDS, `brands_file` in the settings,
the nearest brands.toml walking up from the current folder, the checkout vam runs from.

Every problem is a ConfigError naming the file, the key (and line when we can find it) and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vam.core.errors import ConfigError
from vam.core.settings import Settings, load_settings
from vam.core.team import Storage, Team, parse_team
from vam.core.tomltable import located

CHECKOUT = Path(__file__).resolve().parents[2]  # vam/core/config.py -> the checkout


def find_brands_file(
    settings: Settings, cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[Path, str]:
    """Where brands.toml is, and why that one (for `doctor`)."""
    env = os.environ if env is None else env
    if env.get("VAM_BRANDS"):
        path = Path(env["VAM_BRANDS"]).expanduser()
        if not path.is_file():
            raise ConfigError(f"brands.toml not found at {path} (from VAM_BRANDS); fix or unset it")
        return path, "$VAM_BRANDS"
    if settings.brands_file:
        if not settings.brands_file.is_file():
            raise ConfigError(
                f"{located(settings.path, 'brands_file') if settings.path else 'settings'}: "
                f"brands_file {settings.brands_file} does not exist; fix the path"
            )
        return settings.brands_file, f"brands_file in {settings.path}"
    for folder in (cwd, *cwd.parents):
        candidate = folder / "brands.toml"
        if candidate.is_file():
            return candidate, "nearest brands.toml above the current folder"
        # a brand repo sits beside the vam checkout: video-projects/{v-appydave, vam/brands.toml}
        sibling = folder / "vam" / "brands.toml"
        if sibling.is_file():
            return sibling, "vam/brands.toml in a folder above the current one"
    if (CHECKOUT / "brands.toml").is_file():
        return CHECKOUT / "brands.toml", "the vam checkout"
    raise ConfigError(
        "no brands.toml found: set VAM_BRANDS, brands_file in your settings, or run inside the "
        "projects root"
    )


@dataclass(frozen=True)
class Config:
    """Everything a task needs to know before touching disk or network."""

    team: Team
    settings: Settings
    brands_source: str

    @property
    def storage(self) -> Storage:
        return self.team.storage


def load_config(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    settings = load_settings(env)
    path, why = find_brands_file(settings, cwd, env)
    return Config(team=parse_team(path), settings=settings, brands_source=why)
