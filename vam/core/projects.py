"""Brands and projects on disk (SPEC §2): finding the projects root, resolving a brand by any of its
names, a project by exact name or short id, and both from the current directory.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vam.core.config import CHECKOUT, Config
from vam.core.errors import ConfigError, NotFoundError, UsageError
from vam.core.layout import ARCHIVED, STAGING
from vam.core.ranges import parse_range
from vam.core.settings import Settings, read_legacy_env, with_legacy_fallback
from vam.core.team import Brand

# folders at the top of a brand repo that are never projects
_NOT_PROJECTS = {ARCHIVED, "node_modules", "data", "docs", "scripts", "tools", "projects"}


@dataclass(frozen=True)
class Project:
    brand: Brand
    id: str
    path: Path  # the project folder (may not exist yet, e.g. only in S3)
    structure: str = "flat"  # flat | archived | remote

    @property
    def staging(self) -> Path:
        return self.path / STAGING


# --------------------------------------------------------------------------- brands


def suggest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(word.lower(), sorted(set(candidates)), n=n, cutoff=0.5)


def folder_name(query: str) -> str:
    """The name a person meant when they typed a folder: tab completion adds a trailing `/`
    (`\\` on Windows), some paste `./b65-…` or a whole path. Names never contain separators."""
    cleaned = query.strip().replace("\\", "/").rstrip("/")
    return cleaned.rsplit("/", 1)[-1] if cleaned else query.strip()


def find_brand(config: Config, query: str) -> Brand:
    """By key, shortcut, repo folder or display name, case-insensitive; typos get a suggestion."""
    q = folder_name(query).lower()
    for brand in config.team.brands:
        if q in {n.lower() for n in brand.names()}:
            return brand
    keys = [b.key for b in config.team.brands]
    near = suggest(q, [n.lower() for b in config.team.brands for n in b.names()])
    near_keys = list(
        dict.fromkeys(
            b.key for n in near for b in config.team.brands if n in {x.lower() for x in b.names()}
        )
    )
    hint = f"did you mean {' or '.join(near_keys)}? " if near_keys else ""
    raise NotFoundError(
        f"unknown brand {query!r} in {config.team.path}; {hint}known brands: {', '.join(keys)}"
    )


# --------------------------------------------------------------------------- projects root


def projects_root(config: Config, cwd: Path | None = None) -> Path:
    """The folder holding the brand repos (v-appydave, …)."""
    root = config.settings.projects_root
    if root is not None:
        if not root.is_dir():
            where = config.settings.sources.get("projects_root", "settings")
            raise ConfigError(
                f"projects root {root} (from {where}) does not exist; fix projects_root or mount it"
            )
        return root
    cwd = Path.cwd() if cwd is None else cwd
    repos = {b.repo.lower() for b in config.team.brands}
    for folder in (cwd, *cwd.parents):
        if folder.name.lower() in repos:
            return folder.parent
    for candidate in (config.team.path.parent.parent, CHECKOUT.parent):
        if _holds_brand_repos(candidate):
            return candidate
    raise ConfigError(
        "projects root unknown: set projects_root in your settings file "
        f"({config.settings.path or '~/.config/vam/settings.toml'}) or VAM_PROJECTS_ROOT"
    )


def _holds_brand_repos(folder: Path) -> bool:
    try:
        return any(p.is_dir() and p.name.startswith("v-") for p in folder.iterdir())
    except OSError:
        return False


def brand_repo(root: Path, brand: Brand) -> Path:
    """The brand's git repo; on case-insensitive disks and for Jan's habits, match names loosely."""
    exact = root / brand.repo
    if exact.is_dir():
        return exact
    try:
        for entry in root.iterdir():
            if entry.name.lower() == brand.repo.lower() and entry.is_dir():
                return entry
    except OSError:
        pass
    return exact


def projects_dir(root: Path, brand: Brand) -> Path:
    repo = brand_repo(root, brand)
    return repo / brand.projects_dir if brand.projects_dir else repo


def settings_for_brand(config: Config, root: Path, brand: Brand) -> Settings:
    """The person's settings with the brand repo's legacy `.video-tools.env` as a fallback."""
    return with_legacy_fallback(
        config.settings, read_legacy_env(brand_repo(root, brand)), brand.key
    )


def ssd_path(settings: Settings, brand: Brand) -> Path | None:
    """Where this brand's archive lives on the SSD (may not be mounted)."""
    if brand.key in settings.ssd_brands:
        return settings.ssd_brands[brand.key]
    if settings.ssd_root is not None:
        return settings.ssd_root / (brand.ssd_folder or brand.key)
    return None


def ssd_mounted(settings: Settings, brand: Brand) -> bool:
    """The SSD counts as mounted when the folder above the brand's archive folder exists."""
    path = ssd_path(settings, brand)
    return path is not None and path.parent.is_dir()


# --------------------------------------------------------------------------- listing projects


def list_active(root: Path, brand: Brand) -> list[Project]:
    """Flat projects of a brand: folders directly in the projects folder."""
    folder = projects_dir(root, brand)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    return [
        Project(brand, e.name, Path(e.path), "flat")
        for e in entries
        if e.is_dir() and not e.name.startswith((".", "_")) and e.name.lower() not in _NOT_PROJECTS
    ]


