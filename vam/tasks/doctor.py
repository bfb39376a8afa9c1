"""Check this machine's vam setup."""

from __future__ import annotations

from vam.core.config import load_config
from vam.core.projects import select_brands
from vam.doctor import run_checks, settings_lines
from vam.tasks.base import JSON_HELP, report_checks, result, say, vam_task


@vam_task(
    help={
        "brand": "brand to check (key, shortcut or repo name); default: this folder's, else all",
        "offline": "skip the AWS checks (no network)",
        "json": JSON_HELP,
    }
)
def doctor(c, brand=None, offline=False, json_=False):
    """Show the settings in effect and check brands.toml, folders, SSD, AWS credentials, bucket."""
    config = load_config()
    brands = select_brands(config, brand)
    chosen = brands[0] if len(brands) == 1 else None
    settings = config.settings
    result(
        brands=[b.key for b in brands],
        settings={  # what is in effect, never a secret
            "brands_file": str(config.team.path),
            "settings_file": str(settings.path) if settings.path else None,
            "user": settings.user,
            "projects_root": str(settings.projects_root) if settings.projects_root else None,
            "aws_profile": settings.aws_profile,
            "bucket": config.storage.bucket,
            "region": config.storage.region,
            "endpoint_url": config.storage.endpoint_url,
            "max_rate": settings.max_rate,
            "webhook": bool(settings.webhook_url),
        },
    )
    for line in settings_lines(config, chosen):
        say(line)
    say()
    checks = run_checks(config, brands, network=not offline)
    report_checks(checks)
