"""Least privilege for real: a moto server of our own with IAM authentication enforced (it is
global per server process, so never the shared session server). An admin key (made before
enforcement) runs the setup tasks; the keys they hand out are then used for real.

moto does not evaluate policy conditions, so the s3:prefix restriction on ListBucket is checked
in test_aws_pure.py by reading the document; object access is enforced here by resource ARN.
"""

import contextlib
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import botocore.exceptions as bce
import pytest
from invoke import Context, Exit

from vam.aws import keyfile
from vam.tasks import aws as tasks

pytestmark = pytest.mark.slow  # a server of its own, a dozen IAM round trips per test

BUCKET = "video-projects"
ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
S3_ONLY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


@contextlib.contextmanager
def moto_in_its_own_process():
    """moto keeps its accounts and its auth switch in process-global state: a second server in
    the test process would share them with the session's `s3_server` (and turn enforcement on
    for every later test). So this one runs in a child process, stopped by its pid."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # until it answers (no timing assertion: just wait for it)
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=5).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def enforced():
    """(endpoint, admin key, s3-only key, key without rights) on a server that checks every
    request's signature and policy from the moment those users exist."""
    with moto_in_its_own_process() as endpoint:
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="boot",
            aws_secret_access_key="boot",
        )
        keys = {}
        for user, doc in (("admin", ALL), ("s3-only", S3_ONLY), ("stranger", None)):
            iam.create_user(UserName=user)
            if doc:
                iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=doc)
            keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
        req = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth",
            data=b"0",
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        urllib.request.urlopen(req, timeout=30).close()
        yield endpoint, keys["admin"], keys["s3-only"], keys["stranger"]


def use_key(monkeypatch, endpoint, key):
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def admin(enforced, sample, as_user, monkeypatch):
    endpoint, admin_key, *_ = enforced
    with sample.brands_file.open("a") as fh:
        # one person per test: the server (and its IAM users) lives for the whole module
        fh.write(
            '\n[users.client]\nrole = "client"\nbrands = ["voz"]\n'
            '[users.checker]\nbrands = ["voz"]\n[users.editor]\n'
            '[users.restorer]\n[users.boss]\nrole = "owner"\n'
        )
    as_user("david")
    monkeypatch.chdir(sample.root)
    use_key(monkeypatch, endpoint, admin_key)
    tasks.setup_bucket(Context(), yes=True)
    return sample


def s3_with(endpoint, key_file_path):
    kf = keyfile.read_key_file(key_file_path)
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=kf.key.access_key_id,
        aws_secret_access_key=kf.key.secret,
    )


