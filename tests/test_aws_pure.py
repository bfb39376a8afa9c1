"""The pure parts of the AWS bootstrap: the policy document builder (only real IAM actions, ARNs,
per-brand scoping), the bucket's intended settings and their comparison, and the key/profile
file writers. No server."""

import dataclasses
import json
import os
import stat

import pytest

from vam.aws import bucket, bucketsettings, keyfile, policy
from vam.core.errors import ConfigError, SafetyError
from vam.core.team import Storage, parse_team

# The SPEC §6 list, typed out again on purpose: the builder must never grant anything else
# (the team's old plan had actions that do not exist in IAM).
SPEC_ACTIONS = {
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:ListBucketMultipartUploads",
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:GetObjectVersion",
}
# SPEC §10: the archive's objects are restored (a real IAM action of its own)
ARCHIVE_ACTIONS = {"s3:RestoreObject"}

STORAGE = Storage(bucket="video-projects", region="us-east-1")


@pytest.fixture
def team(tmp_path):
    text = (
        "[storage]\nbucket = 'video-projects'\nregion = 'eu-central-1'\n"
        "[brands.appydave]\nshortcut = 'ad'\n[brands.voz]\n[brands.kiros]\n"
        "[users.david]\nrole = 'owner'\n[users.jan]\n"
        "[users.client]\nrole = 'client'\nbrands = ['voz']\n"
        "[users.helper]\nbrands = ['kiros', 'voz']\n"
    )
    path = tmp_path / "brands.toml"
    path.write_text(text)
    return parse_team(path)


def statements(doc):
    return {s["Sid"]: s for s in doc["Statement"]}


def test_allow_list_matches_the_spec():
    assert policy.ALLOWED_ACTIONS == SPEC_ACTIONS | ARCHIVE_ACTIONS | {"s3:GetBucketVersioning"}


@pytest.mark.parametrize("owner", [False, True])
@pytest.mark.parametrize("brands", [["appydave"], ["voz", "kiros"], ["appydave", "voz", "kiros"]])
def test_every_generated_action_is_a_real_spec_action(brands, owner):
    doc = policy.policy_document(STORAGE, brands, owner=owner)
    # the owner may also ask whether versioning keeps what an archive --update replaces
    allowed = SPEC_ACTIONS | ARCHIVE_ACTIONS | ({"s3:GetBucketVersioning"} if owner else set())
    assert policy.actions_in(doc) <= allowed
    assert policy.actions_in(doc) == allowed  # and nothing the tool needs is missing
    assert all(s["Effect"] == "Allow" for s in doc["Statement"])
    assert not any("*" in action for action in policy.actions_in(doc))


