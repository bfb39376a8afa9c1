"""A quick, failure-tolerant read of a brand's S3 staging area, for reports (manifest, archive).

Reports must not hang or fail when AWS is not configured or not reachable: credentials are checked
before any request, and the client uses short timeouts and one retry. The failure comes back as a
one-line reason instead of an exception. Keys under a project's `.vam/` folder are vam's own index
and handoff objects: they are split off, and the index (uploader and checksum per file) is read
when present, by the sync's own reader (remoteindex.read_index).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import botocore.exceptions as bce
from botocore.config import Config as BotoConfig

from vam.aws.client import connect_as, explain, no_credentials
from vam.core.config import Config
from vam.core.errors import VamError
from vam.core.layout import STATE_DIR
from vam.core.settings import Settings
from vam.s3sync.remote import RemoteObject, list_project, list_staging
from vam.s3sync.remoteindex import INDEX_REL, RemoteIndex, read_index


@dataclass(frozen=True)
class StagingRead:
    """One brand's (or one project's) staging listing, or why it could not be read."""

    prefix: str
    projects: dict[str, list[RemoteObject]] = field(default_factory=dict)  # content objects only
    state_objects: dict[str, list[RemoteObject]] = field(default_factory=dict)  # under .vam/
    indexes: dict[str, RemoteIndex] = field(default_factory=dict)  # project -> its S3 index
    error: str | None = None

    @property
    def available(self) -> bool:
        return self.error is None

    @property
    def uploaders(self) -> dict[str, dict[str, dict]]:
        """project -> rel -> {"uploaded_by": name}: who uploaded each file, for the manifest."""
        return {
            project: {rel: {"uploaded_by": who} for rel, who in index.uploaders.items()}
            for project, index in self.indexes.items()
        }


def quick_s3_client(config: Config, settings: Settings, *, connect_timeout: float = 3):
    """An S3 client for reports: short timeouts, one retry. Raises VamError without credentials."""
    aws = connect_as(config, settings)
    if aws.session.get_credentials() is None:
        raise no_credentials(aws.profile)
    boto_config = BotoConfig(
        region_name=config.storage.region,
        connect_timeout=connect_timeout,
        read_timeout=15,
        retries={"total_max_attempts": 2, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"} if aws.endpoint("s3") else None,
    )
    return aws.session.create_client("s3", endpoint_url=aws.endpoint("s3"), config=boto_config)


def _list_project(s3, bucket: str, prefix: str, project: str) -> dict[str, list[RemoteObject]]:
    objects = list_project(s3, bucket, f"{prefix}{project}/")
    return {project: objects} if objects else {}


def read_staging(
    config: Config,
    settings: Settings,
    prefix: str,
    *,
    project: str | None = None,
    s3=None,
    with_index: bool = True,
) -> StagingRead:
    """One paginated listing under a brand `prefix` (or only its `project`), never raising."""
    bucket = config.storage.bucket
    try:
        client = s3 if s3 is not None else quick_s3_client(config, settings)
        if project is None:
            listing = list_staging(client, bucket, prefix)
        else:
            listing = _list_project(client, bucket, prefix, project)
    except VamError as exc:
        return StagingRead(prefix, error=str(exc))
    except Exception as exc:  # botocore errors of every kind: report, never a traceback
        explained = explain(exc)
        if explained is None and not isinstance(exc, bce.BotoCoreError | bce.ClientError):
            raise
        return StagingRead(prefix, error=str(explained or exc))
    projects: dict[str, list[RemoteObject]] = {}
    state: dict[str, list[RemoteObject]] = {}
    for project, objects in listing.items():
        for obj in objects:
            target = state if obj.rel.split("/", 1)[0] == STATE_DIR else projects
            target.setdefault(project, []).append(obj)
    indexes: dict[str, RemoteIndex] = {}
    if with_index:
        for project, objects in state.items():
            index = next((o for o in objects if o.rel == INDEX_REL), None)
            if index is not None:
                project_prefix = index.key.removesuffix(INDEX_REL)
                indexes[project] = _index_or_empty(client, bucket, project_prefix)
    return StagingRead(prefix, projects, state, indexes)


def _index_or_empty(s3, bucket: str, project_prefix: str) -> RemoteIndex:
    """The project's index; an empty one when it cannot be read (it only adds uploader names
    and checksums to a report)."""
    try:
        return read_index(s3, bucket, project_prefix)
    except (bce.ClientError, bce.BotoCoreError):
        return RemoteIndex({}, None)
