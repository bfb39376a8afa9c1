"""brands.toml, the team's file (committed): the storage, the brands and the people, validated
into frozen values (SPEC §3). Every mistake names the file, the key, its line and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vam.core.errors import ConfigError
from vam.core.files import FileRules
from vam.core.layout import PARTIAL_SUFFIX, STATE_DIR
from vam.core.tomltable import Table, closest, located, read_toml

WORKFLOWS = ("flivideo", "storyline")
DEFAULT_ID_PATTERNS = {
    # b65-guy-monroe-marketing-plan, or a legacy 006-ac-carnivore-90
    "flivideo": r"^(?:[a-z]\d{2}|\d{3})-[a-z0-9]+(?:-[a-z0-9]+)*$",
    # any kebab name: boy-baker
    "storyline": r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
}
# the S3 storage classes the off-site archive may use (vam/archive/classes.py has their costs)
ARCHIVE_CLASSES = ("DEEP_ARCHIVE", "GLACIER", "GLACIER_IR", "STANDARD_IA")


@dataclass(frozen=True)
class Storage:
    bucket: str
    region: str
    endpoint_url: str | None = None
    staging_prefix: str = "staging/v-{brand}/"
    staging_days: int = 90
    noncurrent_days: int = 14
    abort_multipart_days: int = 7
    accelerate: bool = False  # S3 Transfer Acceleration (AWS only): bucket setting + endpoint
    archive_prefix: str = "archive/v-{brand}/"
    archive_class: str = "DEEP_ARCHIVE"

    def prefix_for(self, brand_key: str) -> str:
        """S3 key prefix of a brand's staging area, always ending in '/'."""
        prefix = self.staging_prefix.format(brand=brand_key)
        return prefix if prefix.endswith("/") else prefix + "/"

    def archive_prefix_for(self, brand_key: str) -> str:
        """S3 key prefix of a brand's off-site archive, always ending in '/'."""
        prefix = self.archive_prefix.format(brand=brand_key)
        return prefix if prefix.endswith("/") else prefix + "/"


def fixed_root(template: str) -> str:
    """The fixed folder before `{brand}` in a prefix template: `staging/v-{brand}/` -> `staging/`
    ('' when the template starts with the brand)."""
    head = template.split("{brand}", 1)[0]
    return head[: head.rfind("/") + 1]


@dataclass(frozen=True)
class Brand:
    key: str
    name: str
    repo: str
    workflow: str = "flivideo"
    shortcut: str | None = None
    id_pattern: str = DEFAULT_ID_PATTERNS["flivideo"]
    ssd_folder: str = ""
    projects_dir: str = ""  # subfolder of the repo holding the projects ("projects" for some)
    members: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """Every name a person may use for this brand."""
        return tuple(n for n in (self.key, self.shortcut, self.repo, self.name) if n)

    def is_valid_id(self, project_id: str) -> bool:
        return re.match(self.id_pattern, project_id) is not None


@dataclass(frozen=True)
class TeamUser:
    name: str
    role: str = "editor"
    aws_profile: str | None = None
    brands: tuple[str, ...] | None = None  # None: every brand
    iam_user: str | None = None


@dataclass(frozen=True)
class Team:
    """What brands.toml says: the storage, the brands, the people."""

    path: Path
    storage: Storage
    brands: tuple[Brand, ...]
    users: tuple[TeamUser, ...] = ()
    files: FileRules = field(default_factory=FileRules)

    def user(self, name: str) -> TeamUser | None:
        return next((u for u in self.users if u.name == name), None)


# --------------------------------------------------------------------------- parsing


STORAGE_KEYS = {
    "bucket",
    "region",
    "endpoint_url",
    "staging_prefix",
    "staging_days",
    "noncurrent_days",
    "abort_multipart_days",
    "accelerate",
    "archive_prefix",
    "archive_class",
}
FILES_KEYS = {"heavy_extensions", "light_extensions", "heavy_min_mb", "exclude"}
BRAND_KEYS = {
    "name",
    "shortcut",
    "repo",
    "workflow",
    "id_pattern",
    "ssd_folder",
    "projects_dir",
    "members",
}
USER_KEYS = {"role", "aws_profile", "brands", "iam_user"}
# keys with one home in brands.toml, so one written below another table is recognised as such
_TEAM_HOMES = {**dict.fromkeys(STORAGE_KEYS, "storage"), **dict.fromkeys(FILES_KEYS, "files")}