def denied(call, **kwargs):
    with pytest.raises(bce.ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"]


def handed_over(person, tmp_path, capfd):
    out = tmp_path / f"{person}.toml"
    plan = tasks.setup_user(Context(), name=person, out=str(out))
    printed = capfd.readouterr()
    secret = keyfile.read_key_file(out).key.secret
    assert secret not in printed.out + printed.err
    return plan, out


def test_janes_key_works_under_staging_and_nowhere_else(admin, enforced, tmp_path, capfd):
    endpoint = enforced[0]
    plan, key_path = handed_over("jan", tmp_path, capfd)
    assert plan.scope.every_brand
    jan = s3_with(endpoint, key_path)
    key = "staging/v-appydave/b65-guy-monroe-marketing-plan/raw.mp4"
    jan.put_object(Bucket=BUCKET, Key=key, Body=b"raw cut")
    assert jan.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"raw cut"
    listed = jan.list_objects_v2(Bucket=BUCKET, Prefix="staging/v-appydave/")
    assert [o["Key"] for o in listed["Contents"]] == [key]
    jan.delete_object(Bucket=BUCKET, Key=key)
    jan.put_object(Bucket=BUCKET, Key="staging/v-voz/boy-baker/edit.mp4", Body=b"edit")
    # outside staging: denied
    assert denied(jan.put_object, Bucket=BUCKET, Key="elsewhere/x.mp4", Body=b"x") == "AccessDenied"
    assert denied(jan.get_object, Bucket=BUCKET, Key="elsewhere/x.mp4") == "AccessDenied"
    # bucket configuration: denied
    assert (
        denied(
            jan.put_bucket_versioning,
            Bucket=BUCKET,
            VersioningConfiguration={"Status": "Suspended"},
        )
        == "AccessDenied"
    )
    assert denied(jan.delete_bucket, Bucket=BUCKET) == "AccessDenied"
    assert denied(jan.put_bucket_policy, Bucket=BUCKET, Policy="{}") == "AccessDenied"
    assert (
        denied(
            jan.put_bucket_lifecycle_configuration,
            Bucket=BUCKET,
            LifecycleConfiguration={"Rules": []},
        )
        == "AccessDenied"
    )


def test_a_voz_client_is_denied_other_brands(admin, enforced, tmp_path, capfd):
    endpoint = enforced[0]
    plan, key_path = handed_over("client", tmp_path, capfd)
    assert plan.scope.name == "vam-video-projects-staging-voz"
    client = s3_with(endpoint, key_path)
    client.put_object(Bucket=BUCKET, Key="staging/v-voz/ocean-story/cut.mp4", Body=b"cut")
    assert client.get_object(Bucket=BUCKET, Key="staging/v-voz/ocean-story/cut.mp4")["Body"].read()
    key = "staging/v-appydave/b65-guy-monroe-marketing-plan/raw.mp4"
    assert denied(client.put_object, Bucket=BUCKET, Key=key, Body=b"x") == "AccessDenied"
    assert denied(client.get_object, Bucket=BUCKET, Key=key) == "AccessDenied"
    assert denied(client.delete_object, Bucket=BUCKET, Key=key) == "AccessDenied"
    client.delete_object(Bucket=BUCKET, Key="staging/v-voz/ocean-story/cut.mp4")


def test_second_runs_change_nothing_with_enforcement_on(admin, enforced, capfd):
    assert tasks.setup_bucket(Context()).nothing_to_change
    tasks.setup_policy(Context())
    assert all(p.nothing_to_change for p in tasks.setup_policy(Context()))
    assert capfd.readouterr().out.rstrip().endswith("nothing to change")


def test_check_with_a_scoped_key_skips_what_it_may_not_read(
    admin, enforced, tmp_path, capfd, monkeypatch
):
    endpoint = enforced[0]
    _, key_path = handed_over("checker", tmp_path, capfd)
    kf = keyfile.read_key_file(key_path)
    use_key(
        monkeypatch,
        endpoint,
        {"AccessKeyId": kf.key.access_key_id, "SecretAccessKey": kf.key.secret},
    )
    monkeypatch.setenv("VAM_USER", "checker")
    checks = tasks.check(Context())
    out = capfd.readouterr().out
    assert [c.label for c in checks if c.label.endswith("staging")] == ["voz staging"]
    assert "✓ voz staging: list, put, get, delete under staging/v-voz/" in out
    assert "✓ bucket settings: not readable with these credentials" in out
    assert kf.key.secret not in out
    with pytest.raises(Exit) as err:  # another brand's staging: ✗ naming the action and key
        tasks.check(Context(), brand="appydave")
    out = capfd.readouterr().out
    assert "✗ appydave staging: put failed (list worked): access denied: s3:PutObject on " in out
    assert err.value.message == "vam: 1 of 4 checks failed"


def test_caller_without_iam_rights_gets_one_line_naming_the_action(admin, enforced, vam_cli):
    endpoint, _, weak, _ = enforced
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": weak["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": weak["SecretAccessKey"],
    }
    for args in (("aws.setup-policy",), ("aws.setup-user", "--name", "jan")):
        result = vam_cli(*args, cwd=admin.root, env=env)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert lines[0].startswith(
            "vam: access denied: these credentials may not iam:GetPolicy on "
            "arn:aws:iam::123456789012:policy/vam-video-projects-staging"
        )
        assert "ask your AWS admin to allow iam:GetPolicy" in lines[0]
        assert weak["SecretAccessKey"] not in result.stdout + result.stderr


def test_editor_cannot_set_up_the_bucket(admin, enforced, tmp_path, capfd, monkeypatch):
    endpoint = enforced[0]
    _, key_path = handed_over("editor", tmp_path, capfd)
    kf = keyfile.read_key_file(key_path)
    use_key(
        monkeypatch,
        endpoint,
        {"AccessKeyId": kf.key.access_key_id, "SecretAccessKey": kf.key.secret},
    )
    with pytest.raises(Exit) as err:
        tasks.setup_bucket(Context())
    assert err.value.code == 1
    # (moto enforces some of the bucket-setting reads, not all: which one is denied first varies)
    assert re.fullmatch(
        r"vam: access denied: these credentials may not s3:Get\w+ on bucket video-projects; "
        r"setting up the bucket needs the owner's or an administrator's profile "
        r"\(--aws-profile NAME\)",
        err.value.message,
    ), err.value.message
    assert kf.key.secret not in err.value.message


