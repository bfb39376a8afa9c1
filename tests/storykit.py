"""David and Jan as the sync stories need them: each with own settings, projects root and sync
record, on moto's server on loopback (real HTTP through botocore; nothing mocked).

The fixtures `s3c`, `david` and `jan` (tests/conftest.py) hand out a bucket and the two people.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vam.aws.client import connect
from vam.core.config import load_config
from vam.core.errors import NotFoundError
from vam.core.projects import find_project, projects_root
from vam.s3sync.down import download
from vam.s3sync.remote import remote_project_ids
from vam.s3sync.status import status
from vam.s3sync.target import target_for
from vam.s3sync.up import upload

B65 = "b65-guy-monroe-marketing-plan"
BUCKET = "video-projects"
PREFIX = f"staging/v-appydave/{B65}/"


@dataclass
class Person:
    """One team member: own settings file, own projects root, own sync records."""

    name: str
    settings: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "VAM_SETTINGS": str(self.settings)}

    def setup(self, project: str = B65):
        if not hasattr(self, "_cached"):  # one config and one client per person (clients are slow)
            config = load_config(env=self.env())
            s3 = connect(config.settings, config.storage).client("s3")
            self._cached = (config, projects_root(config), s3)
        config, root, s3 = self._cached
        brand = next(b for b in config.team.brands if b.key == "appydave")
        try:
            found = find_project(root, brand, project)
        except NotFoundError:  # only in S3 so far
            ids = remote_project_ids(s3, BUCKET, config.storage.prefix_for("appydave"))
            found = find_project(root, brand, project, remote_ids=ids)
        return config, root, s3, target_for(config, found)

    @property
    def s3(self):
        return self.setup()[2]

    def staging(self, project: str = B65) -> Path:
        return self.setup(project)[3].staging

    def state_dir(self, project: str = B65) -> Path:
        return self.setup(project)[3].state_dir

    def up(self, project: str = B65, **kw):
        config, _root, s3, target = self.setup(project)
        return upload(s3, target, user=self.name, rules=config.team.files, **kw)

    def down(self, project: str = B65, **kw):
        config, _root, s3, target = self.setup(project)
        return download(s3, target, user=self.name, rules=config.team.files, **kw)

    def status(self, project: str = B65, **kw):
        config, _root, s3, target = self.setup(project)
        days = config.storage.staging_days
        return status(s3, target, user=self.name, rules=config.team.files, staging_days=days, **kw)


def states(plan) -> dict[str, str]:
    return {r.rel: r.state.value for r in plan.rows}


@contextlib.contextmanager
def before_each(s3, operation: str, hook: Callable[..., None]) -> Iterator[None]:
    """Run `hook(params=…)` before each `operation` request of this client (botocore's
    provide-client-params event), for the length of the `with`."""
    event = f"provide-client-params.s3.{operation}"
    s3.meta.events.register(event, hook)
    try:
        yield
    finally:
        s3.meta.events.unregister(event, hook)
