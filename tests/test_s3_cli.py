"""`vam s3.*` as typed by a person: real entry point, moto on loopback, one-line errors."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.test_cli import one_line_error

pytestmark = pytest.mark.integration

B65 = "b65-guy-monroe-marketing-plan"


@pytest.fixture
def david_env(sample):
    return {"VAM_SETTINGS": str(sample.write_settings("david"))}


@pytest.fixture
def bucket(s3):
    boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1").create_bucket(
        Bucket="video-projects"
    )


def test_unknown_project_is_one_line(vam_cli, david_env, bucket):
    one_line_error(
        vam_cli("s3.up", "--brand", "ad", "--project", "b99", env=david_env),
        "no project 'b99' in brand appydave",
    )


def test_missing_bucket_suggests_setup(vam_cli, david_env, s3):
    one_line_error(
        vam_cli("s3.status", "--brand", "ad", "--project", "b65", env=david_env),
        "bucket video-projects does not exist",
        "vam aws.setup-bucket",
    )


def test_no_credentials_is_one_line(vam_cli, david_env):
    one_line_error(
        vam_cli("s3.up", "--brand", "ad", "--project", "b65", env=david_env),
        "no AWS credentials found",
    )


@pytest.mark.parametrize("name, plain", [("jürgen", "jurgen"), ("Jan Novák", "jan-novak")])
def test_a_user_name_s3_cannot_keep_is_refused_before_any_upload(
    vam_cli, david_env, bucket, name, plain
):
    """S3 user metadata is ASCII only: botocore refused 'uploaded-by: jürgen' mid-upload, in
    three lines, after the plan was shown."""
    result = vam_cli(
        "s3.up", "--brand", "ad", "--project", "b65", env={**david_env, "VAM_USER": name}
    )
    line = one_line_error(result, f"user {name!r}", f'write e.g. "{plain}"')
    assert "only ASCII" in line and result.stdout == ""


def test_unknown_user_says_how_to_set_it(vam_cli, sample, bucket):
    path = sample.write_settings("nobody")
    path.write_text("\n".join(x for x in path.read_text().splitlines() if not x.startswith("user")))
    env = {"VAM_SETTINGS": str(path)}
    one_line_error(
        vam_cli("s3.status", "--brand", "ad", "--project", "b65", env=env),
        "who you are is not set",
        "VAM_USER",
    )


def test_up_without_staging_folder_says_where(vam_cli, david_env, bucket, sample):
    line = one_line_error(
        vam_cli("s3.up", "--brand", "ad", "--project", "b64", env=david_env), "s3-staging"
    )
    assert "does not exist" in line and line.endswith("then run the same command again")
    # handoff hits the same check: it must not send the person to a different command
    line = one_line_error(
        vam_cli("handoff", "--brand", "ad", "--project", "b64", env=david_env), "s3-staging"
    )
    assert "vam s3.up" not in line and line.endswith("then run the same command again")


def test_dry_run_then_up_then_status_from_the_project_folder(vam_cli, david_env, bucket, sample):
    folder = sample.project("v-appydave", B65)
    dry = vam_cli("s3.up", "--dry-run", cwd=folder, env=david_env)
    assert dry.returncode == 0, dry.stderr
    assert "would upload" in dry.stdout and "3 to upload" in dry.stdout
    assert not (folder / ".vam" / "sync-david.json").exists()
    up = vam_cli("s3.up", "--json", cwd=folder, env=david_env)
    assert up.returncode == 0, up.stderr
    result = json.loads(up.stdout)
    assert result["ok"] and result["after"] == {"synced": 3}
    assert sorted(r["file"] for r in result["results"]) == [
        "b-roll café – take 2.mov",
        "brief.md",
        "raw.mp4",
    ]
    status = vam_cli("s3.status", cwd=folder, env=david_env)
    assert status.returncode == 0, status.stderr
    assert "nothing to do: everything is synced" in status.stdout
    assert "S3 staging expires" in status.stdout


def test_status_all_for_a_brand_and_up_all(vam_cli, david_env, bucket, sample):
    up = vam_cli("s3.up", "--brand", "voz", "--all", env=david_env)
    assert up.returncode == 0, up.stderr
    assert "boy-baker" in up.stdout and "2 uploaded" in up.stdout
    everything = vam_cli("s3.status", "--all", "--json", env=david_env)
    assert everything.returncode == 0, everything.stderr
    listing = json.loads(everything.stdout)["projects"]
    projects = {(p["brand"], p["project"]): p["counts"] for p in listing}
    assert projects[("voz", "boy-baker")] == {"synced": 2}
    assert projects[("appydave", B65)] == {"upload": 3}


def test_conflict_exits_non_zero_and_names_both_ways_out(vam_cli, david_env, bucket, sample, s3):
    folder = sample.project("v-appydave", B65)
    assert vam_cli("s3.up", cwd=folder, env=david_env).returncode == 0
    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    key = f"staging/v-appydave/{B65}/brief.md"
    client.put_object(
        Bucket="video-projects",
        Key=key,
        Body=b"edited elsewhere\n",
        Metadata={"uploaded-by": "jan"},
    )
    (folder / "s3-staging" / "brief.md").write_text("edited here, longer text\n")
    result = vam_cli("s3.up", cwd=folder, env=david_env)
    assert result.returncode == 1
    assert "conflict(s) left untouched" in result.stderr
    assert f"vam s3.up --brand appydave --project {B65} --force" in result.stdout
    assert f"vam s3.down --brand appydave --project {B65} --force" in result.stdout
    body = client.get_object(Bucket="video-projects", Key=key)["Body"].read()
    assert body == b"edited elsewhere\n"


def test_an_abort_the_server_answers_but_does_not_do_fails_with_one_line(
    vam_cli, david_env, bucket, s3
):
    """s3.uploads lists again after aborting: a server that answers the abort and keeps the
    upload is caught, and the person hears it in one line (exit 1), not "aborted 1"."""
    from tests.header_proxy import HeaderProxy

    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    key = f"staging/v-appydave/{B65}/raw.mp4"
    started = client.create_multipart_upload(Bucket="video-projects", Key=key)["UploadId"]

    def answers_without_aborting(method: str, target: str) -> tuple[int, str] | None:
        return (204, "NoContent") if method == "DELETE" and "uploadId=" in target else None

    with HeaderProxy(s3.endpoint_url, refuse=answers_without_aborting) as proxy:
        abort = ("s3.uploads", "--brand", "ad", "--abort-older-than", "7d", "--yes")
        result = vam_cli(*abort, env={**david_env, "AWS_ENDPOINT_URL": proxy.url})
    assert proxy.requests("DELETE")  # vam asked
    assert result.returncode == 1 and "aborted 1" not in result.stdout
    one_line_error(result, "1 upload(s) are still listed after aborting", "run the same command")
    listed = client.list_multipart_uploads(Bucket="video-projects")["Uploads"]
    assert [u["UploadId"] for u in listed] == [started]
