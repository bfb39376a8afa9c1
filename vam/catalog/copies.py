"""How many copies of a project's heavy files exist, and where (SPEC §10): this computer's
folder, the SSD, the off-site archive in the cloud. S3 staging, which expires, is not a copy.
The manifest's `storage.cloud` entry and `copies` field, and its warning for a project whose
heavy files have fewer than two copies, are built here. Metadata only: names and sizes, never
contents.

The cloud archive counts as a copy when it holds every heavy file (by path and size) of the
fullest copy known here (the local folder's, else the SSD's), or, with neither in sight, when
it holds heavy files at all.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from vam.archive.listing import READABLE
from vam.archive.summary import NONE, ProjectArchive
from vam.core.files import FileRules, Kind, classify, walk
from vam.core.team import Brand
from vam.core.units import iso_utc

PLACES = {"local": "this computer", "ssd": "the SSD", "cloud": "the cloud archive"}


def heavy_files(folder: Path | None, rules: FileRules) -> dict[str, int]:
    """rel -> size of the heavy files under `folder` (none when there is no folder)."""
    if folder is None:
        return {}
    return {
        f.rel: f.size for f in walk(folder, rules) if classify(f.rel, f.size, rules) is Kind.HEAVY
    }


def _iso(when: datetime | None) -> str | None:
    return iso_utc(when) if when else None


def cloud_entry(archive: ProjectArchive | None, rules: FileRules) -> dict[str, Any]:
    """The project's `storage.cloud` in projects.json."""
    if archive is None:
        return {
            "files": 0,
            "bytes": 0,
            "heavy_files": 0,
            "class": None,
            "archived_at": None,
            "restore": None,
            "monthly_cost": 0.0,
        }
    restore = archive.restore
    record = restore.record
    return {
        "files": archive.files,
        "bytes": archive.bytes,
        "heavy_files": sum(
            1 for o in archive.objects if classify(o.rel, o.size, rules) is Kind.HEAVY
        ),
        "class": archive.storage_class,
        "archived_at": _iso(archive.archived_at),
        "restore": None
        if restore.state in (NONE, READABLE)
        else {
            "state": restore.state,
            "detail": restore.describe(),
            "requested_by": record.requested_by if record else None,
            "requested_at": record.requested_at if record else None,
            "tier": record.tier if record else None,
            "expected_by": record.expected_by if record else None,
            "until": _iso(restore.until),
        },
        "monthly_cost": round(archive.monthly_cost, 6),
    }


def copies(
    *,
    local_heavy: dict[str, int],
    ssd_exists: bool | None,
    ssd_heavy: dict[str, int] | None,
    archive: ProjectArchive | None,
    cloud_read: bool,
    rules: FileRules,
) -> dict[str, Any]:
    """The project's `copies`: where its heavy files are, and how many full copies that makes.
    `ssd_heavy` None: the SSD was not looked at; `cloud_read` False: S3 was not read."""
    cloud: bool | None = None
    missing: list[str] = []
    if cloud_read:
        held = {o.rel: o.size for o in archive.objects} if archive else {}
        fullest = local_heavy or ssd_heavy or {}
        if fullest:
            missing = sorted(rel for rel, size in fullest.items() if held.get(rel) != size)
            cloud = bool(held) and not missing
        else:
            cloud = any(classify(rel, size, rules) is Kind.HEAVY for rel, size in held.items())
    found = {"local": bool(local_heavy), "ssd": ssd_exists, "cloud": cloud}
    return {
        **found,
        "count": sum(1 for v in found.values() if v is True),
        "unknown": [k for k, v in found.items() if v is None],
        "cloud_missing": missing if archive is not None else [],
    }


def has_heavy(copy: dict[str, Any], ssd_heavy: dict[str, int] | None, cloud: dict | None) -> bool:
    return bool(copy["local"] or ssd_heavy or (cloud and cloud["heavy_files"]))


def copies_warning(brand: Brand, pid: str, copy: dict[str, Any]) -> str | None:
    """ "fewer than two copies of its heavy files", with where they are and the command that
    makes the missing copy; None when there are two, or the SSD (which may hold one) is not in
    sight."""
    if copy["count"] >= 2 or copy["ssd"] is None:
        return None
    where = [PLACES[k] for k in ("local", "ssd", "cloud") if copy[k] is True]
    text = "fewer than two copies of its heavy files: " + (
        f"only on {where[0]}" if where else "none found"
    )
    if copy["cloud_missing"]:
        n = len(copy["cloud_missing"])
        text += f" (the cloud archive lacks {n} of them: added or changed since it was made)"
    if copy["cloud"] is None:
        text += " (the cloud archive was not read)"
    ids = f"--brand {brand.key} --project {pid}"
    if copy["local"] and not copy["ssd"] and not copy["cloud"]:
        text += f"; `vam ssd.archive {ids} --cloud` makes two, on the SSD and in the cloud"
    elif not copy["cloud"]:
        update = " --update" if copy["cloud_missing"] else ""
        text += f"; `vam archive.cloud {ids}{update}` makes one in the cloud"
    else:
        text += f"; `vam ssd.archive {ids}` makes one on the SSD"
    return text
