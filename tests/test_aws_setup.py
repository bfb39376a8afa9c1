"""The aws.* tasks against moto's server on loopback (no IAM enforcement here; see
test_aws_enforced.py): plan-then-apply, idempotency, confirmation, bad input, and the secret never
reaching stdout/stderr."""

import json
import os
import stat
import subprocess
import sys

import boto3
import pytest
from invoke import Context, Exit

from tests.conftest import REPO
from vam.aws import bucket, iamuser
from vam.core.errors import AwsError
from vam.tasks import aws as tasks

ENDPOINT_REGION = "us-east-1"


@pytest.fixture
def david(sample, as_user, s3, monkeypatch):
    """David, the owner, in the projects root, with admin-ish (moto's any) credentials."""
    with sample.brands_file.open("a") as fh:
        fh.write('\n[users.client]\nrole = "client"\nbrands = ["voz"]\n')
    as_user("david")
    monkeypatch.chdir(sample.root)
    return sample


def client(s3, service):
    return boto3.client(service, endpoint_url=s3.endpoint_url, region_name=ENDPOINT_REGION)


def today():
    import datetime

    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")


def run(task, **kwargs):
    return task(Context(), **kwargs)


def secrets_in(iam_user, keys_dir):
    found = []
    for path in keys_dir.glob(f"{iam_user}-*.toml"):
        text = path.read_text()
        found.append(text.split("aws_secret_access_key = ")[1].strip().strip('"'))
    return found


# --------------------------------------------------------------------------- bucket


def test_setup_bucket_plans_applies_and_second_run_changes_nothing(david, s3, capsys):
    dry = run(tasks.setup_bucket, dry_run=True)
    out = capsys.readouterr().out
    assert "bucket video-projects does not exist yet" in out and "dry run: 9 changes" in out
    assert "create in us-east-1 (no location constraint)" in out
    assert "video-projects" not in [b["Name"] for b in client(s3, "s3").list_buckets()["Buckets"]]
    assert not dry.exists and len(dry.changes) == 9

    first = run(tasks.setup_bucket)
    assert "changed 9; bucket video-projects re-checked: as intended" in capsys.readouterr().out
    assert first.changes == dry.changes

    s3c = client(s3, "s3")
    assert s3c.get_bucket_versioning(Bucket="video-projects")["Status"] == "Enabled"
    assert all(
        s3c.get_public_access_block(Bucket="video-projects")[
            "PublicAccessBlockConfiguration"
        ].values()
    )
    rules = {
        r["ID"]: r for r in s3c.get_bucket_lifecycle_configuration(Bucket="video-projects")["Rules"]
    }
    assert rules["vam-expire-staging"]["Filter"] == {"Prefix": "staging/"}
    assert rules["vam-expire-staging"]["Expiration"] == {"Days": 90}
    assert rules["vam-expire-noncurrent-versions"]["Filter"] == {"Prefix": "staging/"}
    assert rules["vam-expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 14
    }
    # the archive: nothing expires, old versions kept for Deep Archive's 180 days
    assert rules["vam-keep-archive-versions"]["Filter"] == {"Prefix": "archive/"}
    assert rules["vam-keep-archive-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 180
    }
    assert "Expiration" not in rules["vam-keep-archive-versions"] or rules[
        "vam-keep-archive-versions"
    ]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert rules["vam-abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7
    }

    second = run(tasks.setup_bucket)
    out = capsys.readouterr().out
    assert second.nothing_to_change and second.changes == ()
    assert "exists in us-east-1" in out and "versioning: on" in out
    assert out.rstrip().endswith("nothing to change")


def test_existing_bucket_with_other_settings_needs_yes(david, s3, capsys):
    s3c = client(s3, "s3")
    s3c.create_bucket(Bucket="video-projects")
    s3c.put_bucket_lifecycle_configuration(
        Bucket="video-projects",
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "mine",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "raw/"},
                    "Expiration": {"Days": 3},
                }
            ]
        },
    )
    s3c.put_bucket_tagging(
        Bucket="video-projects", Tagging={"TagSet": [{"Key": "team", "Value": "v"}]}
    )
    # pytest's stdin is not a terminal: without --yes vam refuses, with the fix in one line
    with pytest.raises(Exit) as refused:
        run(tasks.setup_bucket)
    assert "needs confirmation; run the same command with --yes" in str(refused.value.message)
    out = capsys.readouterr().out
    assert "lifecycle mine: objects under raw/ expire after 3 days" in out  # what exists
    assert "versioning: off -> on" in out  # what would change
    assert s3c.get_bucket_versioning(Bucket="video-projects").get("Status") is None

    run(tasks.setup_bucket, yes=True)
    rules = s3c.get_bucket_lifecycle_configuration(Bucket="video-projects")["Rules"]
    assert "mine" in {r["ID"] for r in rules}  # someone else's rule is kept
    tags = {t["Key"]: t["Value"] for t in s3c.get_bucket_tagging(Bucket="video-projects")["TagSet"]}
    assert tags == {"team": "v", "project": "video-projects", "managed-by": "vam"}
    assert run(tasks.setup_bucket).nothing_to_change


