"""Write the HTML dashboard of every brand and project."""

from __future__ import annotations

import webbrowser
from pathlib import Path

from vam.catalog.dashboard import DASHBOARD_NAME, load_registry, write_dashboard
from vam.catalog.registry import generate as generate_manifests
from vam.core.config import load_config
from vam.core.projects import projects_root
from vam.tasks.base import say, vam_task


@vam_task(
    help={
        "output": f"where to write the page; default: {{projects root}}/{DASHBOARD_NAME}",
        "open": "open the written page in the default web browser",
        "no_refresh": "use the registry as it is instead of scanning every brand first",
        "no_s3": "when scanning, do not read S3 staging (no network)",
    }
)
def dashboard(c, output=None, open_=False, no_refresh=False, no_s3=False):
    """Write the HTML dashboard of every brand and project; --open shows it."""
    config = load_config()
    root = projects_root(config)
    if not no_refresh:
        # a dashboard of stale data misleads: scan every brand (metadata only, one listing each)
        generate_manifests(config, root, list(config.team.brands), use_s3=not no_s3)
    registry = load_registry(root)
    path = Path(output).expanduser() if output else root / DASHBOARD_NAME
    write_dashboard(registry, path)
    brands = registry.get("brands", [])
    projects = sum(len(b.get("projects", [])) for b in brands)
    warnings = sum(len(b.get("warnings", [])) for b in brands)
    say(
        f"dashboard written: {path} ({len(brands)} brands, {projects} projects, "
        f"{warnings} warnings; registry of {registry.get('generated_at', 'unknown time')})"
    )
    url = path.resolve().as_uri()
    if not open_:
        say(f"open it: {url}")
    elif not webbrowser.open(url):
        # no browser is not a failure: the page is written, the person can open it by hand
        say(f"no web browser found to open it; open {url} yourself")
