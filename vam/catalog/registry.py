"""`manifest.generate`: each brand's projects.json written into its repo, and all of them merged
into the registry at the projects root (docs/manifest-format.md) that the dashboard reads. Brands
not scanned this time keep their last entry; every file is written atomically, so a reader never
sees a half-written one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vam.archive.summary import ArchiveRead, read_for_report
from vam.catalog.manifest import FORMAT, MANIFEST_NAME, brand_manifest, iso
from vam.core.atomicfile import write_text_atomic
from vam.core.config import Config
from vam.core.projects import brand_repo, settings_for_brand
from vam.core.team import Brand
from vam.s3sync.staging_read import StagingRead, read_staging

REGISTRY_NAME = "video-projects-registry.json"


def registry(root: Path, brands: Iterable[dict[str, Any]], now: datetime | None = None) -> dict:
    brands = list(brands)
    return {
        "format": FORMAT,
        "generated_at": iso(now or datetime.now(UTC)),
        "projects_root": str(root),
        "brands": brands,
        "totals": {
            "brands": len(brands),
            "projects": sum(b["totals"]["projects"] for b in brands),
            "local_bytes": sum(b["totals"]["local_bytes"] for b in brands),
            "ssd_bytes": sum(b["totals"]["ssd_bytes"] for b in brands),
            "s3_bytes": sum(b["totals"]["s3_bytes"] for b in brands),
            "s3_files": sum(b["totals"]["s3_files"] for b in brands),
            "cloud_bytes": sum(b["totals"].get("cloud_bytes", 0) for b in brands),
            "cloud_files": sum(b["totals"].get("cloud_files", 0) for b in brands),
            "cloud_monthly_cost": round(
                sum(b["totals"].get("cloud_monthly_cost", 0) for b in brands), 6
            ),
            "warnings": sum(len(b["warnings"]) for b in brands),
        },
    }


def write_json_atomic(path: Path, data: Any) -> None:
    """Write next to the target and rename, so a reader never sees a half-written file."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class Written:
    brand: str
    manifest: dict[str, Any]
    path: Path | None  # None when the brand repo does not exist here (nothing written)


def generate(
    config: Config,
    root: Path,
    brands: Iterable[Brand],
    *,
    use_s3: bool = True,
    read: Callable[[Config, Brand], StagingRead] | None = None,
    read_cloud: Callable[[Config, Brand], ArchiveRead] | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> tuple[list[Written], Path]:
    """Scan and write each brand's projects.json, then merge them into the registry.
    `dry_run`: the same scan, and the paths that would be written, but nothing is written."""
    now = now or datetime.now(UTC)
    written: list[Written] = []
    s3_down: str | None = None
    for brand in brands:
        staging = cloud = None
        if use_s3:
            settings = settings_for_brand(config, root, brand)
            if s3_down is not None:
                # the first brand already failed to reach S3: don't wait for the timeout 6 times
                staging = StagingRead(config.storage.prefix_for(brand.key), error=s3_down)
            elif read is not None:
                staging = read(config, brand)
            else:
                staging = read_staging(config, settings, config.storage.prefix_for(brand.key))
            if not staging.available:
                s3_down = staging.error
                cloud = ArchiveRead(config.storage.archive_prefix_for(brand.key), error=s3_down)
            elif read_cloud is not None:
                cloud = read_cloud(config, brand)
            else:
                cloud = read_for_report(config, settings, brand.key)
        data = brand_manifest(config, root, brand, staging=staging, cloud=cloud, now=now)
        repo = brand_repo(root, brand)
        path = None
        if repo.is_dir():
            path = repo / MANIFEST_NAME
            if not dry_run:
                write_json_atomic(path, data)
        written.append(Written(brand.key, data, path))

    registry_path = root / REGISTRY_NAME
    if dry_run:
        return written, registry_path
    merged: dict[str, dict] = {}
    try:
        previous = json.loads(registry_path.read_text(encoding="utf-8"))
        if previous.get("format") == FORMAT:
            merged = {b["brand"]["key"]: b for b in previous.get("brands", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        merged = {}
    merged.update({w.brand: w.manifest for w in written})
    order = [b.key for b in config.team.brands]
    brands_out = [merged[k] for k in order if k in merged]
    write_json_atomic(registry_path, registry(root, brands_out, now))
    return written, registry_path
