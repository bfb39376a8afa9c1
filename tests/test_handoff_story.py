"""Handoff, receive, share and cleanup as David and Jan live them, on moto's server (real HTTP),
each with their own settings, projects root and sync record."""

from __future__ import annotations

import json
import re
import urllib.request

import boto3
import pytest
from webhookkit import Webhook

from vam.demo.story import B65, Person, append_line, build_world, edit_file
from vam.tasks.inprocess import run_vam

BUCKET = "video-projects"
AD = ["--brand", "ad", "--project", "b65"]
PREFIX = f"staging/v-appydave/{B65}/"


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook.url, hook.posts
    hook.close()


@pytest.fixture
def world(tmp_path, s3, webhook):
    url, _ = webhook
    w = build_world(tmp_path / "demo", s3.endpoint_url, media_bytes=64 * 1024, webhook_url=url)
    run_vam(w.david, ["aws.setup-bucket"])  # the same bootstrap as real AWS: versioning on
    return w


@pytest.fixture
def client(s3):
    return boto3.client("s3", region_name="us-east-1")


def vam(person: Person, capsys, *argv: str, expect=0) -> str:
    capsys.readouterr()
    run_vam(person, list(argv), expect=expect)
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return out.out + out.err


def staging(person: Person):
    return person.root / "v-appydave" / B65 / "s3-staging"


def test_david_hands_off_jan_receives_and_hands_back(world, webhook, capsys, client):
    url, posts = webhook
    out = vam(world.david, capsys, "handoff", *AD, "--message", "raw cut, trim the intro")
    assert "jan runs: vam receive --brand appydave --project " + B65 in out
    # the webhook got exactly one Slack-style POST naming the project and every file
    assert len(posts) == 1
    text = posts[0]["text"]
    assert B65 in text and "raw.mp4" in text and "brief.md" in text and "café" in text
    # Jan's side: nothing local yet; receive downloads, shows status and the note to him
    out = vam(world.jan, capsys, "receive", *AD)
    assert "3 downloaded" in out and "handoff from david to jan" in out
    assert "raw cut, trim the intro" in out
    for name in ("raw.mp4", "brief.md", "b-roll café – take 2.mov"):
        assert (staging(world.jan) / name).read_bytes() == (
            staging(world.david) / name
        ).read_bytes()
    # Jan edits (same size) and hands back; David's status names Jan and shows the note
    edit_file(staging(world.jan) / "raw.mp4", "jan")
    vam(world.jan, capsys, "handoff", *AD, "--message", "edit v1")
    assert len(posts) == 2
    out = vam(world.david, capsys, "s3.status", *AD)
    assert re.search(r"download\s+\S+ \S+\s+jan\s+.*raw\.mp4", out), out
    assert "latest handoff from jan to david" in out and "edit v1" in out
    vam(world.david, capsys, "receive", *AD)
    assert (staging(world.david) / "raw.mp4").read_bytes() == (
        staging(world.jan) / "raw.mp4"
    ).read_bytes()
    # the note in S3 carries size and checksum of every file
    keys = [
        o["Key"]
        for o in client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + ".vam/handoff/")["Contents"]
    ]
    note = json.loads(client.get_object(Bucket=BUCKET, Key=sorted(keys)[-1])["Body"].read())
    assert note["from_user"] == "jan" and note["to_users"] == ["david"]
    assert {f["rel"] for f in note["files"]} == {"raw.mp4", "brief.md", "b-roll café – take 2.mov"}
    assert all(re.fullmatch(r"[0-9a-f]{8}", f["crc32"]) and f["size"] > 0 for f in note["files"])


def test_a_failing_webhook_does_not_undo_the_handoff(world, capsys, client, tmp_path):
    david = world.david
    text = david.settings.read_text().replace(world.webhook_url, "http://127.0.0.1:9/nothing")
    david.settings.write_text(text)
    out = vam(david, capsys, "handoff", *AD)
    assert "the notification failed" in out
    assert client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "raw.mp4")["KeyCount"] == 1


def test_handoff_stops_before_the_note_when_a_file_conflicts(world, capsys, client):
    vam(world.david, capsys, "handoff", *AD)
    vam(world.jan, capsys, "receive", *AD)
    append_line(staging(world.jan) / "brief.md", "jan")
    vam(world.jan, capsys, "s3.up", *AD)
    append_line(staging(world.david) / "brief.md", "david")
    before = client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + ".vam/handoff/")["KeyCount"]
    out = vam(world.david, capsys, "handoff", *AD, expect=1)
    assert "handoff stopped before the note" in out and "conflict" in out
    after = client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + ".vam/handoff/")["KeyCount"]
    assert after == before


