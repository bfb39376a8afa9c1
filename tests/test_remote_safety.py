"""What vam promises about the S3 side, checked on a bucket vam did not make (no versioning, as
R2, B2 or MinIO by default) as well as on David's bucket made by `vam aws.setup-bucket`.

`s3.up --force` and `s3.up --delete` replace or delete the other person's version: on a bucket
that keeps no old versions (or whose versioning these credentials cannot read) vam first copies
that exact version server-side to `{project}/.vam/backups/{stamp}/{path}`, says so, and never
claims a versioning it did not check. Every command runs in-process through the real `vam`
namespace, against moto's server on loopback (or through tests/header_proxy.py in front of it).
"""

from __future__ import annotations

import json
import os
import re
import threading

import moto.s3.models
import pytest
from cliworld import AD, BACKUPS, BUCKET, PREFIX, body, staging, vam

from tests.header_proxy import HeaderProxy
from tests.transferkit import make_client
from vam.aws.bucketcaps import probe_conditions
from vam.demo.story import B65, append_line, build_world
from vam.s3sync.transfer import tuning
from vam.tasks.inprocess import run_vam

pytestmark = pytest.mark.integration


@pytest.fixture
def versioned(tmp_path, s3):
    """David's bucket as `vam aws.setup-bucket` makes it: versioning on."""
    w = build_world(tmp_path / "setup", s3.endpoint_url, media_bytes=64 * 1024, webhook_url=None)
    run_vam(w.david, ["aws.setup-bucket"])
    return w


def backups(client) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=BACKUPS).get("Contents", [])
    return {o["Key"]: body(client, o["Key"]) for o in listed}


def both_edit_brief(world, capsys) -> bytes:
    """David hands b65 to Jan; both then change brief.md; Jan uploads hers first."""
    vam(world.david, capsys, "s3.up", *AD)
    vam(world.jan, capsys, "s3.down", *AD)
    append_line(staging(world.jan) / "brief.md", "Jan: cut the intro to 15 s")
    vam(world.jan, capsys, "s3.up", *AD)
    append_line(staging(world.david) / "brief.md", "David: keep the intro")
    return (staging(world.jan) / "brief.md").read_bytes()


def test_force_up_on_a_bucket_without_versioning_keeps_jans_version_in_s3(plain, capsys, client):
    jans = both_edit_brief(plain, capsys)
    out = vam(plain.david, capsys, "s3.up", *AD, expect=1)
    assert "conflict: brief.md" in out
    out = vam(plain.david, capsys, "s3.up", *AD, "--force")
    # the claim is the truth: no versioning here, so no word of it keeping anything
    assert "bucket versioning keeps" not in out
    kept = re.search(r"kept the replaced S3 version as (s3://[^)]+)\)", out)
    assert kept, out
    assert kept.group(1) == f"s3://{BUCKET}/{next(iter(backups(client)))}"
    [(key, saved)] = backups(client).items()
    assert key.startswith(BACKUPS) and key.endswith("/brief.md")
    assert saved == jans  # Jan's exact version survives
    assert body(client, PREFIX + "brief.md") == (staging(plain.david) / "brief.md").read_bytes()
    # the backup is vam's own object: Jan's status shows her brief.md replaced, no new file
    out = vam(plain.jan, capsys, "s3.status", *AD)
    assert "backups" not in out and re.search(r"download .*brief\.md", out), out


def test_force_up_on_a_versioned_bucket_relies_on_versioning_and_copies_nothing(
    versioned, capsys, client
):
    jans = both_edit_brief(versioned, capsys)
    out = vam(versioned.david, capsys, "s3.up", *AD, "--force")
    assert "bucket versioning keeps it" in out and "kept the replaced S3 version as" not in out
    assert backups(client) == {}
    versions = client.list_object_versions(Bucket=BUCKET, Prefix=PREFIX + "brief.md")["Versions"]
    older = [v for v in versions if not v["IsLatest"]]
    assert jans in [body(client, PREFIX + "brief.md", VersionId=v["VersionId"]) for v in older]


