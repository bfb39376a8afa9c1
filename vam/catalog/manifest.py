"""A brand's manifest, projects.json (SPEC §7, docs/manifest-format.md): every project of the
brand, where it lives (local flat or archived, SSD, S3 staging, the cloud archive), how many
copies of its heavy files exist (vam.catalog.copies), and what needs attention; built here as a
dict, written by vam.catalog.registry.

The scanner reads metadata only (os.scandir / stat), never file contents, so a brand with
terabytes of video is scanned in seconds. S3 is read with one paginated listing per brand prefix
(staging, and the archive). The SSD being unplugged or S3 being unreachable is a warning, never a
failure.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from vam.archive.summary import ArchiveRead
from vam.catalog.copies import cloud_entry, copies, copies_warning, has_heavy, heavy_files
from vam.core.config import Config
from vam.core.files import FileRules, TreeStats, tree_stats
from vam.core.layout import ARCHIVED, STAGING
from vam.core.projects import (
    Project,
    brand_repo,
    list_active,
    list_archived,
    projects_dir,
    settings_for_brand,
    ssd_mounted,
    ssd_path,
)
from vam.core.ranges import id_key, range_for, range_names
from vam.core.settings import ssd_setting_hint
from vam.core.team import Brand
from vam.core.units import format_size, iso_utc
from vam.s3sync.remote import RemoteObject
from vam.s3sync.staging_read import StagingRead
from vam.ssd.layout import ssd_projects

FORMAT = 1
MANIFEST_NAME = "projects.json"
EXPIRY_WARNING_DAYS = 14


def iso(ts: float | datetime | None) -> str | None:
    if ts is None:
        return None
    return iso_utc(ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC))


def project_type(brand: Brand, project_id: str) -> str:
    if brand.workflow == "storyline":
        return "storyline"
    key = id_key(project_id)
    return "legacy" if key is not None and key[0] == "" else "flivideo"


def _disk(path: Path) -> dict[str, Any]:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError:
        return {"path": str(path), "free_bytes": None, "total_bytes": None}
    return {"path": str(path), "free_bytes": usage.free, "total_bytes": usage.total}


def _s3_entry(
    objects: list[RemoteObject],
    uploaders: dict[str, dict],
    staging_days: int,
    elsewhere: dict[str, list[Path]],
    ssd_known: bool,
) -> dict[str, Any]:
    """A project's S3 staging, each object with where else a file of that path is (`elsewhere`:
    place -> the project's staging folders there) and its own expiry date."""
    if not objects:
        return {
            "files": 0,
            "bytes": 0,
            "last_modified": None,
            "state": "none",
            "expires": None,
            "objects": [],
        }
    newest = max(o.last_modified for o in objects)
    entries = []
    for o in sorted(objects, key=lambda o: o.rel):
        parts = o.rel.split("/")
        found = [
            place
            for place, folders in elsewhere.items()
            if any(folder.joinpath(*parts).is_file() for folder in folders)
        ]
        entry = {
            "path": o.rel,
            "bytes": o.size,
            "last_modified": iso(o.last_modified),
            "uploaded_by": (uploaders.get(o.rel) or {}).get("uploaded_by"),
            "state": None,
            "expires": _expiry(o.last_modified, staging_days),
            "elsewhere": found,
            # null: not here, and the SSD (which may hold it) was not plugged in
            "only_in_staging": False if found else (True if ssd_known else None),
        }
        entries.append(entry)
    return {
        "files": len(objects),
        "bytes": sum(o.size for o in objects),
        "last_modified": iso(newest),
        "state": "staged",
        # the project's staging lives as long as its newest upload
        "expires": _expiry(newest, staging_days),
        "objects": entries,
    }


def _expiry(uploaded: datetime, staging_days: int) -> str:
    # the lifecycle rule expires each object staging_days after its upload
    return (uploaded.astimezone(UTC).date() + timedelta(days=staging_days)).isoformat()


