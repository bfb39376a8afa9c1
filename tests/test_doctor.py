"""doctor against moto's S3 server on loopback: credentials, bucket missing, bucket present."""

import boto3
import pytest

from vam.core.config import load_config
from vam.core.projects import find_brand
from vam.doctor import run_checks


@pytest.fixture
def config(sample, as_user, s3):
    as_user("david")
    return load_config(cwd=sample.root)


def lines(checks):
    return [c.line() for c in checks]


def test_missing_bucket_suggests_setup_bucket(config):
    checks = run_checks(config, [find_brand(config, "ad")])
    out = "\n".join(lines(checks))
    assert "✓ AWS credentials: default chain, account" in out
    assert "✗ bucket: " in out and "vam aws.setup-bucket" in out


def test_all_green_when_bucket_exists(config, s3):
    boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1").create_bucket(
        Bucket="video-projects"
    )
    checks = run_checks(config, [find_brand(config, "ad")])
    assert all(c.ok for c in checks), lines(checks)


def test_no_credentials_is_one_clear_line(config, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    checks = run_checks(config, [find_brand(config, "ad")])
    assert lines(checks)[-1].startswith("✗ AWS credentials: none found")


def test_unknown_profile_is_one_clear_line(config, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "nobody")
    config = load_config(cwd=config.team.path.parent)
    checks = run_checks(config, [find_brand(config, "ad")])
    assert "AWS profile 'nobody' not found" in lines(checks)[-1]