def test_where_versioning_cannot_be_read_it_counts_as_off(
    versioned, capsys, client, monkeypatch, s3
):
    """An editor's least-privilege key may not call GetBucketVersioning: unknown is off."""
    jans = both_edit_brief(versioned, capsys)

    def deny_versioning(method: str, target: str):
        return (403, "AccessDenied") if method == "GET" and "versioning" in target else None

    with HeaderProxy(s3.endpoint_url, strip=(), refuse=deny_versioning) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        out = vam(versioned.david, capsys, "s3.up", *AD, "--force")
        assert proxy.requests("GET", "versioning"), "versioning was never asked"
    assert "bucket versioning keeps" not in out
    assert "could not read this bucket's versioning" in out, out
    assert "kept the replaced S3 version as" in out
    assert list(backups(client).values()) == [jans]


def test_delete_on_a_bucket_without_versioning_keeps_the_deleted_version(plain, capsys, client):
    vam(plain.david, capsys, "s3.up", *AD)
    raw = (staging(plain.david) / "raw.mp4").read_bytes()
    (staging(plain.david) / "raw.mp4").unlink()
    out = vam(plain.david, capsys, "s3.up", *AD, "--delete")
    assert "bucket versioning keeps" not in out
    assert re.search(r"kept the deleted S3 version as s3://\S+/raw\.mp4", out), out
    assert client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "raw.mp4")["KeyCount"] == 0
    assert list(backups(client).values()) == [raw]


def test_a_backup_over_the_single_copy_limit_is_a_conditional_multipart_copy(
    plain, capsys, client, monkeypatch
):
    import moto.s3.models

    from vam.s3sync import s3guard

    part = 64 * 1024
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", part)
    monkeypatch.setattr(s3guard, "COPY_LIMIT", part)  # S3's is 5 GB
    monkeypatch.setattr(s3guard, "COPY_PART_SIZE", part)
    vam(plain.david, capsys, "s3.up", *AD)
    vam(plain.jan, capsys, "s3.down", *AD)
    theirs, ours = staging(plain.jan) / "raw.mp4", staging(plain.david) / "raw.mp4"
    theirs.write_bytes(b"J" * (3 * part + 100))  # Jan's render: four parts at the test's size
    vam(plain.jan, capsys, "s3.up", *AD)
    ours.write_bytes(b"D" * (2 * part))
    out = vam(plain.david, capsys, "s3.up", *AD, "--force")
    assert "kept the replaced S3 version as" in out
    [(key, saved)] = backups(client).items()
    assert saved == theirs.read_bytes()
    assert client.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"').endswith("-4")
    assert body(client, PREFIX + "raw.mp4") == ours.read_bytes()


# --------------------------------------------------------------------------- conditional writes


def no_probe_left(client) -> bool:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="staging/").get("Contents", [])
    return not [o["Key"] for o in listed if ".vam-check" in o["Key"]]


