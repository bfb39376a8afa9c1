"""S3 Transfer Acceleration (issue 15), configured and checked on moto's server: `accelerate = true`
under [storage] in brands.toml, `aws.setup-bucket` enables it on the bucket, transfers use the
accelerate endpoint, `doctor` shows it, and a non-AWS endpoint_url is refused in one line. Its
speed cannot be measured here (no AWS account, no network): only its configuration is tested."""

from __future__ import annotations

import boto3
import pytest
from invoke import Context

from vam.aws.client import connect_as
from vam.core.config import load_config
from vam.tasks import aws as tasks

BUCKET = "video-projects"


def accelerate_in(sample, extra: str = "") -> None:
    """Turn acceleration on in the sample's brands.toml (plus any other storage keys)."""
    text = sample.brands_file.read_text()
    assert "[storage]\n" in text
    sample.brands_file.write_text(
        text.replace("[storage]\n", f"[storage]\naccelerate = true\n{extra}")
    )


@pytest.fixture
def david(sample, as_user, s3, monkeypatch):
    as_user("david")
    monkeypatch.chdir(sample.root)
    return sample


def moto(s3):
    return boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")


def test_a_non_aws_endpoint_with_acceleration_is_refused_in_one_line(david, vam_cli):
    accelerate_in(david, 'endpoint_url = "http://127.0.0.1:9000"\n')
    result = vam_cli("s3.status", "--brand", "appydave", cwd=david.root)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "accelerate = true needs AWS's S3" in lines[0]
    assert "http://127.0.0.1:9000" in lines[0] and "brands.toml" in lines[0]


def test_a_bucket_name_with_dots_cannot_be_accelerated(david, vam_cli):
    text = david.brands_file.read_text().replace(
        f'bucket = "{BUCKET}"', 'bucket = "video.projects"'
    )
    david.brands_file.write_text(text)
    accelerate_in(david)
    result = vam_cli("doctor", cwd=david.root)
    assert result.returncode != 0
    assert "containing dots (video.projects)" in result.stderr and "Traceback" not in result.stderr


def test_setup_bucket_enables_acceleration_and_a_second_run_changes_nothing(david, s3, capsys):
    accelerate_in(david)
    plan = tasks.setup_bucket(Context(), dry_run=True)
    assert "transfer acceleration: off -> on" in [c.line() for c in plan.changes]
    tasks.setup_bucket(Context())
    assert moto(s3).get_bucket_accelerate_configuration(Bucket=BUCKET)["Status"] == "Enabled"
    capsys.readouterr()
    again = tasks.setup_bucket(Context())
    out = capsys.readouterr().out
    assert again.nothing_to_change and "nothing to change" in out
    assert "transfer acceleration: on" in out  # what the bucket has, listed before the plan


def test_without_accelerate_setup_bucket_leaves_the_setting_alone(david, s3):
    tasks.setup_bucket(Context())
    c = moto(s3)
    c.put_bucket_accelerate_configuration(
        Bucket=BUCKET, AccelerateConfiguration={"Status": "Enabled"}
    )  # someone turned it on by hand: not vam's to turn off
    assert tasks.setup_bucket(Context()).nothing_to_change
    assert c.get_bucket_accelerate_configuration(Bucket=BUCKET)["Status"] == "Enabled"


def test_aws_check_and_doctor_report_acceleration_the_bucket_lacks(david, s3, vam_cli):
    tasks.setup_bucket(Context())
    accelerate_in(david)
    check = vam_cli("aws.check", cwd=david.root)
    assert check.returncode != 0
    assert "bucket transfer acceleration" in check.stdout and "is off, should be on" in check.stdout
    doctor = vam_cli("doctor", cwd=david.root)
    assert "acceleration   asked for, not used: $AWS_ENDPOINT_URL" in doctor.stdout
    assert "✗ transfer acceleration" in doctor.stdout and "aws.setup-bucket" in doctor.stdout
    tasks.setup_bucket(Context(), yes=True)
    doctor = vam_cli("doctor", cwd=david.root)
    assert "✓ transfer acceleration" in doctor.stdout and f"on for {BUCKET}" in doctor.stdout


def requested_url(client) -> str:
    """The URL botocore would send a PutObject to (stopped before it leaves the machine)."""
    seen: list[str] = []

    class Stop(Exception):
        pass

    def grab(request, **_):
        seen.append(request.url)
        raise Stop

    client.meta.events.register("before-send.s3.PutObject", grab)
    with pytest.raises(Stop):
        client.put_object(Bucket=BUCKET, Key="staging/v-appydave/b65/x.txt", Body=b"x")
    return seen[0]


def test_transfers_use_the_accelerate_endpoint_on_aws(david, monkeypatch):
    accelerate_in(david)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    aws = connect_as(load_config(david.root))
    assert aws.accelerated
    transfers = requested_url(aws.client("s3", transfers=True))
    assert transfers.startswith(f"https://{BUCKET}.s3-accelerate.amazonaws.com/staging/")
    # bucket settings stay on the bucket's own endpoint (AWS answers them only there)
    assert "s3-accelerate" not in requested_url(aws.client("s3"))


def test_a_local_server_in_the_environment_wins_over_acceleration(david, s3):
    accelerate_in(david)  # AWS_ENDPOINT_URL points at moto (the fixture)
    aws = connect_as(load_config(david.root))
    assert not aws.accelerated
    assert requested_url(aws.client("s3", transfers=True)).startswith(s3.endpoint_url)
