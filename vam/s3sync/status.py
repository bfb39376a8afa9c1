"""`s3.status`: per project, each file's state, the commands to run next and when staging
expires; every project of a brand from one listing; the projects `s3.up --all` uploads."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from vam.core.config import Config
from vam.core.files import FileRules
from vam.core.layout import STAGING
from vam.core.projects import Project, list_active, projects_dir
from vam.s3sync import transfer
from vam.s3sync.describe import expiry, recommend
from vam.s3sync.fingerprint import Hasher
from vam.s3sync.keys import unsafe_reason
from vam.s3sync.remote import RemoteObject, list_staging
from vam.s3sync.report import ProjectStatus
from vam.s3sync.scan import scan_project
from vam.s3sync.target import Target, target_for


def status(
    s3,
    target: Target,
    *,
    user: str,
    rules: FileRules,
    staging_days: int,
    objects: Iterable[RemoteObject] | None = None,
    hasher: Hasher | None = None,
) -> ProjectStatus:
    """`s3.status` for one project: per-file state, recommendations, staging expiry."""
    scan = scan_project(s3, target, user=user, rules=rules, hasher=hasher, objects=objects)
    first, last = expiry(scan.plan, staging_days)
    return ProjectStatus(
        target,
        scan.plan,
        recommend(target, scan.plan),
        first,
        last,
        scan.heads,
        scan.skipped,
        partial_downloads(target),
    )


def partial_downloads(target: Target) -> tuple[transfer.PartialDownload, ...]:
    """The project's interrupted downloads (a re-run of s3.down resumes them)."""
    if not target.state_dir.is_dir():
        return ()
    staging = target.staging.absolute()
    return tuple(
        p for p in transfer.partial_downloads(target.state_dir) if p.dest.is_relative_to(staging)
    )


def brand_status(
    s3,
    config: Config,
    root: Path,
    brand_key: str,
    *,
    user: str,
    hasher: Hasher | None = None,
) -> tuple[list[ProjectStatus], list[str]]:
    """Every project of a brand that has staging files on either side: one paginated listing of
    the brand prefix, then the index GET (and HEADs for unknown objects) per project.
    Returns (statuses, refusals) where refusals are S3 project folders with unsafe names."""
    brand = next(b for b in config.team.brands if b.key == brand_key)
    prefix = config.storage.prefix_for(brand.key)
    grouped = list_staging(s3, config.storage.bucket, prefix)
    local = {p.id: p for p in list_active(root, brand) if _has_files(p.path / STAGING)}
    refusals = []
    statuses = []
    for pid in sorted(set(grouped) | set(local)):
        reason = unsafe_reason(pid)
        if reason:
            refusals.append(f"refused S3 project folder {prefix}{pid}/: {reason}")
            continue
        project = local.get(pid) or Project(brand, pid, projects_dir(root, brand) / pid, "remote")
        target = target_for(config, project)
        statuses.append(
            status(
                s3,
                target,
                user=user,
                rules=config.team.files,
                staging_days=config.storage.staging_days,
                objects=grouped.get(pid, []),
                hasher=hasher,
            )
        )
    return statuses, refusals


def _has_files(folder: Path) -> bool:
    try:
        return any(p.is_file() for p in folder.rglob("*"))
    except OSError:
        return False


def staged_projects(root: Path, brand) -> list[Project]:
    """Projects of a brand with a non-empty s3-staging/ (for `s3.up --all`)."""
    return [p for p in list_active(root, brand) if _has_files(p.path / STAGING)]