def test_bucket_actions_on_the_bucket_objects_only_under_staging_prefixes():
    st = statements(policy.policy_document(STORAGE, ["appydave", "voz"]))
    assert st["FindTheBucket"]["Resource"] == "arn:aws:s3:::video-projects"
    listing = st["ListStagingAndArchiveOnly"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == "arn:aws:s3:::video-projects"
    assert listing["Condition"] == {
        "StringLike": {
            "s3:prefix": [
                "staging/v-appydave/",
                "staging/v-appydave/*",
                "staging/v-voz/",
                "staging/v-voz/*",
                "archive/v-appydave/",
                "archive/v-appydave/*",
                "archive/v-voz/",
                "archive/v-voz/*",
            ]
        }
    }
    assert st["StagingObjects"]["Resource"] == [
        "arn:aws:s3:::video-projects/staging/v-appydave/*",
        "arn:aws:s3:::video-projects/staging/v-voz/*",
    ]
    # object actions never on the bucket, bucket actions never on objects
    assert not set(st["StagingObjects"]["Action"]) & {"s3:ListBucket", "s3:GetBucketLocation"}


def test_an_editor_reads_and_restores_the_archive_and_only_the_owner_writes_or_deletes():
    editor = statements(policy.policy_document(STORAGE, ["appydave"]))
    owner = statements(policy.policy_document(STORAGE, ["appydave"], owner=True))
    archive = ["arn:aws:s3:::video-projects/archive/v-appydave/*"]
    for doc in (editor, owner):
        assert doc["ArchiveRead"]["Action"] == [
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:RestoreObject",
        ]
        assert doc["ArchiveRead"]["Resource"] == archive
        # the staging statements are SPEC §6's, unchanged
        assert doc["StagingObjects"]["Resource"] == [
            "arn:aws:s3:::video-projects/staging/v-appydave/*"
        ]
    assert "ArchiveWrite" not in editor
    # an editor may write one object per project: the record of a restore it asked for
    assert editor["ArchiveRestoreRecord"] == {
        "Sid": "ArchiveRestoreRecord",
        "Effect": "Allow",
        "Action": ["s3:PutObject"],
        "Resource": ["arn:aws:s3:::video-projects/archive/v-appydave/*/.vam/restore.json"],
    }
    assert set(owner["ArchiveWrite"]["Action"]) == {
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    }
    assert owner["ArchiveWrite"]["Resource"] == archive
    assert owner["OwnerSeesVersioning"]["Resource"] == "arn:aws:s3:::video-projects"
    assert "OwnerSeesVersioning" not in editor
    deleting = [
        sid
        for sid, st in editor.items()
        if "s3:DeleteObject" in st["Action"] and any("archive/" in r for r in st["Resource"])
    ]
    assert deleting == []


def test_the_owner_gets_a_policy_of_their_own(team):
    scope = policy.scope_for_user(team, team.user("david"))
    assert scope.owner and scope.every_brand
    assert scope.name == "vam-video-projects-staging-owner"
    assert not policy.scope_for_user(team, team.user("jan")).owner


def test_a_client_on_voz_gets_only_the_voz_prefix(team):
    scope = policy.scope_for_user(team, team.user("client"))
    assert scope.name == "vam-video-projects-staging-voz" and not scope.every_brand
    doc = policy.policy_document(team.storage, scope.brands)
    text = json.dumps(doc)
    assert "staging/v-voz/" in text
    assert "appydave" not in text and "kiros" not in text


def test_scopes_come_from_brands_toml(team):
    scopes = {s.name: s for s in policy.scopes_needed(team)}
    assert set(scopes) == {
        "vam-video-projects-staging",
        "vam-video-projects-staging-owner",
        "vam-video-projects-staging-voz",
        "vam-video-projects-staging-kiros-voz",
    }
    assert scopes["vam-video-projects-staging"].every_brand
    assert policy.scope_for_user(team, team.user("jan")).every_brand  # no brands list: all


def test_canonical_ignores_order_and_single_strings():
    doc = policy.policy_document(STORAGE, ["appydave", "voz"])
    shuffled = json.loads(json.dumps(doc))
    shuffled["Statement"].reverse()
    shuffled["Statement"][0]["Action"] = list(reversed(shuffled["Statement"][0]["Action"]))
    assert policy.canonical(shuffled) == policy.canonical(doc)
    other = policy.policy_document(STORAGE, ["appydave"])
    assert policy.canonical(other) != policy.canonical(doc)


# --------------------------------------------------------------------------- bucket settings


def test_staging_root_is_the_fixed_folder_before_the_brand():
    assert bucketsettings.staging_root(STORAGE) == "staging/"
    assert bucketsettings.staging_root(
        Storage("b-x-y", "us-east-1", staging_prefix="s3/st/v-{brand}/")
    ) == ("s3/st/")
    with pytest.raises(ConfigError, match="no fixed folder"):
        bucketsettings.staging_root(
            Storage("b-x-y", "us-east-1", staging_prefix="{brand}/staging/")
        )


def test_desired_lifecycle_uses_the_configured_days():
    storage = Storage("video-projects", "us-east-1", staging_days=30, noncurrent_days=14)
    rules = {r.id: r for r in bucketsettings.desired_settings(storage).rules}
    assert rules[bucketsettings.RULE_STAGING].to_aws() == {
        "ID": "vam-expire-staging",
        "Status": "Enabled",
        "Filter": {"Prefix": "staging/"},
        "Expiration": {"Days": 30},
    }
    assert rules[bucketsettings.RULE_NONCURRENT].noncurrent_days == 14
    assert rules[bucketsettings.RULE_MULTIPART].abort_days == 7


def test_rules_round_trip_and_foreign_features_make_a_difference():
    want = bucketsettings.desired_settings(STORAGE)
    for rule in want.rules:
        assert bucketsettings.rule_from_aws(rule.to_aws()) == rule
    raw = want.rules[0].to_aws() | {"Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}
    assert bucketsettings.rule_from_aws(raw) != want.rules[0]


def test_compare_names_each_difference():
    want = bucketsettings.desired_settings(STORAGE)
    assert bucket.compare(want, want) == ()
    missing = bucket.compare(None, want)
    assert missing[0].setting == "bucket" and "no location constraint" in missing[0].wanted
    have = bucketsettings.BucketSettings(
        region="us-east-1",
        public_access=("BlockPublicAcls",),
        encryption="aws:kms",
        versioning="Suspended",
        rules=(),
        tags=(),
    )
    names = [c.setting for c in bucket.compare(have, want)]
    assert names == [
        "public access",
        "encryption",
        "versioning",
        "lifecycle vam-expire-staging",
        "lifecycle vam-expire-noncurrent-versions",
        "lifecycle vam-keep-archive-versions",
        "lifecycle vam-abort-incomplete-uploads",
        "tags",
    ]
    # extra tags of someone else are fine
    more = dataclasses.replace(want, tags=want.tags + (("cost-center", "video"),))
    assert bucket.compare(more, want) == ()


# --------------------------------------------------------------------------- key files, profiles


def key_file(user="jan"):
    key = keyfile.AccessKey(f"{user}-video-projects", "AKIAEXAMPLE1234", "s3cr3t/with+chars")
    return keyfile.KeyFile(key, user, user, "us-east-1", "video-projects", None, "staging/v-voz/")


def test_access_key_repr_hides_the_secret():
    assert "s3cr3t" not in repr(key_file())


def test_key_file_is_0600_round_trips_and_is_never_overwritten(tmp_path):
    path = tmp_path / "keys" / "jan.toml"
    keyfile.write_key_file(path, key_file())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert keyfile.read_key_file(path) == key_file()
    with pytest.raises(SafetyError, match="already exists"):
        keyfile.write_key_file(path, key_file("other"))
    assert keyfile.read_key_file(path).user == "jan"
    assert [p.name for p in path.parent.iterdir()] == ["jan.toml"]  # no temporary left behind


def test_a_broken_key_file_error_does_not_quote_the_secret(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('aws_secret_access_key = "s3cr3t\nuser = ')
    with pytest.raises(ConfigError) as err:
        keyfile.read_key_file(path)
    assert "s3cr3t" not in str(err.value)


def test_set_section_keeps_other_profiles_and_comments():
    text = (
        "# mine\n[default]\naws_access_key_id = A\n\n[jan]\naws_access_key_id = OLD\n[x]\nk = v\n"
    )
    new = keyfile.set_section(text, "jan", {"aws_access_key_id": "NEW"})
    assert new.startswith("# mine\n[default]\naws_access_key_id = A\n")
    assert keyfile.read_section(new, "jan") == {"aws_access_key_id": "NEW"}
    assert keyfile.read_section(new, "x") == {"k": "v"}
    added = keyfile.set_section("", "jan", {"a": "1"})
    assert added == "[jan]\na = 1\n"


def test_write_profile_is_0600_and_respects_the_aws_env_paths(tmp_path):
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "c" / "creds"),
        "AWS_CONFIG_FILE": str(tmp_path / "c" / "conf"),
    }
    pw = keyfile.plan_profile("jan", env)
    assert pw.existing_key_id is None and pw.credentials == tmp_path / "c" / "creds"
    keyfile.write_profile(pw, key_file().key, "eu-central-1")
    assert stat.S_IMODE(os.stat(pw.credentials).st_mode) == 0o600
    assert keyfile.plan_profile("jan", env).existing_key_id == "AKIAEXAMPLE1234"
    conf = keyfile.read_section((tmp_path / "c" / "conf").read_text(), "profile jan")
    assert conf == {"region": "eu-central-1"}


def test_settings_get_aws_profile_as_a_top_level_key():
    text = 'user = "jan"\n\n[ssd]\nvoz = "/x"\n'
    assert keyfile.settings_with_profile(text, "jan") == (
        'user = "jan"\n\naws_profile = "jan"\n[ssd]\nvoz = "/x"\n'
    )
    assert keyfile.settings_with_profile('aws_profile = "old"\n', "jan") == 'aws_profile = "jan"\n'


def test_explain_names_the_iam_action_from_the_message():
    import botocore.exceptions as bce

    from vam.aws.client import explain

    message = (
        "User: arn:aws:iam::1:user/x is not authorized to perform: iam:CreateUser on resource: "
        "arn:aws:iam::1:user/y"
    )
    exc = bce.ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, "CreateUser")
    assert str(explain(exc, profile="david")) == (
        "access denied: iam:CreateUser with profile 'david'; use an administrator's profile "
        "(--aws-profile NAME) or ask your AWS admin to allow iam:CreateUser"
    )