def _only_in_staging(brand: Brand, pid: str, s3: dict[str, Any]) -> str | None:
    """The warning for files whose only copy is in S3 staging, with the first date one goes."""
    alone = [o for o in s3["objects"] if o["only_in_staging"] is not False]
    if not alone:
        return None
    names = [o["path"] for o in alone]
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    count = f"{len(alone)} file" + ("s" if len(alone) > 1 else "")
    first = min(o["expires"] for o in alone)
    unsure = any(o["only_in_staging"] is None for o in alone)
    return (
        f"only copy in S3 staging: {count}, {format_size(sum(o['bytes'] for o in alone))} "
        f"({shown}), deleted by the staging expiry on {first}; "
        f"`vam s3.down --brand {brand.key} --project {pid}` keeps a copy here"
        + (" (the SSD was not plugged in: it may hold one)" if unsure else "")
    )


def _warning(project: str | None, kind: str, message: str) -> dict[str, Any]:
    return {"project": project, "kind": kind, "message": message}


def _local_entry(project: Project | None, rules: FileRules) -> tuple[dict[str, Any], TreeStats]:
    """The project's folder on this computer (flat or archived), if it has one."""
    if project is None:
        entry = {
            "exists": False,
            "structure": None,
            "path": None,
            "has_heavy_files": False,
            "has_light_files": False,
            "bytes": 0,
            "heavy_bytes": 0,
            "files": 0,
            "last_modified": None,
        }
        return entry, TreeStats()
    stats = tree_stats(project.path, rules)
    entry = {
        "exists": True,
        "structure": project.structure,
        "path": str(project.path),
        "has_heavy_files": stats.heavy_files > 0,
        "has_light_files": stats.light_files > 0,
        "bytes": stats.bytes,
        "heavy_bytes": stats.heavy_bytes,
        "files": stats.files,
        "last_modified": iso(stats.newest_mtime),
    }
    return entry, stats


def _s3_source(config: Config, brand: Brand, staging: StagingRead | None) -> dict[str, Any]:
    """Where the brand's staging was read, and whether it could be (`staging=None`: not asked)."""
    return {
        "available": bool(staging and staging.available),
        "bucket": config.storage.bucket,
        "prefix": config.storage.prefix_for(brand.key),
        "error": "not checked" if staging is None else staging.error,
    }


# the brand's sums, in the order projects.json lists them
TOTALS = (
    "projects",
    "active",
    "archived",
    "on_ssd",
    "in_s3",
    "local_bytes",
    "active_bytes",
    "archived_bytes",
    "ssd_bytes",
    "s3_bytes",
    "s3_files",
    "in_cloud",
    "cloud_bytes",
    "cloud_files",
    "cloud_monthly_cost",
)