def test_bucket_in_another_region_is_one_clear_line(david, s3, vam_cli):
    boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="eu-west-1").create_bucket(
        Bucket="video-projects", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    result = vam_cli("aws.setup-bucket", cwd=david.root)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "vam: bucket video-projects already exists in eu-west-1, but brands.toml says region "
        'us-east-1; set region = "eu-west-1" under [storage] in brands.toml (or choose another '
        "bucket name)"
    ]


def test_demo_can_create_the_bucket_through_the_library(s3, sample):
    from vam.core.config import load_config

    storage = load_config(cwd=sample.root).storage
    s3c = client(s3, "s3")
    plan = bucket.plan_bucket(s3c, storage)
    assert bucket.apply_bucket(s3c, plan) == plan.changes
    assert bucket.plan_bucket(s3c, storage).nothing_to_change


# --------------------------------------------------------------------------- policy


def test_setup_policy_creates_every_scope_once(david, s3, capsys):
    plans = run(tasks.setup_policy)
    names = {p.scope.name for p in plans}
    assert names == {
        "vam-video-projects-staging",
        "vam-video-projects-staging-owner",  # david, who may write and delete the archive
        "vam-video-projects-staging-voz",
    }
    assert all(p.action == "create" for p in plans)
    assert "changed 3 policies" in capsys.readouterr().out
    again = run(tasks.setup_policy)
    assert all(p.nothing_to_change for p in again)
    assert capsys.readouterr().out.rstrip().endswith("nothing to change")
    iam = client(s3, "iam")
    arn = next(p.arn for p in plans if p.scope.name.endswith("-voz"))
    doc = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"]
    assert "staging/v-appydave" not in json.dumps(doc)