def test_unreachable_s3_names_the_endpoint_not_the_request_url(monkeypatch):
    import botocore.exceptions as bce

    from vam.aws.client import explain

    exc = bce.EndpointConnectionError(
        endpoint_url="http://127.0.0.1:1/video-projects?list-type=2&prefix=staging%2Fv-appydave%2F"
    )
    message = str(explain(exc))
    assert message.startswith("cannot reach S3 at http://127.0.0.1:1; check the network or ")
    assert "list-type" not in message and "endpoint_url in brands.toml" in message
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert "check the network or $AWS_ENDPOINT_URL," in str(explain(exc))


def test_a_botocore_text_on_several_lines_becomes_one():
    import botocore.exceptions as bce

    from vam.aws.client import explain

    exc = bce.ParamValidationError(
        report='Non ascii characters found in S3 metadata for key "uploaded-by".  \n'
        "S3 metadata can only contain ASCII characters. "
    )
    assert str(explain(exc)) == (
        "AWS client error: Parameter validation failed: Non ascii characters found in S3 "
        'metadata for key "uploaded-by". S3 metadata can only contain ASCII characters.'
    )


def test_aws_check_without_credentials_does_not_send_you_to_setup_bucket():
    """The failure is the missing credentials; `aws.setup-bucket` would fail the same way."""
    import boto3

    from vam.aws.check import check_bucket

    storage = Storage(bucket="video-projects", region="us-east-1")
    s3 = boto3.session.Session(region_name="us-east-1").client(
        "s3", endpoint_url="http://127.0.0.1:1"
    )
    check = check_bucket(s3, storage)
    assert check.line() == (
        "✗ bucket: no AWS credentials found; set aws_profile in your vam settings, "
        "run `aws configure`, or `aws sso login`"
    )


def test_key_target_is_checked_before_any_key_exists(tmp_path):
    from vam.core.errors import UsageError

    env = {
        "HOME": str(tmp_path / "home"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds"),
        "AWS_CONFIG_FILE": str(tmp_path / "conf"),
    }
    default = keyfile.key_target("jan-video-projects", env=env)
    assert default.kind == "dir" and default.path == tmp_path / "home/.config/vam/keys"
    written = default.write(key_file())
    assert written.name == "jan-video-projects-AKIAEXAMPLE1234.toml"
    with pytest.raises(SafetyError, match="already exists"):
        keyfile.key_target("jan-video-projects", out=written, env=env)
    with pytest.raises(UsageError, match="not both"):
        keyfile.key_target("jan-video-projects", out="x.toml", profile="jan", env=env)
    profile = keyfile.key_target("jan-video-projects", profile="jan", env=env)
    profile.write(key_file())
    with pytest.raises(SafetyError, match="already holds key AKIAEXAMPLE1234; add --replace"):
        keyfile.key_target("jan-video-projects", profile="jan", env=env)
    assert keyfile.key_target("x", profile="jan", replace=True, env=env).profile.existing_key_id
