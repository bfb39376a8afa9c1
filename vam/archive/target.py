"""One project in the off-site archive: its S3 prefix (`{archive prefix}{project}/`), the key of
each file (`…/{path inside the project, POSIX}`), and the two small objects vam keeps beside the
files: the archive index (`.vam/archive.json`: what was archived, with checksums) and the restore
record (`.vam/restore.json`: who asked for a restore, which tier, when it is expected).

Inside a project, `.vam/` holds this computer's state and is never archived, except
`.vam/backups/` (the team's kept versions), which is: so those two names cannot clash with a file.
"""

from __future__ import annotations

from dataclasses import dataclass

from vam.core.config import Config
from vam.core.layout import STATE_DIR
from vam.core.projectfiles import BACKUPS_REL

INDEX_REL = f"{STATE_DIR}/archive.json"
RESTORE_REL = f"{STATE_DIR}/restore.json"


def is_state(rel: str) -> bool:
    """vam's own objects under a project's archive prefix (everything in `.vam/` but backups)."""
    return rel.startswith(f"{STATE_DIR}/") and not rel.startswith(f"{BACKUPS_REL}/")


@dataclass(frozen=True)
class ArchiveTarget:
    brand_key: str
    project_id: str
    bucket: str
    brand_prefix: str  # `archive/v-appydave/`
    storage_class: str  # the class new uploads go to (brands.toml archive_class)

    @property
    def prefix(self) -> str:
        return f"{self.brand_prefix}{self.project_id}/"

    def key(self, rel: str) -> str:
        return f"{self.prefix}{rel}"

    @property
    def index_key(self) -> str:
        return self.key(INDEX_REL)

    @property
    def restore_key(self) -> str:
        return self.key(RESTORE_REL)

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def command(self, verb: str, *flags: str) -> str:
        """The exact command a person runs for this project."""
        extra = "".join(f" {f}" for f in flags)
        return f"vam archive.{verb} --brand {self.brand_key} --project {self.project_id}{extra}"


def archive_target(config: Config, brand_key: str, project_id: str) -> ArchiveTarget:
    storage = config.storage
    return ArchiveTarget(
        brand_key=brand_key,
        project_id=project_id,
        bucket=storage.bucket,
        brand_prefix=storage.archive_prefix_for(brand_key),
        storage_class=storage.archive_class,
    )
