"""Who is working on which brand, with which S3 client: what every S3 task needs first."""

from __future__ import annotations

from pathlib import Path

from vam.aws.client import connect_as
from vam.core.config import Config, load_config
from vam.core.errors import NotFoundError
from vam.core.people import require_user
from vam.core.projects import (
    Project,
    projects_root,
    select_brand,
    select_project,
    settings_for_brand,
)
from vam.core.units import parse_rate, slow_rate_warning
from vam.s3sync.remote import remote_project_ids
from vam.s3sync.target import Target, target_for
from vam.s3sync.transfer import roundtrip


class Session:
    """Configuration, person and S3 client for one brand (from --brand or the current folder)."""

    def __init__(self, brand: str | None, cwd: Path | None = None):
        self.cwd = cwd
        self.config: Config = load_config(cwd)
        self.root = projects_root(self.config, cwd)
        self.brand = select_brand(self.config, brand, cwd)
        self.settings = settings_for_brand(self.config, self.root, self.brand)
        self.user = require_user(self.settings, self.config.team)
        self.aws = connect_as(self.config, self.settings)
        self.s3 = self.aws.client("s3", transfers=True)
        # the listing and the index GET tell the engine the link's round trip (part sizes)
        roundtrip.observe(self.s3)
        # what the person should hear that is not an error (a very low bandwidth cap); the task
        # prints them, the library never does
        self.notes: list[str] = []

    @property
    def rules(self):
        return self.config.team.files

    def project(self, query: str | None, *, remote: bool) -> Project:
        """The project from the flags or the folder; with remote=True it may exist only in S3."""
        try:
            return select_project(self.config, self.root, self.brand.key, query, self.cwd)
        except NotFoundError:
            if not remote:
                raise
        ids = remote_project_ids(
            self.s3, self.config.storage.bucket, self.config.storage.prefix_for(self.brand.key)
        )
        return select_project(
            self.config, self.root, self.brand.key, query, self.cwd, remote_ids=ids
        )

    def target(self, project: Project) -> Target:
        return target_for(self.config, project)

    def rate(self, max_rate: str | None) -> int | None:
        """This run's bandwidth cap in bytes a second: --max-rate, else the settings; None for no
        cap. A cap low enough to look like a hang adds a note."""
        if max_rate is None:
            rate = self.settings.max_rate
            where = self.settings.sources.get("max_rate", "your settings")
        else:
            rate = parse_rate(max_rate, where="--max-rate")
            where = "--max-rate"
        note = slow_rate_warning(rate, where=where)
        if note and note not in self.notes:
            self.notes.append(note)
        return rate