def list_archived(root: Path, brand: Brand) -> list[Project]:
    """Projects under archived/{range}/{id}/ (and archived/{id}/ for ids without a range)."""
    folder = projects_dir(root, brand) / ARCHIVED
    found: list[Project] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        if parse_range(entry.name):
            for sub in sorted(os.scandir(entry.path), key=lambda e: e.name):
                if sub.is_dir() and not sub.name.startswith("."):
                    found.append(Project(brand, sub.name, Path(sub.path), "archived"))
        else:
            found.append(Project(brand, entry.name, Path(entry.path), "archived"))
    return found


def resolve_name(query: str, names: Sequence[str], *, brand: Brand) -> str:
    """A project name by exact name or short id (`b65` -> the one `b65-…`). Pure."""
    query = folder_name(query)
    if query in names:
        return query
    lowered = {n.lower(): n for n in names}
    if query.lower() in lowered:
        return lowered[query.lower()]
    prefix = query.lower().rstrip("-") + "-"
    matches = sorted(n for n in names if n.lower().startswith(prefix))
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UsageError(
            f"project {query!r} is ambiguous in brand {brand.key}: {', '.join(matches)}; "
            "give more of the name"
        )
    near = (
        suggest(query, names)
        or sorted(n for n in names if n.lower().startswith(query[:1].lower()))[:3]
    )
    if near:
        hint = f"closest: {', '.join(near)}"
    elif names:
        listed = ", ".join(sorted(names)[:5]) + (", …" if len(names) > 5 else "")
        hint = f"its {len(names)} project(s): {listed}"
    else:
        hint = "it has no projects yet"
    raise NotFoundError(f"no project {query!r} in brand {brand.key}; {hint}")


def find_project(
    root: Path,
    brand: Brand,
    query: str,
    *,
    include_archived: bool = False,
    remote_ids: Iterable[str] = (),
) -> Project:
    """Resolve a project among the active ones (and archived / remote-only ones when asked).

    A project that exists only in S3 (Jan has not downloaded it yet) resolves to the folder it will
    have in the projects folder, with structure 'remote'.
    """
    candidates: dict[str, Project] = {}
    for project in reversed(list_archived(root, brand)) if include_archived else ():
        candidates.setdefault(project.id, project)
    for project in list_active(root, brand):  # active wins over archived
        candidates[project.id] = project
    for rid in remote_ids:
        candidates.setdefault(rid, Project(brand, rid, projects_dir(root, brand) / rid, "remote"))
    name = resolve_name(query, sorted(candidates), brand=brand)
    return candidates[name]


# --------------------------------------------------------------------------- the current directory


@dataclass(frozen=True)
class Location:
    brand: Brand | None = None
    project_id: str | None = None


def infer_location(config: Config, cwd: Path) -> Location:
    """Brand and project from the current directory: inside v-appydave/b65-…/ both are known."""
    by_repo = {b.repo.lower(): b for b in config.team.brands}
    cwd = Path(os.path.abspath(cwd))
    for folder in (cwd, *cwd.parents):
        brand = by_repo.get(folder.name.lower())
        if brand is None:
            continue
        parts = cwd.relative_to(folder).parts
        if brand.projects_dir and parts[:1] == (brand.projects_dir,):
            parts = parts[1:]
        if not parts:
            return Location(brand)
        if parts[0] == ARCHIVED:
            # archived/{range}/{id} or archived/{id}
            rest = parts[1:]
            if rest and parse_range(rest[0]):
                rest = rest[1:]
            return Location(brand, rest[0] if rest else None)
        if parts[0].startswith(".") or parts[0].lower() in _NOT_PROJECTS:
            return Location(brand)
        return Location(brand, parts[0])
    return Location()


def select_brand(config: Config, brand: str | None, cwd: Path | None = None) -> Brand:
    """--brand wins; else the brand whose repo holds the current folder; else a clear error."""
    if brand:
        return find_brand(config, brand)
    here = infer_location(config, Path.cwd() if cwd is None else cwd)
    if here.brand is None:
        raise UsageError(
            "no brand given and the current folder is not inside a brand repo; "
            "pass --brand (e.g. --brand appydave) or cd into v-appydave/…"
        )
    return here.brand


def select_brands(config: Config, brand: str | None, cwd: Path | None = None) -> list[Brand]:
    """For tasks that work on one brand or all: --brand wins; else the brand whose repo holds the
    current folder; else every brand."""
    if brand:
        return [find_brand(config, brand)]
    here = infer_location(config, Path.cwd() if cwd is None else cwd)
    return [here.brand] if here.brand else list(config.team.brands)


def select_project(
    config: Config,
    root: Path,
    brand: str | None,
    project: str | None,
    cwd: Path | None = None,
    *,
    include_archived: bool = False,
    remote_ids: Iterable[str] = (),
) -> Project:
    """--brand/--project win over what the current folder says."""
    cwd = Path.cwd() if cwd is None else cwd
    chosen = select_brand(config, brand, cwd)
    if not project:
        here = infer_location(config, cwd)
        if here.brand and here.brand.key == chosen.key and here.project_id:
            project = here.project_id
        else:
            raise UsageError(
                f"no project given and the current folder is not inside a project of {chosen.key}; "
                "pass --project (e.g. --project b65) or cd into the project folder"
            )
    return find_project(
        root, chosen, project, include_archived=include_archived, remote_ids=remote_ids
    )
