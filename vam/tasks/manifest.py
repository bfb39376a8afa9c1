"""Write the projects manifest of a brand (projects.json) and the registry of all brands."""

from __future__ import annotations

from vam.catalog.manifest import summary_line
from vam.catalog.registry import generate as generate_manifests
from vam.core.config import load_config
from vam.core.projects import projects_root, select_brands
from vam.tasks.base import JSON_HELP, result, say, vam_task


@vam_task(
    help={
        "brand": "brand to scan (key, shortcut or repo name); default: from the current folder, "
        "else every brand",
        "all": "scan every brand",
        "no_s3": "do not read S3 staging (no network); S3 fields are left out",
        "dry_run": "scan and say which files would be written with how many projects; write "
        "nothing",
        "json": JSON_HELP,
    }
)
def generate(c, brand=None, all=False, no_s3=False, dry_run=False, json_=False):
    """Scan projects (local, archived, SSD, S3) into projects.json and the all-brands registry."""
    config = load_config()
    root = projects_root(config)
    brands = list(config.team.brands) if all else select_brands(config, brand)
    written, registry_path = generate_manifests(
        config, root, brands, use_s3=not no_s3, dry_run=dry_run
    )
    result(
        dry_run=dry_run,
        brands=[
            {
                "brand": item.brand,
                "path": str(item.path) if item.path else None,
                "projects": item.manifest["totals"]["projects"],
                "summary": summary_line(item.manifest),
                "warnings": item.manifest["warnings"],
            }
            for item in written
        ],
        registry=str(registry_path),
        written=[] if dry_run else [str(w.path) for w in written if w.path] + [str(registry_path)],
    )
    would = "would write " if dry_run else "-> "
    notices: set[str] = set()
    for item in written:
        say(summary_line(item.manifest))
        for w in item.manifest["warnings"]:
            if w["project"] is None:
                notices.add(f"  ! {w['message']}")
            else:
                say(f"  ! {w['project']}: {w['message']}")
        say(
            f"  {would}{item.path}"
            if item.path
            else "  (no brand repo here: projects.json not written)"
        )
    for line in sorted(notices):
        say(line)
    if dry_run:
        say(f"would write the registry {registry_path}")
        say("dry run: nothing written")
    else:
        say(f"registry: {registry_path}")