def brand_manifest(
    config: Config,
    root: Path,
    brand: Brand,
    *,
    staging: StagingRead | None,
    cloud: ArchiveRead | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A brand's projects.json as a dict. `staging=None` / `cloud=None` mean S3 was not asked
    (absent fields)."""
    now = now or datetime.now(UTC)
    today = now.date()
    rules = config.team.files
    settings = settings_for_brand(config, root, brand)
    ssd_folder = ssd_path(settings, brand)
    mounted = ssd_mounted(settings, brand)
    on_ssd = ssd_projects(ssd_folder) if mounted and ssd_folder else {}
    ssd_ranges = range_names(ssd_folder) if mounted and ssd_folder else []
    archived_ranges = range_names(projects_dir(root, brand) / ARCHIVED)

    active = {p.id: p for p in list_active(root, brand)}
    archived: dict[str, list] = {}
    for p in list_archived(root, brand):
        archived.setdefault(p.id, []).append(p)
    remote = staging.projects if staging and staging.available else {}
    in_cloud = cloud.projects if cloud and cloud.available else {}
    ids = sorted(set(active) | set(archived) | set(on_ssd) | set(remote) | set(in_cloud))

    warnings: list[dict[str, Any]] = []
    projects: list[dict[str, Any]] = []
    totals = dict.fromkeys(TOTALS, 0)

    if ssd_folder is None:
        hint = ssd_setting_hint(settings, brand.key)
        message = f"no SSD configured: to archive to one, {hint}"
        warnings.append(_warning(None, "ssd_not_configured", message))
    elif not mounted:
        message = f"SSD not mounted ({ssd_folder.parent}): SSD fields are null"
        warnings.append(_warning(None, "ssd_unmounted", message))
    if staging is not None and not staging.available:
        warnings.append(_warning(None, "s3_unavailable", f"S3 not read: {staging.error}"))
    elif cloud is not None and not cloud.available:
        message = f"the cloud archive not read: {cloud.error}"
        warnings.append(_warning(None, "cloud_unavailable", message))

    for pid in ids:
        notes: list[tuple[str, str]] = []

        def warn(kind: str, message: str, _notes: list = notes) -> None:
            _notes.append((kind, message))

        flat = active.get(pid)
        arch = archived.get(pid, [])
        local_project = flat or (arch[0] if arch else None)
        valid = brand.is_valid_id(pid)
        if not valid:
            warn("invalid_id", f"{pid!r} is not a valid {brand.workflow} project id")
        if flat and arch:
            warn("conflict", f"both active and archived ({arch[0].path}); keep one")
        if len(arch) > 1:
            warn("conflict", "archived twice: " + ", ".join(str(a.path) for a in arch))

        # the range: where it already is (SSD, then archived/), else where it would go
        ssd_range, ssd_dir = on_ssd.get(pid, (None, None))
        arch_range = (
            arch[0].path.parent.name if arch and arch[0].path.parent.name != ARCHIVED else None
        )
        rng = ssd_range or arch_range or range_for(pid, [*ssd_ranges, *archived_ranges])
        if id_key(pid) is None:
            rng = None

        local, stats = _local_entry(local_project, rules)
        if local_project is not None:
            totals["local_bytes"] += stats.bytes
            if flat:
                totals["active"] += 1
                totals["active_bytes"] += stats.bytes
            else:
                totals["archived"] += 1
                totals["archived_bytes"] += stats.bytes
                if stats.heavy_files:
                    warn(
                        "heavy_in_archived",
                        f"{stats.heavy_files} heavy file(s) ({stats.heavy_bytes} bytes) inside "
                        "the archived folder; archived folders keep light files only",
                    )

        expected = (ssd_folder / rng / pid if rng else ssd_folder / pid) if ssd_folder else None
        ssd_heavy: dict[str, int] | None = None
        if not mounted or ssd_folder is None:
            ssd = {"exists": None, "path": str(expected) if expected else None, "bytes": None}
        elif ssd_dir is not None:
            ssd_stats = tree_stats(ssd_dir, rules)
            ssd = {"exists": True, "path": str(ssd_dir), "bytes": ssd_stats.bytes}
            totals["on_ssd"] += 1
            totals["ssd_bytes"] += ssd_stats.bytes
            ssd_heavy = heavy_files(ssd_dir, rules) if ssd_stats.heavy_files else {}
        else:
            ssd = {"exists": False, "path": str(expected), "bytes": None}
            ssd_heavy = {}

        storage: dict[str, Any] = {"local": local, "ssd": ssd}
        if staging is not None and staging.available:
            elsewhere = {
                "local": [p.path / STAGING for p in ([flat] if flat else []) + arch],
                "ssd": [ssd_dir / STAGING] if ssd_dir is not None else [],
            }
            s3 = _s3_entry(
                objects=remote.get(pid, []),
                uploaders=staging.uploaders.get(pid, {}),
                staging_days=config.storage.staging_days,
                elsewhere=elsewhere,
                ssd_known=ssd_folder is None or mounted,
            )
            storage["s3"] = s3
            alone = _only_in_staging(brand, pid, s3)
            if alone:
                warn("only_in_staging", alone)
            if s3["files"]:
                totals["in_s3"] += 1
                totals["s3_files"] += s3["files"]
                totals["s3_bytes"] += s3["bytes"]
                left = (date.fromisoformat(s3["expires"]) - today).days
                if left <= EXPIRY_WARNING_DAYS:
                    when = f"(in {left} days)" if left >= 0 else "(already past)"
                    warn("staging_expiring", f"S3 staging expires {s3['expires']} {when}")

        archive = in_cloud.get(pid)
        if cloud is not None and cloud.available:
            storage["cloud"] = cloud_entry(archive, rules)
            if archive is not None:
                totals["in_cloud"] += 1
                totals["cloud_files"] += archive.files
                totals["cloud_bytes"] += archive.bytes
                totals["cloud_monthly_cost"] += archive.monthly_cost
        local_heavy = heavy_files(local_project.path, rules) if stats.heavy_files else {}
        copy = copies(
            local_heavy=local_heavy,
            ssd_exists=ssd["exists"],
            ssd_heavy=ssd_heavy,
            archive=archive,
            cloud_read=cloud is not None and cloud.available,
            rules=rules,
        )
        copy["heavy"] = has_heavy(copy, ssd_heavy, storage.get("cloud"))
        if copy["heavy"]:
            few = copies_warning(brand, pid, copy)
            if few:
                warn("not_backed_up", few)

        totals["projects"] += 1
        entry = {
            "id": pid,
            "type": project_type(brand, pid),
            "valid_id": valid,
            "range": rng,
            "storage": storage,
            "copies": copy,
            "warnings": [m for _k, m in notes],
        }
        projects.append(entry)
        warnings.extend(_warning(pid, k, m) for k, m in notes)

    free = _disk(ssd_folder) if mounted and ssd_folder else {}
    return {
        "format": FORMAT,
        "generated_at": iso(now),
        "brand": {
            "key": brand.key,
            "name": brand.name,
            "shortcut": brand.shortcut,
            "repo": brand.repo,
            "workflow": brand.workflow,
        },
        "ssd": {
            "path": str(ssd_folder) if ssd_folder else None,
            "mounted": mounted,
            "free_bytes": free.get("free_bytes"),
            "total_bytes": free.get("total_bytes"),
        },
        "s3": _s3_source(config, brand, staging),
        "cloud": {
            "available": bool(cloud and cloud.available),
            "bucket": config.storage.bucket,
            "prefix": config.storage.archive_prefix_for(brand.key),
            "class": config.storage.archive_class,
            "error": "not checked" if cloud is None else cloud.error,
        },
        "totals": {**totals, "cloud_monthly_cost": round(totals["cloud_monthly_cost"], 6)},
        "disk": _disk(brand_repo(root, brand)),
        "projects": projects,
        "warnings": warnings,
    }


def summary_line(data: dict[str, Any]) -> str:
    t = data["totals"]
    s3 = "S3 unknown"
    if data["s3"]["available"]:
        s3 = f"{t['in_s3']} in S3 ({t['s3_files']} files, {format_size(t['s3_bytes'])})"
    if data.get("cloud", {}).get("available"):
        s3 += f", {t['in_cloud']} in the cloud archive ({format_size(t['cloud_bytes'])})"
    ssd = (
        f"{t['on_ssd']} on SSD"
        if data["ssd"]["mounted"]
        else "SSD not mounted"
        if data["ssd"]["path"]
        else "no SSD configured"
    )
    return (
        f"{data['brand']['key']}: {t['projects']} projects ({t['active']} active, "
        f"{t['archived']} archived), {ssd}, {s3}, local {format_size(t['local_bytes'])}, "
        f"{len(data['warnings'])} warning(s)"
    )
