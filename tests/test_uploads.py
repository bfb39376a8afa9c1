"""`s3.uploads`: David sees the uploads that were interrupted (his and Jan's) and clears out the
ones nobody is going to resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.transferkit import make_client
from vam.core.errors import UsageError
from vam.s3sync.uploads import IncompleteUpload, older_than, parse_age

BUCKET = "video-projects"  # the sample root's brands.toml
KEY = "staging/v-appydave/b65-guy-monroe-marketing-plan/raw.mp4"
OTHER_BRAND_KEY = "staging/v-voz/boy-baker/scene-1.mov"


@pytest.fixture
def env(sample, s3):
    client = make_client()
    client.create_bucket(Bucket=BUCKET)
    for key, parts in ((KEY, 2), (OTHER_BRAND_KEY, 1)):
        up = client.create_multipart_upload(Bucket=BUCKET, Key=key)
        for n in range(1, parts + 1):
            client.upload_part(
                Bucket=BUCKET, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=b"x" * 3000
            )
    return {"VAM_SETTINGS": str(sample.write_settings("david"))}


def uploads_left(prefix: str) -> list[str]:
    listed = make_client().list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
    return [u["Key"] for u in listed.get("Uploads", [])]


def test_david_lists_then_clears_out_old_unfinished_uploads(vam_cli, env):
    listed = vam_cli("s3.uploads", "--brand", "appydave", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "1 unfinished upload(s) under s3://video-projects/staging/v-appydave/" in listed.stdout
    assert "b65-guy-monroe-marketing-plan/raw.mp4" in listed.stdout
    assert "2 parts, 6.0 KB sent" in listed.stdout
    assert "scene-1.mov" not in listed.stdout  # another brand's

    plan = vam_cli(
        "s3.uploads", "--brand", "appydave", "--abort-older-than", "7d", "--dry-run", env=env
    )
    assert plan.returncode == 0, plan.stderr
    assert "would abort (1, older than 7d)" in plan.stdout and "nothing aborted" in plan.stdout
    assert uploads_left("staging/v-appydave/") == [KEY]

    done = vam_cli("s3.uploads", "--brand", "ad", "--abort-older-than", "7d", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert "aborted 1 upload(s); 0 left" in done.stdout
    assert uploads_left("staging/v-appydave/") == []
    assert uploads_left("staging/v-voz/") == [OTHER_BRAND_KEY]


def test_refusals_are_one_clear_line_and_abort_nothing(vam_cli, env):
    no_tty = vam_cli("s3.uploads", "--brand", "appydave", "--abort-older-than", "7d", env=env)
    assert no_tty.returncode == 2 and no_tty.stderr.strip().splitlines() == [
        "vam: not a terminal, so vam cannot ask: add --yes to abort them"
    ]
    bad_age = vam_cli("s3.uploads", "--brand", "appydave", "--abort-older-than", "soon", env=env)
    assert bad_age.returncode == 2 and bad_age.stderr.strip().splitlines() == [
        "vam: --abort-older-than: cannot read 'soon' as an age; write e.g. 7d, 12h or 2w"
    ]
    assert uploads_left("staging/v-appydave/") == [KEY]


def test_age_selection():
    now = datetime(2026, 11, 24, tzinfo=UTC)

    def started(days: float) -> IncompleteUpload:
        return IncompleteUpload(f"k{days}", "id", now - timedelta(days=days), "jan", 1, 10)

    # recent uploads are kept (moto dates every upload 2010-11-10, so this is tested here)
    picked = older_than([started(1), started(8), started(30)], parse_age("7d"), now)
    assert [u.key for u in picked] == ["k8", "k30"]
    assert parse_age("12h") == timedelta(hours=12) and parse_age("2w") == timedelta(days=14)
    with pytest.raises(UsageError):
        parse_age("7 days")
