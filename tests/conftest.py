"""Shared fixtures: isolation from the developer's real AWS and vam settings, a sample projects
root, and moto's S3 server on loopback (real HTTP through botocore's wire path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from storykit import BUCKET, Person

from vam.demo.localserver import LOCAL_CREDENTIALS, local_s3
from vam.demo.sample import SampleRoot, build_sample_root

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def botocore_cache(tmp_path_factory) -> Path:
    """One cache of botocore's parsed data files (vam/aws/botocache.py) for the whole run."""
    return tmp_path_factory.mktemp("vam-cache")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch, botocore_cache):
    """Hide ~/.aws, the user's vam settings and every AWS_/VAM_ variable from every test."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(("AWS_", "VAM_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAM_CACHE_DIR", str(botocore_cache))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("VAM_SETTINGS", str(home / "no-settings.toml"))
    monkeypatch.delenv("VAM_SETTINGS")  # default path under the fake HOME, which has none
    return home


@pytest.fixture
def sample(tmp_path) -> SampleRoot:
    """A realistic projects root (6 brands, flat/archived/legacy/storyline projects, an SSD)."""
    return build_sample_root(tmp_path / "video-projects", media_bytes=64 * 1024)


@pytest.fixture
def as_user(monkeypatch, sample):
    """Switch the current person: writes their settings file and points VAM_SETTINGS at it."""

    def switch(user: str, **extra) -> Path:
        path = sample.settings.get(user) if not extra else None
        if path is None:
            path = sample.write_settings(user, **extra)
        monkeypatch.setenv("VAM_SETTINGS", str(path))
        return path

    return switch


@pytest.fixture(scope="session")
def s3_server():
    """One moto server on 127.0.0.1 for the whole session."""
    with local_s3() as server:
        yield server


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A clean S3 (and IAM/STS) on loopback, with the AWS chain pointed at it."""
    s3_server.reset()
    for key, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return s3_server


def run_vam(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 120):
    """Run the real `vam` entry point in a subprocess (as a user would), return CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "vam", *args],
        cwd=cwd or REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def vam_cli():
    return run_vam


@pytest.fixture
def s3c(s3):
    """A plain boto3 client on the server (another tool, or the other person's raw requests),
    with the team's bucket made and versioned as `vam aws.setup-bucket` leaves it."""
    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def david(sample, s3c) -> Person:
    return Person("david", sample.write_settings("david"))


@pytest.fixture
def jan(sample, s3c, tmp_path) -> Person:
    root = tmp_path / "jan-projects"
    (root / "v-appydave").mkdir(parents=True)
    return Person("jan", sample.write_settings("jan", projects_root=str(root)))


@pytest.fixture
def client(s3):
    """A plain boto3 client on the server, through the AWS chain the `s3` fixture points."""
    return boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def plain(tmp_path, s3, client):
    """David and Jan (vam.demo's world) on a bucket someone made without versioning, as on R2,
    B2 or MinIO's default."""
    from vam.demo.story import build_world

    client.create_bucket(Bucket=BUCKET)
    return build_world(tmp_path / "plain", s3.endpoint_url, media_bytes=64 * 1024, webhook_url=None)