def test_check_and_doctor_say_whether_this_bucket_honours_conditional_writes(
    plain, capsys, client, monkeypatch, s3
):
    out = vam(plain.david, capsys, "aws.check", "--brand", "ad", expect=(0, 1))
    assert re.search(r"✓ conditional writes: .*honour", out), out
    out = vam(plain.david, capsys, "doctor", "--brand", "ad", expect=(0, 1))
    assert re.search(r"✓ conditional writes: .*honour", out), out
    # the same bucket behind a server that accepts the headers and ignores them
    with HeaderProxy(s3.endpoint_url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        out = vam(plain.david, capsys, "aws.check", "--brand", "ad", expect=1)
        assert re.search(r"✗ conditional writes: .*ignores If-Match", out), out
        assert "HEAD" in out and "weaker" in out
        out = vam(plain.david, capsys, "doctor", "--brand", "ad", expect=1)
        assert re.search(r"✗ conditional writes: .*ignores If-Match", out), out
    assert no_probe_left(client)


def test_where_the_server_ignores_if_match_an_upload_heads_first_and_never_overwrites_jans(
    plain, capsys, client, monkeypatch, s3
):
    vam(plain.david, capsys, "s3.up", *AD)
    append_line(staging(plain.david) / "brief.md", "David: keep the intro")
    (staging(plain.david) / "notes.md").write_text("new notes\n")
    jans = b"Jan's brief, uploaded a moment ago\n"
    landed = []

    def jan_uploads(method: str, target: str) -> None:
        # Jan's upload lands after David's listing, while his scan reads the index
        if not landed and method == "GET" and target.split("?")[0].endswith("/.vam/index.json"):
            landed.append(target)
            client.put_object(Bucket=BUCKET, Key=PREFIX + "brief.md", Body=jans)

    with HeaderProxy(s3.endpoint_url, before=jan_uploads) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        out = vam(plain.david, capsys, "s3.up", *AD, expect=1)
    assert landed
    assert body(client, PREFIX + "brief.md") == jans  # Jan's work is still there
    assert "conflict: brief.md changed in S3 while uploading" in out, out
    brief = [s for s in proxy.requests() if s.target.split("?")[0].endswith(f"{B65}/brief.md")]
    assert {s.method for s in brief} == {"HEAD"}  # looked (and the re-check looked), never wrote
    # the new file went up, HEAD-checked just before, and the output says it is weaker
    notes = [s.method for s in proxy.requests() if s.target.endswith(f"{B65}/notes.md")]
    assert notes[-2:] == ["HEAD", "PUT"]
    assert re.search(r"notes\.md .*HEAD just before.*weaker", out), out


def test_where_the_server_ignores_if_match_a_delete_heads_first(
    versioned, capsys, client, monkeypatch, s3
):
    vam(versioned.david, capsys, "s3.up", *AD)
    (staging(versioned.david) / "raw.mp4").unlink()
    jans = b"Jan's new raw cut"
    landed = []

    def jan_uploads(method: str, target: str) -> None:
        if not landed and method == "GET" and target.split("?")[0].endswith("/.vam/index.json"):
            landed.append(target)
            client.put_object(Bucket=BUCKET, Key=PREFIX + "raw.mp4", Body=jans)

    with HeaderProxy(s3.endpoint_url, before=jan_uploads) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        out = vam(versioned.david, capsys, "s3.up", *AD, "--delete", expect=1)
    assert body(client, PREFIX + "raw.mp4") == jans
    assert "raw.mp4 changed in S3 since it was listed; not deleted" in out, out
    assert not proxy.requests("DELETE", f"{B65}/raw.mp4")


def test_a_run_probes_the_server_once_and_remembers_it_per_endpoint(
    plain, capsys, client, monkeypatch, s3
):
    def probes(proxy) -> list:
        return [s for s in proxy.requests("PUT") if ".vam-check" in s.target]

    with HeaderProxy(s3.endpoint_url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        vam(plain.david, capsys, "s3.up", *AD)
        assert probes(proxy), "the first upload to this server did not check it"
        proxy.clear()
        append_line(staging(plain.david) / "brief.md", "one more line")
        out = vam(plain.david, capsys, "s3.up", *AD)
        assert not probes(proxy)  # remembered for this endpoint and bucket
        assert "HEAD just before" in out  # and still acted on
        vam(plain.david, capsys, "aws.check", "--brand", "ad", expect=1)
        assert probes(proxy)  # aws.check asks the server again and refreshes what is known
    assert no_probe_left(client)


def test_the_probe_learns_which_conditions_a_multipart_complete_honours(
    plain, capsys, client, monkeypatch, s3
):
    """moto refuses a complete with If-None-Match: * over an existing key and ignores a stale
    If-Match there (../shared/moto-facts.md): the probe tells the two apart, aws.check says what
    it means, and no multipart upload of the probe is left open."""
    out = vam(plain.david, capsys, "aws.check", "--brand", "ad", expect=(0, 1))
    assert (
        "If-Match on a multipart upload's complete step ignored, so vam HEADs right before "
        "completing a large file" in out
    ), out
    found = probe_conditions(client, BUCKET, "staging/v-appydave/")
    assert (found.complete_if_none_match, found.complete_if_match) == (True, False)
    assert found.completes(if_match=False) and not found.completes(if_match=True)
    with HeaderProxy(s3.endpoint_url) as proxy:  # a server that ignores every condition
        ignoring = probe_conditions(make_client(proxy.url), BUCKET, "staging/v-appydave/")
    assert (ignoring.complete_if_none_match, ignoring.complete_if_match) == (False, False)
    assert "If-None-Match on a multipart complete" in ignoring.ignored()
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert no_probe_left(client)


def test_a_key_that_may_not_make_multipart_uploads_still_learns_the_put_conditions(
    plain, client, s3
):
    """The complete step cannot be probed without a multipart upload: where creating one is
    refused, those two answers are unknown (so vam HEADs before completing) and the PUT and
    DELETE answers are kept, not lost with them."""

    def no_multipart(method: str, target: str):
        return (403, "AccessDenied") if method == "POST" and target.endswith("?uploads") else None

    with HeaderProxy(s3.endpoint_url, strip=(), refuse=no_multipart) as proxy:
        found = probe_conditions(make_client(proxy.url), BUCKET, "staging/v-appydave/")
        assert proxy.requests("POST", "?uploads")
    assert found.writes and found.deletes
    assert (found.complete_if_none_match, found.complete_if_match) == (None, None)
    assert found.complete_ignored() == ["If-Match", "If-None-Match"]
    assert no_probe_left(client)


def test_s3_up_completes_a_new_large_file_without_a_head_where_the_server_checks(
    plain, capsys, client, monkeypatch, s3
):
    """A new large file: If-None-Match: * on its complete, which moto refuses when the key
    exists, so no HEAD goes between its last part and the complete. Replacing it: If-Match,
    which moto ignores on a complete, so the HEAD right before it stays."""
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 64 * 1024)
    monkeypatch.setattr(tuning, "SINGLE_PUT_LIMIT", 64 * 1024)
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", 64 * 1024)
    cut = staging(plain.david) / "cut.mp4"
    cut.write_bytes(os.urandom(256 * 1024))

    def before_complete(seen) -> list[str]:
        mine = [s for s in seen if s.target.split("?")[0].endswith("/cut.mp4")]
        [complete] = [
            i for i, s in enumerate(mine) if s.method == "POST" and "uploadId" in s.target
        ]
        return [s.method for s in mine[:complete] if s.method == "HEAD"]

    with HeaderProxy(s3.endpoint_url, strip=()) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        vam(plain.david, capsys, "s3.up", *AD)
        assert before_complete(proxy.requests()) == ["HEAD"]  # at the start only
        proxy.clear()
        cut.write_bytes(os.urandom(256 * 1024))
        vam(plain.david, capsys, "s3.up", *AD)
        assert before_complete(proxy.requests()) == ["HEAD", "HEAD"]  # and right before
    assert body(client, PREFIX + "cut.mp4") == cut.read_bytes()


def test_an_upload_reads_the_index_once_and_its_re_check_never(
    plain, capsys, client, monkeypatch, s3
):
    """The re-check after a run is a fresh listing (the truth); the index only spares HEADs, and
    the run has just written it: reading it back was one more round trip (150 ms on Jan's link)
    at the end of every upload. On a server that honours If-Match the write goes on the index
    the scan read (the next test: when someone wrote it since)."""
    with HeaderProxy(s3.endpoint_url, strip=()) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        vam(plain.david, capsys, "s3.up", *AD)
        first = proxy.requests()
        proxy.clear()
        append_line(staging(plain.david) / "brief.md", "David: keep the intro")
        out = vam(plain.david, capsys, "s3.up", *AD)
        second = proxy.requests()

    def index_gets(seen):
        return [s for s in seen if s.method == "GET" and "/.vam/index.json" in s.target]

    def listings(seen):
        return [s for s in seen if s.method == "GET" and "list-type=2" in s.target]

    # a new project: nothing to read (no objects), written with If-None-Match: *
    assert len(index_gets(first)) == 0 and len(listings(first)) == 2, first
    # a changed file: the scan's read, and the write goes on it with If-Match
    assert len(index_gets(second)) == 1 and len(listings(second)) == 2, second
    [write] = [s for s in second if s.method == "PUT" and "/.vam/index.json" in s.target]
    assert write.conditions == ("if-match",)
    assert "brief.md" in out and "after the transfer" not in out, out  # the re-check agreed
    assert body(client, PREFIX + "brief.md") == (staging(plain.david) / "brief.md").read_bytes()


def test_the_index_is_written_while_the_re_check_lists_the_project(
    plain, capsys, client, monkeypatch, s3
):
    """The end of an upload: the index write and the re-check's listing do not wait for each
    other (one round trip less, 150 ms on Jan's link). The proxy holds the index write until a
    listing arrives, which only a listing sent beside it can do; and the re-check knows the new
    object's checksum from what the run uploaded, so it HEADs nothing."""
    vam(plain.david, capsys, "s3.up", *AD)
    append_line(staging(plain.david) / "brief.md", "David: keep the intro")
    listed = threading.Event()
    listings: list[str] = []
    held: list[bool] = []  # per index write: had the re-check's listing come, or did it come

    def hold_the_index_write(method: str, target: str) -> None:
        if method == "GET" and "list-type=2" in target:
            listings.append(target)
            if len(listings) == 2:  # the first is the scan's, before anything was uploaded
                listed.set()
        if method == "PUT" and target.split("?")[0].endswith("/.vam/index.json"):
            held.append(listed.wait(30))

    with HeaderProxy(s3.endpoint_url, strip=(), before=hold_the_index_write) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        out = vam(plain.david, capsys, "s3.up", *AD)
    assert held == [True] and len(listings) == 2, proxy.requests()
    assert "brief.md" in out and "after the transfer" not in out, out  # the re-check agreed
    brief = [s.method for s in proxy.requests() if s.target.split("?")[0].endswith("/brief.md")]
    assert brief == ["PUT"], brief  # no HEAD, before or after
    files = json.loads(body(client, PREFIX + ".vam/index.json"))["files"]
    assert files["brief.md"]["size"] == (staging(plain.david) / "brief.md").stat().st_size


def test_an_index_written_by_jan_during_davids_upload_is_merged_not_replaced(
    plain, capsys, client, monkeypatch, s3
):
    """David's run writes the index on the version his scan read, with If-Match: Jan's upload
    wrote it meanwhile, so that write is refused; his run reads hers, merges, and writes again.
    Nobody's entries are lost."""
    vam(plain.david, capsys, "s3.up", *AD)
    (staging(plain.david) / "notes.md").write_text("David's notes\n")
    key = PREFIX + ".vam/index.json"
    jans_entry = None

    def jan_uploads(method: str, target: str) -> None:
        nonlocal jans_entry
        if jans_entry is None and method == "PUT" and target.split("?")[0].endswith("/notes.md"):
            # Jan's vam, finishing her own upload: her file, then the index with her entry
            client.put_object(Bucket=BUCKET, Key=PREFIX + "jan.md", Body=b"Jan's cut list\n")
            index = json.loads(body(client, key))
            jans_entry = dict(index["files"]["brief.md"], uploaded_by="jan")
            index["files"]["jan.md"] = jans_entry
            client.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(index).encode())

    with HeaderProxy(s3.endpoint_url, strip=(), before=jan_uploads) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        vam(plain.david, capsys, "s3.up", *AD)
    assert jans_entry is not None
    writes = [s for s in proxy.requests("PUT") if s.target.split("?")[0].endswith("index.json")]
    assert len(writes) == 2  # refused on the stale version, then written on Jan's
    files = json.loads(body(client, key))["files"]
    assert files["jan.md"] == jans_entry
    assert files["notes.md"]["uploaded_by"] == "david"