def test_changed_document_becomes_a_new_version_and_the_oldest_goes_at_five(david, s3, capsys):
    run(tasks.setup_policy, brands="voz")
    iam = client(s3, "iam")
    arn = "arn:aws:iam::123456789012:policy/vam-video-projects-staging-voz"
    stale = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::video-projects/x/*",
                }
            ],
        }
    )
    for _ in range(4):  # v2..v5, the stale one as default
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=stale, SetAsDefault=True)
    capsys.readouterr()
    run(tasks.setup_policy, brands="voz", dry_run=True)
    out = capsys.readouterr().out
    assert (
        "document differs -> new default version" in out
        and "delete the oldest non-default, v1" in out
    )
    (plan,) = run(tasks.setup_policy, brands="voz")
    assert plan.action == "new-version" and plan.delete_version == "v1"
    versions = {v["VersionId"]: v for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]}
    assert "v1" not in versions and len(versions) == 5
    assert run(tasks.setup_policy, brands="voz")[0].nothing_to_change


# --------------------------------------------------------------------------- users and keys


def test_setup_user_writes_a_0600_key_file_and_second_run_changes_nothing(david, s3, capfd):
    run(tasks.setup_bucket)
    first = run(tasks.setup_user, name="jan")
    out, err = capfd.readouterr()
    assert first.create_key and not first.user_exists
    keys_dir = os.path.join(os.environ["HOME"], ".config", "vam", "keys")
    (path,) = [os.path.join(keys_dir, n) for n in os.listdir(keys_dir)]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    secret = open(path).read().split("aws_secret_access_key = ")[1].strip().strip('"')
    assert secret and secret not in out + err
    assert f"jan runs: vam aws.import-key --file {os.path.basename(path)}" in out

    second = run(tasks.setup_user, name="jan")
    out, err = capfd.readouterr()
    assert second.nothing_to_change and not second.create_key
    assert out.rstrip().endswith("nothing to change") and secret not in out + err
    assert len(os.listdir(keys_dir)) == 1
    iam = client(s3, "iam")
    attached = iam.list_attached_user_policies(UserName="jan-video-projects")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["vam-video-projects-staging"]


def test_setup_user_with_profile_writes_this_machines_credentials(david, s3, capfd):
    run(tasks.setup_user, name="client", profile="client")
    out, err = capfd.readouterr()
    creds = os.environ["AWS_SHARED_CREDENTIALS_FILE"]
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    text = open(creds).read()
    secret = text.split("aws_secret_access_key = ")[1].splitlines()[0]
    assert secret not in out + err
    # the client's user has the voz-only policy
    iam = client(s3, "iam")
    attached = iam.list_attached_user_policies(UserName="client-video-projects")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["vam-video-projects-staging-voz"]
    # a second key into the same profile would clobber it: refused before any key is made
    with pytest.raises(Exit) as refused:
        run(tasks.setup_user, name="client", profile="client", new_key=True)
    assert "already holds key" in refused.value.message and "--replace" in refused.value.message
    assert len(iam.list_access_keys(UserName="client-video-projects")["AccessKeyMetadata"]) == 1


def test_user_with_two_keys_is_one_clear_line(david, s3, vam_cli):
    iam = client(s3, "iam")
    iam.create_user(UserName="jan-video-projects")
    ids = [
        iam.create_access_key(UserName="jan-video-projects")["AccessKey"]["AccessKeyId"]
        for _ in "ab"
    ]
    with pytest.raises(Exit) as refused:
        run(tasks.setup_user, name="jan", new_key=True)
    assert refused.value.message == (
        f"vam: IAM user jan-video-projects already has 2 access keys ({ids[0]} (active, created "
        f"{today()}), {ids[1]} (active, created {today()})), IAM's maximum; replace one with "
        f"`vam aws.rotate-key --name jan --old-key KEYID` or delete the unused one"
    )
    result = vam_cli("aws.rotate-key", "--name", "jan", cwd=david.root)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert all(i in lines[0] for i in ids) and "say which one to replace with --old-key" in lines[0]
    # setting up a user that has keys does not need a new one: nothing is refused
    plan = run(tasks.setup_user, name="jan")
    assert plan.attach and not plan.create_key
    assert run(tasks.setup_user, name="jan").nothing_to_change


def test_unknown_person_is_one_clear_line(david, s3, vam_cli):
    result = vam_cli("aws.setup-user", "--name", "mallory", cwd=david.root)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "vam: 'mallory' is not in brands.toml [users] (known: david, jan, client); add "
        f"[users.mallory] (with brands = [...] to limit them to some brands) to "
        f"{david.brands_file} and run again"
    )


def test_rotate_key_replaces_the_key_and_the_new_one_works(david, s3, capfd):
    run(tasks.setup_bucket)
    run(tasks.setup_user, name="jan")
    iam = client(s3, "iam")
    (old,) = iam.list_access_keys(UserName="jan-video-projects")["AccessKeyMetadata"]
    capfd.readouterr()
    result = run(tasks.rotate_key, name="jan")
    out, err = capfd.readouterr()
    (new,) = iam.list_access_keys(UserName="jan-video-projects")["AccessKeyMetadata"]
    assert new["AccessKeyId"] == result.new_key_id != old["AccessKeyId"]
    assert result.deleted == (old["AccessKeyId"],)
    assert result.key.secret not in out + err
    assert f"deleted {old['AccessKeyId']}" in out
    new_file = f"jan-video-projects-{new['AccessKeyId']}.toml"
    assert f"jan runs: vam aws.import-key --file {new_file} --replace" in out
    session = boto3.Session(
        aws_access_key_id=new["AccessKeyId"], aws_secret_access_key=result.key.secret
    )
    ident = session.client("sts", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    assert ident.get_caller_identity()["Arn"].endswith("user/jan-video-projects")


def test_rotation_with_two_keys_deletes_the_inactive_one_first(david, s3):
    iam = client(s3, "iam")
    run(tasks.setup_bucket)
    run(tasks.setup_user, name="jan")
    run(tasks.setup_user, name="jan", new_key=True)
    first, second = (
        k["AccessKeyId"]
        for k in iam.list_access_keys(UserName="jan-video-projects")["AccessKeyMetadata"]
    )
    iam.update_access_key(UserName="jan-video-projects", AccessKeyId=first, Status="Inactive")
    from vam.core.config import load_config

    plan = iamuser.plan_rotation(iam, load_config().team, "jan")
    assert plan.delete_first.id == first and plan.replace.id == second
    result = run(tasks.rotate_key, name="jan")
    left = [
        k["AccessKeyId"]
        for k in iam.list_access_keys(UserName="jan-video-projects")["AccessKeyMetadata"]
    ]
    assert left == [result.new_key_id] and set(result.deleted) == {first, second}


def test_failed_proof_keeps_the_old_key_and_deletes_the_new(david, s3):
    """A new key that does not work (here: the bucket is missing, so the listing fails) is deleted
    again; the old key is untouched."""
    run(tasks.setup_user, name="jan")  # no bucket
    iam = client(s3, "iam")
    (old,) = iam.list_access_keys(UserName="jan-video-projects")["AccessKeyMetadata"]
    from vam.core.config import load_config

    config = load_config()
    plan = iamuser.plan_rotation(iam, config.team, "jan")
    stored = []
    with pytest.raises(
        AwsError,
        match="could not list video-projects/staging/v-voz/ .NoSuchBucket.; "
        "run `vam aws.setup-bucket`.*the old key is untouched",
    ):
        iamuser.rotate(
            iam,
            plan,
            prove=lambda k: iamuser.prove_key(
                k, config.storage, "staging/v-voz/", attempts=2, sleep=lambda s: None
            ),
            store=stored.append,
        )
    assert stored == []
    keys = iam.list_access_keys(UserName="jan-video-projects")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(old["AccessKeyId"], "Active")]


# --------------------------------------------------------------------------- import and check


@pytest.mark.slow
def test_jan_imports_the_key_file_and_check_passes(david, s3, vam_cli, tmp_path):
    run(tasks.setup_bucket)
    run(tasks.setup_user, name="jan", out=str(tmp_path / "for-jan.toml"))
    secret = (tmp_path / "for-jan.toml").read_text().split("aws_secret_access_key = ")[1].strip()
    # Jan's machine: her own HOME and AWS files, no credentials of David's in the environment
    jan_home = tmp_path / "jan-home"
    jan_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "VAM_SETTINGS")
    }
    jan_env.update(
        HOME=str(jan_home),
        AWS_SHARED_CREDENTIALS_FILE=str(jan_home / ".aws" / "credentials"),
        AWS_CONFIG_FILE=str(jan_home / ".aws" / "config"),
        VAM_BRANDS=str(david.brands_file),
        PYTHONPATH=str(REPO),
    )

    def jan(*args):
        return subprocess.run(
            [sys.executable, "-m", "vam", *args],
            cwd=tmp_path,
            env=jan_env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    dry = jan("aws.import-key", "--file", "for-jan.toml", "--dry-run")
    assert dry.returncode == 0 and "dry run: nothing changed" in dry.stdout
    assert not (jan_home / ".aws" / "credentials").exists()
    first = jan("aws.import-key", "--file", "for-jan.toml")
    assert first.returncode == 0, first.stderr
    assert "the key works: arn:aws:iam::123456789012:user/jan-video-projects" in first.stdout
    settings = jan_home / ".config" / "vam" / "settings.toml"
    assert settings.read_text() == 'aws_profile = "jan"\n'
    assert stat.S_IMODE(os.stat(jan_home / ".aws" / "credentials").st_mode) == 0o600
    second = jan("aws.import-key", "--file", "for-jan.toml")
    assert second.returncode == 0 and second.stdout.rstrip().endswith("nothing to change")
    check = jan("aws.check")
    assert "✓ appydave staging: list, put, get, delete under staging/v-appydave/" in check.stdout
    # this server does not enforce IAM, so Jan's editor key may write the archive, and the
    # check says so (tests/test_aws_enforced.py: with enforcement it is refused, and ✓)
    failed = [line for line in check.stdout.splitlines() if line.startswith("✗")]
    assert len(failed) == 6 and all(
        "archive: these credentials may put and delete archive objects" in line for line in failed
    ), check.stdout
    assert check.returncode == 1 and check.stderr.strip() == "vam: 6 of 23 checks failed"
    for result in (dry, first, second, check):
        assert secret.strip('"') not in result.stdout + result.stderr

    # David rotates Jan's key: her profile holds the old one, so the import needs --replace
    run(tasks.rotate_key, name="jan", out=str(tmp_path / "rotated.toml"))
    refused = jan("aws.import-key", "--file", "rotated.toml")
    assert refused.returncode == 1 and "add --replace to overwrite it" in refused.stderr
    replaced = jan("aws.import-key", "--file", "rotated.toml", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    rechecked = jan("aws.check", "--brand", "voz")  # the new key works (the archive line as above)
    assert "✓ voz staging: list, put, get, delete under staging/v-voz/" in rechecked.stdout
    assert rechecked.stderr.strip() == "vam: 1 of 13 checks failed"


def test_check_reports_settings_that_differ_and_exits_non_zero(david, s3, vam_cli):
    run(tasks.setup_bucket)
    client(s3, "s3").put_bucket_versioning(
        Bucket="video-projects", VersioningConfiguration={"Status": "Suspended"}
    )
    result = vam_cli("aws.check", "--brand", "voz", cwd=david.root)
    assert result.returncode == 1
    assert "✓ voz staging: list, put, get, delete under staging/v-voz/" in result.stdout
    assert (
        "✗ bucket versioning: is suspended, should be on — fix: `vam aws.setup-bucket` with the "
        "owner's profile" in result.stdout
    )
    assert "✓ bucket encryption: as intended" in result.stdout
    assert (
        "✓ voz archive: list, put, get, delete (as the owner) under archive/v-voz/" in result.stdout
    )
    assert "✓ archive lifecycle: nothing expires objects under archive/" in result.stdout
    # incl. conditional writes and the archive's lifecycle
    assert result.stderr.strip() == "vam: 1 of 13 checks failed"
    # the probe left nothing behind that sync would see as a project
    for prefix in ("staging/", "archive/"):
        listed = client(s3, "s3").list_objects_v2(Bucket="video-projects", Prefix=prefix)
        assert listed.get("KeyCount", 0) == 0


def test_check_without_a_bucket_says_setup_bucket(david, s3, vam_cli):
    result = vam_cli("aws.check", cwd=david.root)
    assert result.returncode == 1
    assert (
        "✗ bucket: bucket video-projects does not exist; create it with `vam aws.setup-bucket`"
        in (result.stdout)
    )


def test_a_persons_brands_change_moves_them_to_the_new_policy(david, s3):
    run(tasks.setup_user, name="client")
    text = david.brands_file.read_text().replace('brands = ["voz"]', 'brands = ["voz", "kiros"]')
    david.brands_file.write_text(text)
    plan = run(tasks.setup_user, name="client")
    assert plan.policy.action == "create" and not plan.create_key
    assert plan.attach.endswith("/vam-video-projects-staging-kiros-voz")
    assert [a.rsplit("/", 1)[1] for a in plan.detach] == ["vam-video-projects-staging-voz"]
    attached = client(s3, "iam").list_attached_user_policies(UserName="client-video-projects")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == [
        "vam-video-projects-staging-kiros-voz"
    ]
    assert run(tasks.setup_user, name="client").nothing_to_change


@pytest.mark.slow
def test_the_secret_never_reaches_the_terminal(david, s3, vam_cli, tmp_path):
    """As a person runs it: setup-user into a file, rotate-key into a profile, and a dry run."""
    assert vam_cli("aws.setup-bucket", cwd=david.root).returncode == 0
    results = [
        vam_cli(
            "aws.setup-user", "--name", "jan", "--out", str(tmp_path / "jan.toml"), cwd=david.root
        ),
        vam_cli("aws.rotate-key", "--name", "jan", "--dry-run", cwd=david.root),
        vam_cli("aws.rotate-key", "--name", "jan", "--profile", "jan", cwd=david.root),
    ]
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    first = (
        (tmp_path / "jan.toml").read_text().split("aws_secret_access_key = ")[1].strip().strip('"')
    )
    creds = open(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).read()
    second = creds.split("aws_secret_access_key = ")[1].splitlines()[0]
    assert first != second
    for result in results:
        assert first not in result.stdout + result.stderr
        assert second not in result.stdout + result.stderr
    assert "jan runs: vam aws.import-key --file jan.toml" in results[0].stdout


def test_at_a_terminal_the_person_is_asked(david, s3, monkeypatch, capsys):
    class Terminal:
        def isatty(self):
            return True

    s3c = client(s3, "s3")
    s3c.create_bucket(Bucket="video-projects")
    monkeypatch.setattr(sys, "stdin", Terminal())
    asked = []
    monkeypatch.setattr("builtins.input", lambda q: asked.append(q) or "n")
    with pytest.raises(Exit) as said_no:
        run(tasks.setup_bucket)
    assert said_no.value.message == "vam: nothing changed"
    assert asked == ["bucket video-projects exists with other settings; change 8 of them? [y/N] "]
    assert s3c.get_bucket_versioning(Bucket="video-projects").get("Status") is None
    monkeypatch.setattr("builtins.input", lambda q: "y")
    assert len(run(tasks.setup_bucket).changes) == 8
    assert run(tasks.setup_bucket).nothing_to_change