def test_share_links_download_the_exact_bytes(world, capsys):
    vam(world.david, capsys, "s3.up", *AD)
    out = vam(world.david, capsys, "s3.share", *AD, "--file", "raw", "--expires", "1d", "--json")
    [link] = json.loads(out[out.index("\n{\n") :])["links"]
    assert link["path"] == "raw.mp4"
    with urllib.request.urlopen(link["url"], timeout=30) as response:
        assert response.read() == (staging(world.david) / "raw.mp4").read_bytes()
    out = vam(world.david, capsys, "s3.share", *AD, "--expires", "30d", expect=2)
    assert "outside 1h … 7d" in out
    # a --file that matches nothing: the files are in S3, so not "upload them first"
    out = vam(world.david, capsys, "s3.share", *AD, "--file", "final-cut", expect=1)
    assert f"no S3 file of appydave {B65} has 'final-cut' in its name; its files: " in out
    assert "raw.mp4" in out and "upload them first" not in out


def test_cleanup_refuses_a_file_never_downloaded_and_force_keeps_it_recoverable(
    world, capsys, client
):
    vam(world.david, capsys, "handoff", *AD)
    vam(world.jan, capsys, "receive", *AD)
    (staging(world.jan) / "jan-cut.mp4").write_bytes(b"jan's cut" * 1000)
    vam(world.jan, capsys, "s3.up", *AD)
    # David never downloaded jan-cut.mp4: cleanup keeps it (and says so), deletes the rest
    out = vam(world.david, capsys, "s3.cleanup", *AD, "--yes", expect=1)
    assert "kept jan-cut.mp4" in out and "never downloaded, from jan" in out
    assert "bucket versioning keeps deleted S3 objects" in out
    left = [
        o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX).get("Contents", [])
    ]
    assert PREFIX + "jan-cut.mp4" in left and PREFIX + "raw.mp4" not in left
    # --force deletes it; versioning keeps the bytes recoverable
    out = vam(world.david, capsys, "s3.cleanup", *AD, "--yes", "--force")
    assert "re-checked S3: 0 project file(s) left" in out
    versions = client.list_object_versions(Bucket=BUCKET, Prefix=PREFIX + "jan-cut.mp4")
    old = [v for v in versions.get("Versions", []) if not v["IsLatest"]]
    assert old, versions
    body = client.get_object(
        Bucket=BUCKET, Key=PREFIX + "jan-cut.mp4", VersionId=old[0]["VersionId"]
    )
    assert body["Body"].read() == b"jan's cut" * 1000


def test_cleanup_dry_run_deletes_nothing_and_no_terminal_needs_yes(world, capsys, client):
    vam(world.david, capsys, "s3.up", *AD)
    out = vam(world.david, capsys, "s3.cleanup", *AD, "--dry-run")
    assert "dry run: nothing deleted" in out and "delete S3" in out
    out = vam(world.david, capsys, "s3.cleanup", *AD, expect=2)  # pytest's stdin is no terminal
    assert "add --yes" in out
    assert client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "raw.mp4")["KeyCount"] == 1


def test_local_cleanup_keeps_files_never_uploaded(world, capsys):
    vam(world.david, capsys, "s3.up", *AD)
    (staging(world.david) / "new-take.mov").write_bytes(b"new" * 100)
    out = vam(world.david, capsys, "s3.cleanup", *AD, "--side", "local", "--yes", expect=1)
    assert "kept new-take.mov" in out and "never uploaded" in out
    assert sorted(p.name for p in staging(world.david).iterdir()) == ["new-take.mov"]


@pytest.mark.slow
def test_the_demo_runs_from_start_to_dashboard(tmp_path, vam_cli):
    result = vam_cli("demo", "--root", str(tmp_path / "demo"), "--media-mb", "0.25", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("dashboard: ")
    page = last.removeprefix("dashboard: ")
    assert page.endswith(".html") and "registry-data" in open(page, encoding="utf-8").read()
    for step in (
        "handoff from david to jan",
        "conflict: brief.md",
        "kept in",
        "[team chat]",
        "re-checked S3: 0 project file(s) left",
        # b65 to the SSD and the cloud, a second archive sends nothing, one file restored
        "SSD copy verified: 11 file(s)",
        "11 sent (",
        "0 sent (0 B), 11 already archived; verified 11 file(s)",
        "restore requested for 1 file(s)",
        "1 restored (",
    ):
        assert step in result.stdout, step
    restored = tmp_path / "demo" / "restored" / "b65-guy-monroe-marketing-plan" / "final"
    ssd = tmp_path / "demo" / "david" / "video-projects" / "ssd" / "youtube-PUBLISHED"
    original = ssd / "appydave" / "b50-b99" / "b65-guy-monroe-marketing-plan" / "final"
    name = "b65-guy-monroe-marketing-plan-v1.mp4"
    assert (restored / name).read_bytes() == (original / name).read_bytes()