def test_a_bucket_we_may_not_see_is_someone_elses(admin, enforced, monkeypatch):
    """Credentials without any right on the bucket (as for a name taken by another account)."""
    use_key(monkeypatch, enforced[0], enforced[3])
    with pytest.raises(Exit) as err:
        tasks.setup_bucket(Context(), dry_run=True)
    assert err.value.message == (
        "vam: bucket video-projects exists but these credentials may not use it (it belongs to "
        "another AWS account, or you lack s3:ListBucket); choose another storage.bucket in "
        "brands.toml or use the owner's profile (--aws-profile NAME)"
    )


def test_an_editor_key_reads_and_restores_the_archive_but_cannot_delete_it(
    admin, enforced, tmp_path, capfd, monkeypatch
):
    """David archives b65 (with the admin key); Jan's editor key, made by aws.setup-user, lists,
    restores and downloads it with vam, and S3 refuses it every write and delete there."""
    from vam.tasks import archive as archive_tasks

    endpoint = enforced[0]
    b65 = "b65-guy-monroe-marketing-plan"
    prefix = f"archive/v-appydave/{b65}/"
    archive_tasks.cloud(Context(), brand="ad", project="b65")
    plan, key_path = handed_over("restorer", tmp_path, capfd)
    assert not plan.scope.owner
    editor = s3_with(endpoint, key_path)
    raw = prefix + "s3-staging/raw.mp4"
    listed = editor.list_objects_v2(Bucket=BUCKET, Prefix="archive/v-appydave/")
    assert raw in [o["Key"] for o in listed["Contents"]]
    assert editor.head_object(Bucket=BUCKET, Key=raw)["StorageClass"] == "DEEP_ARCHIVE"
    # allowed to read, and refused by the class until restored (not by IAM)
    assert denied(editor.get_object, Bucket=BUCKET, Key=raw) == "InvalidObjectState"
    # never delete or replace, the files or vam's index
    for key in (raw, prefix + ".vam/archive.json"):
        assert denied(editor.delete_object, Bucket=BUCKET, Key=key) == "AccessDenied"
        assert denied(editor.put_object, Bucket=BUCKET, Key=key, Body=b"x") == "AccessDenied"
    assert editor.head_object(Bucket=BUCKET, Key=raw)["ContentLength"] > 0  # still there

    # the editor restores b65 with vam: restore requests, the record, the verified download
    kf = keyfile.read_key_file(key_path)
    use_key(
        monkeypatch,
        endpoint,
        {"AccessKeyId": kf.key.access_key_id, "SecretAccessKey": kf.key.secret},
    )
    monkeypatch.setenv("VAM_USER", "restorer")
    into = tmp_path / "b65-restored"
    archive_tasks.restore(Context(), brand="ad", project="b65", to=str(into), yes=True)
    out = capfd.readouterr().out
    assert "restore requested for 9 file(s)" in out and "9 restored (" in out, out
    assert "note:" not in out  # the restore record was written with the editor's key
    assert (into / "s3-staging" / "raw.mp4").read_bytes() == (
        admin.root / "v-appydave" / b65 / "s3-staging" / "raw.mp4"
    ).read_bytes()
    # aws.check with the editor's key says it as it is
    checks = tasks.check(Context(), brand="appydave")
    out = capfd.readouterr().out
    assert (
        "✓ appydave archive: list works under archive/v-appydave/; put and delete refused "
        "(an editor reads and restores, only the owner writes and deletes)"
    ) in out
    assert all(c.ok for c in checks)


def test_the_owners_key_may_write_and_delete_in_the_archive(admin, enforced, tmp_path, capfd):
    plan, key_path = handed_over("boss", tmp_path, capfd)
    assert plan.scope.owner and plan.scope.name == "vam-video-projects-staging-owner"
    owner = s3_with(enforced[0], key_path)
    key = "archive/v-appydave/b99-owner-probe/final.mp4"
    owner.put_object(Bucket=BUCKET, Key=key, Body=b"render", StorageClass="DEEP_ARCHIVE")
    owner.delete_object(Bucket=BUCKET, Key=key)
    # and still nothing outside staging and the archive
    assert denied(owner.put_object, Bucket=BUCKET, Key="elsewhere/x", Body=b"x") == "AccessDenied"
