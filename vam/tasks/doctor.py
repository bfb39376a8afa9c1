"""Check this machine's vam setup."""

from __future__ import annotations

from vam.config import load_config
from vam.doctor import run_checks, settings_lines
from vam.projects import select_brands
from vam.tasks.base import report_checks, say, vam_task


@vam_task(
    help={
        "brand": "brand to check (key, shortcut or repo name); default: this folder's, else all",
        "offline": "skip the AWS checks (no network)",
    }
)
def doctor(c, brand=None, offline=False):
    """Show the settings in effect and check brands.toml, folders, SSD, AWS credentials, bucket."""
    config = load_config()
    brands = select_brands(config, brand)
    chosen = brands[0] if len(brands) == 1 else None
    for line in settings_lines(config, chosen):
        say(line)
    say()
    checks = run_checks(config, brands, network=not offline)
    report_checks(checks)
