"""The bucket's lifecycle leaves the off-site archive alone (SPEC §10): read back from moto's
server after `aws.setup-bucket`, no rule deletes or moves an archived object, old versions of
archive objects stay for the class's minimum storage duration, and `aws.check` names any rule
(another tool's too) that would touch the archive."""

from __future__ import annotations

import boto3
import pytest

from vam.aws.bucketsettings import archive_threats, desired_settings, rule_from_aws
from vam.core.team import Storage
from vam.tasks import aws as tasks

ARCHIVED_KEY = "archive/v-appydave/b65-guy-monroe-marketing-plan/s3-staging/raw.mp4"
STAGED_KEY = "staging/v-appydave/b65-guy-monroe-marketing-plan/raw.mp4"


def rules_for(key: str, rules) -> dict[str, object]:
    """What S3 would do to `key` by each rule that applies to it (by its prefix filter)."""
    return {r.id: r for r in rules if key.startswith(r.prefix)}


@pytest.fixture
def s3c(s3):
    return boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def david(sample, as_user, s3, monkeypatch):
    """David, the owner, in the projects root."""
    as_user("david")
    monkeypatch.chdir(sample.root)
    return sample


def test_the_lifecycle_vam_sets_never_expires_the_archive(david, s3c, capsys):
    from invoke import Context

    tasks.setup_bucket(Context())
    read = s3c.get_bucket_lifecycle_configuration(Bucket="video-projects")["Rules"]
    rules = [rule_from_aws(r) for r in read]
    on_archive = rules_for(ARCHIVED_KEY, rules)
    # only these touch an archived object, and neither deletes a current one
    assert set(on_archive) == {"vam-keep-archive-versions", "vam-abort-incomplete-uploads"}
    assert all(r.expire_days is None and not r.deletes_current() for r in on_archive.values())
    assert on_archive["vam-keep-archive-versions"].noncurrent_days == 180  # Deep Archive's minimum
    # staging still expires after 90 days, and its old versions after 14
    on_staging = rules_for(STAGED_KEY, rules)
    assert on_staging["vam-expire-staging"].expire_days == 90
    assert on_staging["vam-expire-noncurrent-versions"].noncurrent_days == 14
    assert archive_threats(tuple(rules), Storage("video-projects", "us-east-1")) == ()


@pytest.mark.parametrize(
    "klass, days", [("DEEP_ARCHIVE", 180), ("GLACIER", 90), ("GLACIER_IR", 90), ("STANDARD_IA", 30)]
)
def test_old_versions_of_the_archive_stay_for_the_classes_minimum(klass, days):
    storage = Storage("video-projects", "us-east-1", archive_class=klass)
    rule = next(r for r in desired_settings(storage).rules if r.id == "vam-keep-archive-versions")
    assert rule.prefix == "archive/" and rule.noncurrent_days == days and rule.expire_days is None
    # noncurrent_days longer than the class's minimum wins
    longer = Storage("video-projects", "us-east-1", archive_class=klass, noncurrent_days=400)
    assert (
        next(
            r for r in desired_settings(longer).rules if r.id == "vam-keep-archive-versions"
        ).noncurrent_days
        == 400
    )


def test_another_tools_rule_that_would_expire_the_archive_is_named_by_aws_check(
    david, s3c, vam_cli
):
    from invoke import Context

    tasks.setup_bucket(Context())
    rules = s3c.get_bucket_lifecycle_configuration(Bucket="video-projects")["Rules"]
    rules.append(
        {
            "ID": "cleanup-everything",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "Expiration": {"Days": 365},
        }
    )
    s3c.put_bucket_lifecycle_configuration(
        Bucket="video-projects", LifecycleConfiguration={"Rules": rules}
    )
    result = vam_cli("aws.check", "--brand", "voz", cwd=david.root)
    assert result.returncode == 1
    assert (
        "✗ archive lifecycle: rules that would delete or move archived projects under archive/: "
        "cleanup-everything: every object expire after 365 days — fix: narrow those rules' prefix"
    ) in result.stdout