def parse_team(path: Path) -> Team:
    data = read_toml(path, "brands.toml")
    top = Table(path, "", data, {"storage", "files", "brands", "users"}, _TEAM_HOMES)

    st = Table(path, "storage", top.get("storage", dict, required=True), STORAGE_KEYS, _TEAM_HOMES)
    prefix = st.get("staging_prefix", str, "staging/v-{brand}/")
    if "{brand}" not in prefix:
        raise ConfigError(
            f"{located(path, 'storage.staging_prefix')}: staging_prefix must contain {{brand}}, "
            f"e.g. 'staging/v-{{brand}}/'"
        )
    storage = Storage(
        bucket=st.get("bucket", str, required=True),
        region=st.get("region", str, required=True),
        endpoint_url=st.get("endpoint_url", str) or None,
        staging_prefix=prefix,
        staging_days=st.get("staging_days", int, 90),
        noncurrent_days=st.get("noncurrent_days", int, 14),
        abort_multipart_days=st.get("abort_multipart_days", int, 7),
        accelerate=st.get("accelerate", bool, False),
        **_archive_keys(path, st, prefix),
    )
    if storage.accelerate:
        _check_accelerate(path, storage)
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", storage.bucket):
        raise ConfigError(
            f"{located(path, 'storage.bucket')}: {storage.bucket!r} is not a valid S3 bucket name "
            "(3-63 lowercase letters, digits, dots, dashes)"
        )

    files = FileRules()
    if "files" in data:
        ft = Table(path, "files", data["files"], FILES_KEYS, _TEAM_HOMES)
        files = FileRules(
            heavy_extensions=tuple(
                e.lower().lstrip(".")
                for e in ft.str_list("heavy_extensions", files.heavy_extensions)
            ),
            light_extensions=tuple(
                e.lower().lstrip(".")
                for e in ft.str_list("light_extensions", files.light_extensions)
            ),
            heavy_min_bytes=int(ft.get("heavy_min_mb", (int, float), 100) * 1000 * 1000),
            # the tool's own state files are always excluded, whatever the list says
            exclude=tuple(
                dict.fromkeys(ft.str_list("exclude", ()) + (STATE_DIR, f"*{PARTIAL_SUFFIX}"))
            ),
        )

    brands_data = top.get("brands", dict, required=True)
    if not brands_data:
        raise ConfigError(f"{path}: no brands; add at least one [brands.NAME] table")
    brands = []
    for key, raw in brands_data.items():
        brands.append(_parse_brand(path, key, raw))
    _check_unique_names(path, brands)

    users = []
    for name, raw in top.get("users", dict, {}).items():
        ut = Table(path, f"users.{name}", raw, USER_KEYS, _TEAM_HOMES)
        user_brands = ut.str_list("brands", None)
        if user_brands is not None:
            known = {b.key for b in brands}
            for b in user_brands:
                if b not in known:
                    hint = closest(b, known)
                    raise ConfigError(
                        f"{located(path, f'users.{name}')}: users.{name}.brands names unknown "
                        f"brand {b!r}" + (f"; did you mean {hint!r}?" if hint else "")
                    )
        users.append(
            TeamUser(
                name=name,
                role=ut.get("role", str, "editor"),
                aws_profile=ut.get("aws_profile", str),
                brands=user_brands,
                iam_user=ut.get("iam_user", str),
            )
        )
    return Team(path=path, storage=storage, brands=tuple(brands), users=tuple(users), files=files)


def is_aws_endpoint(url: str) -> bool:
    """An endpoint of AWS's own S3 (s3.amazonaws.com, s3.<region>.amazonaws.com, …)."""
    host = (urlsplit(url).hostname or "").lower()
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn")) or host == "amazonaws.com"


