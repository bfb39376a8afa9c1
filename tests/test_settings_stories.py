"""Settings mistakes people make, caught before anything moves: through the real `vam`, with moto's
S3 server on loopback, each answer one line naming the file (and line) and the fix."""

from __future__ import annotations

import boto3
import pytest

from tests.test_cli import one_line_error

pytestmark = pytest.mark.integration

B65 = "b65-guy-monroe-marketing-plan"


@pytest.fixture
def bucket(s3):
    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket="video-projects")
    return client


def keys_in_s3(client) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket="video-projects").get("Contents", [])]


# --------------------------------------------------------------------------- a cap without a unit


def test_david_caps_his_upload_at_5_and_is_told_to_give_a_unit(vam_cli, sample, bucket):
    """`--max-rate 5` was 5 bytes a second: the upload sat for ever, printing nothing."""
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}
    # before the fix this upload crawled at 5 B/s until the timeout
    result = vam_cli(
        "s3.up", "--brand", "ad", "--project", "b65", "--max-rate", "5", env=env, timeout=60
    )
    line = one_line_error(result, "--max-rate 5 has no unit; give a unit: 5MB/s, 20Mbit, 500KB/s")
    assert line.startswith("vam: ") and result.returncode == 2
    assert result.stdout == "" and keys_in_s3(bucket) == []


def test_a_cap_without_a_unit_in_the_settings_file_stops_every_command(vam_cli, sample, bucket):
    path = sample.write_settings("david", max_rate=5)
    line_no = path.read_text().splitlines().index("max_rate = 5") + 1
    for args in (("doctor", "--offline"), ("s3.up", "--brand", "ad", "--project", "b65")):
        one_line_error(
            vam_cli(*args, env={"VAM_SETTINGS": str(path)}),
            f"{path}:{line_no}: max_rate 5 has no unit; give a unit: 5MB/s, 20Mbit, 500KB/s",
        )
    assert keys_in_s3(bucket) == []
    env = {"VAM_SETTINGS": str(sample.write_settings("david")), "VAM_MAX_RATE": "5"}
    one_line_error(vam_cli("doctor", "--offline", env=env), "$VAM_MAX_RATE 5 has no unit")


def test_zero_and_off_still_mean_no_cap(vam_cli, sample, bucket):
    env = {"VAM_SETTINGS": str(sample.write_settings("david", max_rate="off"))}
    result = vam_cli("s3.up", "--brand", "ad", "--project", "b65", "--max-rate", "0", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and len(keys_in_s3(bucket)) >= 3


def test_a_cap_under_64_kb_a_second_is_a_one_line_warning_and_the_command_goes_on(
    vam_cli, sample, bucket
):
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}
    result = vam_cli(
        "s3.up", "--brand", "ad", "--project", "b65", "--max-rate", "40KB/s", "--dry-run", env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "vam: warning: the bandwidth cap 40.0 KB/s (from --max-rate) is under 64 KB/s: "
        "1 GB takes 6h56m at that rate\n"
    )
    assert "would upload" in result.stdout
    # from the settings file, the warning names the file
    path = sample.write_settings("david", max_rate="20kbit")
    result = vam_cli(
        "s3.up", "--brand", "ad", "--project", "b65", "--dry-run", env={"VAM_SETTINGS": str(path)}
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"vam: warning: the bandwidth cap 2.5 KB/s (from {path}) ")
    assert result.stderr.count("\n") == 1 and keys_in_s3(bucket) == []
    result = vam_cli("doctor", "--brand", "ad", "--offline", env={"VAM_SETTINGS": str(path)})
    assert "max rate       2.5 KB/s  (under 64 KB/s: 1 GB takes 111h06m)" in result.stdout


# --------------------------------------------------------------------------- a user nobody knows


def sync_records(sample) -> list[str]:
    state = sample.project("v-appydave", B65) / ".vam"
    return sorted(p.name for p in state.glob("sync-*.json")) if state.is_dir() else []


def test_a_user_name_the_team_does_not_know_is_refused_with_the_nearest(vam_cli, sample, bucket):
    """`user = "dave"` passed doctor ("✓ user known") and split the sync record: David's uploads
    went out as dave's, and Jan's next ordinary change showed up as a conflict."""
    path = sample.write_settings("dave")
    env = {"VAM_SETTINGS": str(path)}
    for args in (("s3.up",), ("s3.status",), ("handoff", "--message", "raw cut")):
        line = one_line_error(
            vam_cli(*args, "--brand", "ad", "--project", "b65", env=env),
            f"{path}:1: user 'dave' is not one of the team's users in {sample.brands_file} "
            "(david, jan); did you mean 'david'?",
        )
        assert "[users.dave]" in line  # a real newcomer is told where they must be added
    assert keys_in_s3(bucket) == [] and sync_records(sample) == []

    result = vam_cli("doctor", "--brand", "ad", "--offline", env=env)
    assert result.returncode == 1
    assert (
        "✗ user known: 'dave' is not one of the team's users (david, jan); did you mean 'david'?"
        f' — fix: set user = "david" in {path}'
    ) in result.stdout


def test_an_unknown_user_from_the_environment_names_vam_user(vam_cli, sample, bucket):
    env = {"VAM_SETTINGS": str(sample.write_settings("david")), "VAM_USER": "Jan"}
    one_line_error(
        vam_cli("s3.down", "--brand", "ad", "--project", "b65", env=env),
        "$VAM_USER: user 'Jan' is not one of the team's users",
        "did you mean 'jan'?",
    )
    assert sync_records(sample) == []


def test_a_team_without_a_users_list_accepts_any_name(vam_cli, sample, bucket):
    """Nothing to check against: brands.toml lists no [users] at all."""
    text = sample.brands_file.read_text()
    sample.brands_file.write_text(text[: text.index("[users.")])
    env = {"VAM_SETTINGS": str(sample.write_settings("dave"))}
    result = vam_cli("s3.up", "--brand", "ad", "--project", "b65", env=env)
    assert result.returncode == 0, result.stderr
    assert sync_records(sample) == ["sync-dave.json"]
    result = vam_cli("doctor", "--brand", "ad", "--offline", env=env)
    assert "✓ user known: dave" in result.stdout and result.returncode == 0


# --------------------------------------------------------------------------- a key after a table


def test_a_setting_added_at_the_end_of_the_file_lands_in_ssd_and_vam_says_so(
    vam_cli, sample, bucket, tmp_path
):
    """David adds `projects_root` at the bottom of his settings, below [ssd]; TOML files it under
    [ssd], and vam answered "projects root unknown: set projects_root in your settings file"."""
    team = tmp_path / "team" / "brands.toml"  # away from the projects root: nothing to infer
    team.parent.mkdir()
    team.write_text(sample.brands_file.read_text())
    path = tmp_path / "settings.toml"
    path.write_text(
        f'user = "david"\nbrands_file = "{team}"\n\n[ssd]\n'
        f'appydave = "{sample.ssd_root / "appydave"}"\n\nprojects_root = "{sample.root}"\n'
    )
    says = f"'projects_root' is inside [ssd] in {path} line 7; move it above the first [table]"
    for args in (("doctor", "--offline"), ("s3.status", "--brand", "ad", "--project", "b65")):
        result = vam_cli(*args, cwd=tmp_path, env={"VAM_SETTINGS": str(path)})
        assert one_line_error(result, says) == f"vam: {says}"
