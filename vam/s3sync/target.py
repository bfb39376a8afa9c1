"""One project on both sides: its local folder, its S3 prefix, and the exact commands for it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vam.core import durable
from vam.core.config import Config
from vam.core.layout import STAGING, STATE_DIR
from vam.core.projects import Project
from vam.s3sync.keys import project_prefix


@dataclass(frozen=True)
class Target:
    """One project on both sides: its local folder and its S3 prefix."""

    brand_key: str
    project_id: str
    folder: Path  # the project folder (may not exist yet: a project only in S3)
    bucket: str
    brand_prefix: str  # `staging/v-appydave/`

    @property
    def prefix(self) -> str:
        return project_prefix(self.brand_prefix, self.project_id)

    @property
    def staging(self) -> Path:
        # on Windows in the `\\?\` form: Jan's files deep inside work past 260 characters
        return durable.native(self.folder / STAGING)

    @property
    def state_dir(self) -> Path:
        return durable.native(self.folder / STATE_DIR)

    def command(self, verb: str, *flags: str) -> str:
        """The exact command a person runs for this project."""
        extra = "".join(f" {f}" for f in flags)
        return f"vam s3.{verb} --brand {self.brand_key} --project {self.project_id}{extra}"


def target_for(config: Config, project: Project) -> Target:
    return Target(
        brand_key=project.brand.key,
        project_id=project.id,
        folder=project.path,
        bucket=config.storage.bucket,
        brand_prefix=config.storage.prefix_for(project.brand.key),
    )