def _check_accelerate(path: Path, storage: Storage) -> None:
    """S3 Transfer Acceleration exists only on AWS, for bucket names without dots."""
    if storage.endpoint_url and not is_aws_endpoint(storage.endpoint_url):
        raise ConfigError(
            f"{located(path, 'storage.accelerate')}: accelerate = true needs AWS's S3, but "
            f"endpoint_url is {storage.endpoint_url} (S3 Transfer Acceleration is an AWS "
            "feature); remove accelerate, or endpoint_url to use AWS"
        )
    if "." in storage.bucket:
        raise ConfigError(
            f"{located(path, 'storage.accelerate')}: S3 Transfer Acceleration does not work "
            f"with a bucket name containing dots ({storage.bucket}); remove accelerate or use a "
            "bucket name without dots"
        )


def _archive_keys(path: Path, st: Table, staging_prefix: str) -> dict[str, str]:
    """archive_prefix and archive_class, checked: the archive must lie outside the staging area
    (whose lifecycle rule expires everything under it) and use a class vam knows."""
    prefix = st.get("archive_prefix", str, "archive/v-{brand}/")
    where = located(path, "storage.archive_prefix")
    if "{brand}" not in prefix:
        raise ConfigError(
            f"{where}: archive_prefix must contain {{brand}}, e.g. 'archive/v-{{brand}}/'"
        )
    root, staging_root = fixed_root(prefix), fixed_root(staging_prefix)
    if not root:
        raise ConfigError(
            f"{where}: archive_prefix {prefix!r} needs a fixed folder before {{brand}} (the "
            "lifecycle keeps that folder's old versions longer), e.g. 'archive/v-{brand}/'"
        )
    if staging_root and (root.startswith(staging_root) or staging_root.startswith(root)):
        raise ConfigError(
            f"{where}: archive_prefix {prefix!r} overlaps the staging area ({staging_root}), "
            f"whose lifecycle rule deletes everything under it; use e.g. 'archive/v-{{brand}}/'"
        )
    klass = st.get("archive_class", str, "DEEP_ARCHIVE")
    if klass.upper() not in ARCHIVE_CLASSES:
        raise ConfigError(
            f"{located(path, 'storage.archive_class')}: archive_class is {klass!r}; use one of "
            f"{', '.join(ARCHIVE_CLASSES)}"
        )
    return {"archive_prefix": prefix, "archive_class": klass.upper()}


def _parse_brand(path: Path, key: str, raw: Any) -> Brand:
    bt = Table(path, f"brands.{key}", raw, BRAND_KEYS, _TEAM_HOMES)
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", key):
        raise ConfigError(
            f"{located(path, f'brands.{key}')}: brand key {key!r} must be lowercase kebab-case"
        )
    workflow = bt.get("workflow", str, "flivideo")
    if workflow not in WORKFLOWS:
        raise ConfigError(
            f"{located(path, f'brands.{key}.workflow')}: brands.{key}.workflow is {workflow!r}; "
            f"use one of {', '.join(WORKFLOWS)}"
        )
    id_pattern = bt.get("id_pattern", str, DEFAULT_ID_PATTERNS[workflow])
    try:
        re.compile(id_pattern)
    except re.error as exc:
        raise ConfigError(
            f"{located(path, f'brands.{key}.id_pattern')}: brands.{key}.id_pattern is not a valid "
            f"regular expression ({exc})"
        ) from None
    return Brand(
        key=key,
        name=bt.get("name", str, key),
        repo=bt.get("repo", str, f"v-{key}"),
        workflow=workflow,
        shortcut=bt.get("shortcut", str),
        id_pattern=id_pattern,
        ssd_folder=bt.get("ssd_folder", str, key),
        projects_dir=bt.get("projects_dir", str, ""),
        members=bt.str_list("members", ()),
    )


def _check_unique_names(path: Path, brands: list[Brand]) -> None:
    seen: dict[str, str] = {}
    for brand in brands:
        for name in {n.lower() for n in brand.names()}:
            other = seen.get(name)
            if other and other != brand.key:
                raise ConfigError(
                    f"{located(path, f'brands.{brand.key}')}: {name!r} names both brands {other!r} "
                    f"and {brand.key!r}; give each a different shortcut/repo"
                )
            seen[name] = brand.key
