"""The off-site archive (SPEC §10) as David lives it, on moto's S3 server on loopback: b65 goes to
Deep Archive verified, a second run sends nothing, an archived object cannot be read before its
restore (and vam says when it is expected instead of failing), the restore comes down byte for
byte, and a deleted project folder is rebuilt from the archive alone.

moto restores at once; S3 takes up to 48 hours. tests/glacier_proxy.py plays S3's timing on the
wire in front of moto, so "requested, not ready yet" is tested as a person meets it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import zlib
from pathlib import Path

import botocore.exceptions as bce
import moto.s3.models
import pytest
from cliworld import BUCKET, vam
from glacier_proxy import GlacierProxy
from header_proxy import HeaderProxy

from vam.archive.cloud import archive_project
from vam.archive.scan import scan_archive
from vam.archive.target import archive_target
from vam.core.config import load_config
from vam.core.files import FileRules, walk
from vam.demo.story import B65, build_world
from vam.s3sync.transfer import tuning
from vam.tasks.inprocess import run_vam

AD = ["--brand", "ad", "--project", "b65"]
ARCHIVE = f"archive/v-appydave/{B65}/"
INDEX = ARCHIVE + ".vam/archive.json"
KiB = 1024


@pytest.fixture
def world(tmp_path, s3, capsys):
    """David and Jan (the demo's sample world) on a bucket `aws.setup-bucket` made."""
    built = build_world(tmp_path / "w", s3.endpoint_url, media_bytes=64 * KiB, webhook_url=None)
    run_vam(built.david, ["aws.setup-bucket"])
    capsys.readouterr()
    return built


@pytest.fixture
def small_parts(monkeypatch):
    """64 KiB parts, so b65's 128 KiB raw.mp4 goes up as a multipart upload."""
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 64 * KiB)
    monkeypatch.setattr(tuning, "SINGLE_PUT_LIMIT", 128 * KiB)
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", 64 * KiB)
    monkeypatch.setattr(tuning, "MAX_UPLOAD_WORKERS", 1)
    return 64 * KiB


def b65(world) -> Path:
    return world.david.root / "v-appydave" / B65


def contents(folder: Path) -> dict[str, bytes]:
    """rel -> bytes of every file of a project folder (vam's own state aside)."""
    return {f.rel: f.path.read_bytes() for f in walk(folder, FileRules())}


def listed(client, prefix: str = ARCHIVE) -> dict[str, dict]:
    items = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"][len(prefix) :]: o for o in items}


def test_every_file_goes_to_deep_archive_verified_with_an_index(world, client, capsys, small_parts):
    before = contents(b65(world))
    out = vam(world.david, capsys, "archive.cloud", *AD)
    assert f"to:       s3://{BUCKET}/{ARCHIVE} (DEEP_ARCHIVE)" in out
    assert "9 sent (" in out and f"verified 9 file(s) in s3://{BUCKET}/{ARCHIVE}" in out
    objects = listed(client)
    files = {rel: o for rel, o in objects.items() if not rel.startswith(".vam/")}
    # heavy and light alike, staging included; vam's own state (the checksum cache) is not
    assert set(files) == set(before)
    assert {o["StorageClass"] for o in files.values()} == {"DEEP_ARCHIVE"}
    # the index is readable without a restore
    assert objects[".vam/archive.json"].get("StorageClass", "STANDARD") == "STANDARD"
    index = json.loads(client.get_object(Bucket=BUCKET, Key=INDEX)["Body"].read())
    assert index["archived_by"] == "david" and index["archived_at"].startswith("20")
    for rel, data in before.items():
        entry = index["files"][rel]
        assert entry["size"] == len(data) and entry["crc32"] == f"{zlib.crc32(data):08x}"
        assert entry["storage_class"] == "DEEP_ARCHIVE" and entry["archived_by"] == "david"
        head = client.head_object(Bucket=BUCKET, Key=ARCHIVE + rel, ChecksumMode="ENABLED")
        assert head["StorageClass"] == "DEEP_ARCHIVE" and head["ETag"].strip('"') == entry["etag"]
    # the multipart one carries the full-object CRC32 S3 checks on completion
    raw = client.head_object(
        Bucket=BUCKET, Key=ARCHIVE + "s3-staging/raw.mp4", ChecksumMode="ENABLED"
    )
    assert raw["ETag"].strip('"').endswith("-2") and raw["ChecksumType"] == "FULL_OBJECT"


def test_a_second_archive_cloud_sends_nothing(world, s3, capsys, monkeypatch):
    vam(world.david, capsys, "archive.cloud", *AD)
    with HeaderProxy(s3.endpoint_url, strip=()) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        out = vam(world.david, capsys, "archive.cloud", *AD)
        assert "to send:  0 files, 0 B" in out and "already archived, same content: 9 files" in out
        assert "0 sent (0 B), 9 already archived; verified 9 file(s)" in out
        writes = [r for r in proxy.requests() if r.method in ("PUT", "POST", "DELETE")]
        assert writes == []  # not a byte, not even the index


def test_an_archived_file_cannot_be_read_before_its_restore(world, client, capsys):
    vam(world.david, capsys, "archive.cloud", *AD)
    with pytest.raises(bce.ClientError) as refused:
        client.get_object(Bucket=BUCKET, Key=ARCHIVE + "s3-staging/raw.mp4")
    assert refused.value.response["Error"]["Code"] == "InvalidObjectState"


def test_restore_requested_expected_by_then_byte_identical_once_s3_is_done(
    world, s3, client, capsys, monkeypatch, tmp_path
):
    before = contents(b65(world))
    vam(world.david, capsys, "archive.cloud", *AD)
    into = tmp_path / "restored-b65"
    with GlacierProxy(s3.endpoint_url) as glacier:
        monkeypatch.setenv("AWS_ENDPOINT_URL", glacier.url)
        out = vam(world.david, capsys, "archive.restore", *AD, "--to", str(into), "--yes")
        # S3 took the requests; nothing is readable yet, and vam says when it will be
        assert "restore requested for 9 file(s)" in out and "(bulk), expected by 20" in out
        assert "9 file(s) (329.9 KB) still being restored, expected by 20" in out
        assert f"→ vam archive.restore --brand appydave --project {B65} --to {into}" in out
        assert len(glacier.restoring()) == 9
        assert not into.exists() or contents(into) == {}
        with pytest.raises(bce.ClientError) as refused:  # a GET meanwhile: what S3 says
            client.get_object(Bucket=BUCKET, Key=ARCHIVE + "s3-staging/raw.mp4")
        assert refused.value.response["Error"]["Code"] == "InvalidObjectState"

        # hours later, the same command: still restoring, nothing asked twice
        out = vam(world.david, capsys, "archive.restore", *AD, "--to", str(into), "--yes")
        assert "being restored already: 9 files" in out
        assert "(requested by david, bulk: expected by 20" in out
        assert "restore requested" not in out
        assert not [s for s in glacier.seen[-40:] if s[0] == "POST" and s[2] == 409]

        glacier.finish()  # S3 is done
        out = vam(world.david, capsys, "archive.restore", *AD, "--to", str(into), "--yes")
    assert "9 restored (329.9 KB), verified, into" in out
    assert contents(into) == before  # byte for byte
    for rel in before:  # and the mtimes they had
        assert (into / rel).stat().st_mtime_ns == (b65(world) / rel).stat().st_mtime_ns


def test_the_project_folder_deleted_archive_restore_rebuilds_it(world, capsys):
    before = contents(b65(world))
    vam(world.david, capsys, "archive.cloud", *AD)
    shutil.rmtree(b65(world))  # the SSD dropped, the laptop wiped: only the archive is left
    out = vam(world.david, capsys, "archive.restore", *AD, "--yes")
    assert f"into:        {b65(world)} (not here: it is made again)" in out
    assert "9 restored (329.9 KB), verified" in out
    assert contents(b65(world)) == before
    # and the rebuilt project is what the archive holds: nothing to send again
    out = vam(world.david, capsys, "archive.cloud", *AD)
    assert "0 sent (0 B), 9 already archived" in out
    # a second restore finds it all here
    out = vam(world.david, capsys, "archive.restore", *AD, "--yes")
    assert "already here, same content: 9 files" in out and "restore requested" not in out


def test_a_local_file_that_differs_is_kept_and_not_restored(world, client, capsys):
    vam(world.david, capsys, "archive.cloud", *AD)
    notes = b65(world) / "notes.md"
    notes.write_text("David's newer notes.\n", encoding="utf-8")
    (b65(world) / "s3-staging" / "raw.mp4").unlink()
    out = vam(world.david, capsys, "archive.restore", *AD, "--yes", expect=1)
    assert (
        "! kept notes.md: another version is here (21 bytes here, 40 archived); not replaced" in out
    )
    assert (
        "restore requested for 1 file(s)" in out
        and "✓ restored 131.1 KB  s3-staging/raw.mp4" in out
    )
    assert notes.read_text(encoding="utf-8") == "David's newer notes.\n"
    assert "vam: 1 file(s) of b65-guy-monroe-marketing-plan not restored" in out


def test_a_changed_file_is_reported_and_archived_again_only_with_update(world, client, capsys):
    vam(world.david, capsys, "archive.cloud", *AD)
    notes = b65(world) / "notes.md"
    notes.write_text("# b65\n\nNotes, v2.\n", encoding="utf-8")
    out = vam(world.david, capsys, "archive.cloud", *AD, expect=1)
    assert "changed  notes.md (" in out
    assert "! changed since it was archived: notes.md" in out
    assert (
        "→ vam archive.cloud --brand appydave --project b65-guy-monroe-marketing-plan --update"
        in out
    )
    versions = client.list_object_versions(Bucket=BUCKET, Prefix=ARCHIVE + "notes.md")["Versions"]
    assert len(versions) == 1
    out = vam(world.david, capsys, "archive.cloud", *AD, "--update")
    assert "✓ archived again 18 B  notes.md" in out
    versions = client.list_object_versions(Bucket=BUCKET, Prefix=ARCHIVE + "notes.md")["Versions"]
    assert len(versions) == 2  # the archived version stays, as an old version
    assert (
        client.head_object(Bucket=BUCKET, Key=ARCHIVE + "notes.md")["StorageClass"]
        == "DEEP_ARCHIVE"
    )


def test_an_interrupted_archive_resumes_from_the_parts_on_s3(world, client, capsys, small_parts):
    """David's archive of b65 is interrupted (Ctrl-C, a dropped link) one part into raw.mp4;
    the next run sends only the part that is missing."""
    from transferkit import Interrupted, StopAfter

    config = load_config(env={"VAM_SETTINGS": str(world.david.settings)})
    target = archive_target(config, "appydave", B65)
    state = b65(world) / ".vam" / "archive"
    plan = scan_archive(client, target, b65(world), FileRules(), state_dir=state)
    raw = tuple(s for s in plan.steps if s.rel == "s3-staging/raw.mp4")
    with pytest.raises(Interrupted):
        archive_project(
            client,
            dataclasses.replace(plan, steps=raw),
            user="david",
            state_dir=state,
            progress=StopAfter(small_parts + 1),
        )
    assert "s3-staging/raw.mp4" not in listed(client)  # not complete, its first part on S3
    out = vam(world.david, capsys, "archive.cloud", *AD)
    assert "✓ archived 131.1 KB  s3-staging/raw.mp4  (resumed at 50%)" in out
    assert "verified 9 file(s)" in out


def test_a_tier_the_class_lacks_and_bad_days_are_one_line(world, capsys):
    vam(world.david, capsys, "archive.cloud", *AD)
    out = vam(world.david, capsys, "archive.restore", *AD, "--tier", "expedited", expect=2)
    assert out.strip().splitlines()[-1] == (
        "vam: --tier expedited: S3 Glacier Deep Archive offers bulk (within 48 hours), standard "
        "(within 12 hours); choose one of them"
    )
    out = vam(world.david, capsys, "archive.restore", *AD, "--days", "0", expect=2)
    assert "vam: --days 0: the restored copies must stay at least 1 day" in out


def test_restoring_a_project_never_archived_says_so(world, capsys):
    out = vam(world.david, capsys, "archive.restore", "--brand", "ad", "--project", "b64", expect=1)
    assert (
        out.strip()
        .splitlines()[-1]
        .startswith(
            "vam: nothing archived for appydave/b64-bmad-claude-sdk in s3://video-projects/archive/"
        )
    )


def test_without_a_terminal_a_restore_that_costs_money_needs_yes(world, capsys):
    vam(world.david, capsys, "archive.cloud", *AD)
    shutil.rmtree(b65(world))
    out = vam(world.david, capsys, "archive.restore", *AD, expect=1)
    asked = "request the restore of 9 file(s), 329.9 KB (bulk)? costs money; run the same command"
    assert f"{asked} with --yes" in out
    assert not b65(world).exists()


def test_one_file_can_be_restored_alone(world, capsys, tmp_path):
    vam(world.david, capsys, "archive.cloud", *AD)
    into = tmp_path / "one"
    out = vam(
        world.david,
        capsys,
        "archive.restore",
        *AD,
        "--file",
        "s3-staging/raw.mp4",
        "--to",
        str(into),
        "--yes",
    )
    assert "restore requested for 1 file(s), 131.1 KB (bulk)" in out
    assert [f.rel for f in walk(into, FileRules())] == ["s3-staging/raw.mp4"]
    out = vam(world.david, capsys, "archive.restore", *AD, "--file", "s3-stagin/raw.mp4", expect=1)
    assert (
        "vam: --file s3-stagin/raw.mp4: not in the archive of b65-guy-monroe-marketing-plan" in out
    )


def test_archive_status_shows_files_bytes_class_date_restore_and_cost(world, capsys):
    vam(world.david, capsys, "archive.cloud", *AD)
    out = vam(world.david, capsys, "archive.status", "--brand", "ad")
    assert "appydave: 1 archived project(s), 9 files, 329.9 KB, ≈ < $0.01/month" in out
    row = next(line for line in out.splitlines() if line.startswith(f"  {B65}"))
    assert "    9  329.9 KB  DEEP_ARCHIVE" in row and row.rstrip().endswith("none")
    price = "S3 Glacier Deep Archive $0.00099/GB-month (aws.amazon.com/s3/pricing, us-east-1"
    assert f"{price}, as of 2026-06" in out
    vam(world.david, capsys, "archive.restore", *AD, "--to", str(world.base / "x"), "--yes")
    out = vam(world.david, capsys, "archive.status", "--brand", "ad", "--json")
    doc = json.loads(out[out.index("{") :])
    (project,) = doc["brands"][0]["projects"]
    assert project["restore"] == "requested" and project["files"] == 9
    assert project["restore_detail"].startswith("requested by david (bulk), expected by 20")


# --------------------------------------------------------------------------- ssd.archive --cloud


def test_ssd_archive_cloud_makes_two_verified_copies_before_the_local_files_go(
    world, client, capsys
):
    before = contents(b65(world))
    out = vam(world.david, capsys, "ssd.archive", *AD, "--cloud")
    assert "SSD copy verified: 9 file(s) in" in out
    assert "9 sent (329.9 KB), 0 already archived; verified 9 file(s)" in out
    assert f"removed {b65(world)}" in out
    assert not b65(world).exists()  # the heavy files went only now
    ssd = world.david.root / "ssd" / "youtube-PUBLISHED" / "appydave" / "b50-b99" / B65
    assert contents(ssd) == before  # copy one
    index = json.loads(client.get_object(Bucket=BUCKET, Key=INDEX)["Body"].read())
    assert {rel: e["crc32"] for rel, e in index["files"].items()} == {
        rel: f"{zlib.crc32(data):08x}" for rel, data in before.items()
    }  # copy two, the same bytes
    archived = world.david.root / "v-appydave" / "archived" / "b50-b99" / B65
    assert (archived / "notes.md").is_file() and not (archived / "s3-staging" / "raw.mp4").exists()
    # and the project, archived here, goes to the cloud from the SSD: nothing to send
    out = vam(world.david, capsys, "archive.cloud", *AD)
    assert "0 sent (0 B), 9 already archived" in out and f"from {ssd}" in out


def test_ssd_archive_cloud_deletes_nothing_when_the_cloud_refuses(world, s3, capsys, monkeypatch):
    before = contents(b65(world))

    def refuse(method, target):
        return (
            (403, "AccessDenied") if method in ("PUT", "POST") and "/archive/" in target else None
        )

    with HeaderProxy(s3.endpoint_url, strip=(), refuse=refuse) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        out = vam(world.david, capsys, "ssd.archive", *AD, "--cloud", expect=1)
    assert "SSD copy verified: 9 file(s)" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"vam: access denied: s3:PutObject on {ARCHIVE}"), last
    assert contents(b65(world)) == before  # every local file still here


# --------------------------------------------------------------------------- manifest


def manifest(world, capsys) -> dict[str, dict]:
    vam(world.david, capsys, "manifest.generate", "--brand", "ad")
    data = json.loads((world.david.root / "v-appydave" / "projects.json").read_text())
    return data, {p["id"]: p for p in data["projects"]}


def test_the_manifest_counts_copies_and_the_cloud_is_one_of_them(world, capsys):
    data, p = manifest(world, capsys)
    assert p[B65]["copies"]["count"] == 1  # staged in S3, but staging expires: no copy
    warned = [m for m in p[B65]["warnings"] if m.startswith("fewer than two copies")]
    assert warned == [
        "fewer than two copies of its heavy files: only on this computer; `vam ssd.archive "
        f"--brand appydave --project {B65} --cloud` makes two, on the SSD and in the cloud"
    ]
    vam(world.david, capsys, "archive.cloud", *AD)
    data, p = manifest(world, capsys)
    cloud = p[B65]["storage"]["cloud"]
    assert (cloud["files"], cloud["bytes"], cloud["heavy_files"]) == (9, 329_886, 4)
    assert cloud["class"] == "DEEP_ARCHIVE" and cloud["archived_at"].startswith("20")
    assert cloud["restore"] is None and 0 < cloud["monthly_cost"] < 0.01
    assert p[B65]["copies"] == {
        "local": True,
        "ssd": False,
        "cloud": True,
        "count": 2,
        "unknown": [],
        "cloud_missing": [],
        "heavy": True,
    }
    assert not any(m.startswith("fewer than two") for m in p[B65]["warnings"])
    assert data["totals"]["in_cloud"] == 1 and data["totals"]["cloud_bytes"] == 329_886
    assert data["cloud"] == {
        "available": True,
        "bucket": BUCKET,
        "prefix": "archive/v-appydave/",
        "class": "DEEP_ARCHIVE",
        "error": None,
    }
    # a render changed since: the cloud no longer holds this version, and the warning says so
    (b65(world) / "final" / f"{B65}-v1.mp4").write_bytes(b"re-rendered" * 1000)
    _data, p = manifest(world, capsys)
    assert p[B65]["copies"]["cloud"] is False
    assert p[B65]["copies"]["cloud_missing"] == [f"final/{B65}-v1.mp4"]
    (warned,) = [m for m in p[B65]["warnings"] if m.startswith("fewer than two copies")]
    assert "(the cloud archive lacks 1 of them: added or changed since it was made)" in warned
    assert warned.endswith(
        f"`vam ssd.archive --brand appydave --project {B65} --cloud` makes two, on the SSD and "
        "in the cloud"
    )


def test_after_ssd_archive_cloud_the_manifest_shows_two_copies_and_the_restore(world, capsys):
    vam(world.david, capsys, "ssd.archive", *AD, "--cloud")
    _data, p = manifest(world, capsys)
    assert p[B65]["copies"]["count"] == 2
    assert (p[B65]["copies"]["ssd"], p[B65]["copies"]["cloud"]) == (True, True)
    vam(world.david, capsys, "archive.restore", *AD, "--to", str(world.base / "r"), "--yes")
    _data, p = manifest(world, capsys)
    restore = p[B65]["storage"]["cloud"]["restore"]
    assert restore["state"] == "requested" and restore["requested_by"] == "david"
    assert restore["tier"] == "bulk" and restore["expected_by"].startswith("20")


# --------------------------------------------------------------------------- plans, --next, --json


def test_dry_runs_print_the_plan_and_change_nothing(world, client, capsys):
    out = vam(world.david, capsys, "archive.cloud", *AD, "--dry-run")
    assert "to send:  9 files, 329.9 KB" in out and "upload   s3-staging/raw.mp4 (131.1 KB)" in out
    assert "dry run: nothing sent" in out and listed(client) == {}
    vam(world.david, capsys, "archive.cloud", *AD)
    shutil.rmtree(b65(world))
    out = vam(world.david, capsys, "archive.restore", *AD, "--dry-run")
    assert "to restore:  9 files, 329.9 KB, tier bulk, readable for 7 days once restored" in out
    assert "S3 Glacier Deep Archive, standard  within 12 hours" in out
    assert "dry run: nothing requested or downloaded" in out
    assert not b65(world).exists()
    head = client.head_object(Bucket=BUCKET, Key=ARCHIVE + "notes.md")
    assert "Restore" not in head  # no restore was asked for


def test_next_archives_the_oldest_projects_not_in_the_cloud_yet(world, capsys):
    out = vam(world.david, capsys, "archive.cloud", "--brand", "ad", "--next", "2")
    # 006 (legacy, oldest) and b63 (archived here, its full copy on the SSD)
    assert (
        "oldest 2 project(s) not in the cloud archive yet: 006-ac-carnivore-90, b63-flivideo" in out
    )
    out = vam(world.david, capsys, "archive.cloud", "--brand", "ad", "--next", "1")
    assert "not in the cloud archive yet: b64-bmad-claude-sdk" in out
    # a project on the SSD alone (no trace of it here) goes from its SSD copy
    out = vam(world.david, capsys, "archive.cloud", "--brand", "ad", "--project", "b12")
    assert "(from the SSD copy: this computer holds no full copy of it)" in out
    assert "2 sent (" in out
    out = vam(world.david, capsys, "archive.status", "--brand", "ad")
    assert "appydave: 4 archived project(s)" in out


def test_archive_tasks_answer_in_one_json_document(world, vam_cli):
    env = {"VAM_SETTINGS": str(world.david.settings)}
    result = vam_cli("archive.cloud", *AD, "--json", env=env)
    doc = json.loads(result.stdout)
    assert doc["command"] == "archive.cloud" and doc["ok"] and result.returncode == 0
    (project,) = doc["projects"]
    assert project["complete"] and project["verified"] == 9 and len(project["sent"]) == 9
    assert project["storage_class"] == "DEEP_ARCHIVE"
    doc = json.loads(vam_cli("archive.status", "--brand", "ad", "--json", env=env).stdout)
    assert doc["command"] == "archive.status" and doc["as_of"] == "2026-06"
    assert doc["brands"][0]["totals"]["files"] == 9
    into = str(world.base / "json-restore")
    result = vam_cli("archive.restore", *AD, "--to", into, "--yes", "--json", env=env)
    doc = json.loads(result.stdout)
    assert doc["command"] == "archive.restore" and doc["ok"], doc
    assert len(doc["requested"]) == 9 and len(doc["restored"]) == 9 and doc["pending"] == []
    # a refusal is one JSON document too
    result = vam_cli("archive.restore", *AD, "--tier", "fast", "--json", env=env)
    doc = json.loads(result.stdout)
    assert result.returncode == 2 and doc["error"] == "--tier fast: use bulk, standard or expedited"


# --------------------------------------------------------------------------- other classes


def use_class(world, klass: str) -> None:
    brands = world.david.root / "vam" / "brands.toml"
    text = brands.read_text(encoding="utf-8")
    brands.write_text(
        text.replace('archive_class = "DEEP_ARCHIVE"', f'archive_class = "{klass}"'),
        encoding="utf-8",
    )


def test_glacier_instant_retrieval_needs_no_restore(world, s3, client, capsys, monkeypatch):
    use_class(world, "GLACIER_IR")
    before = contents(b65(world))
    out = vam(world.david, capsys, "archive.cloud", *AD)
    assert "(GLACIER_IR)" in out
    classes = {o["StorageClass"] for rel, o in listed(client).items() if rel != ".vam/archive.json"}
    assert classes == {"GLACIER_IR"}
    into = world.base / "ir"
    with GlacierProxy(s3.endpoint_url) as glacier:
        monkeypatch.setenv("AWS_ENDPOINT_URL", glacier.url)
        out = vam(world.david, capsys, "archive.restore", *AD, "--to", str(into))  # no --yes
        assert glacier.restoring() == []  # nothing asked of S3: the class is readable at once
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint_url)
    assert "readable now: 9 files, 329.9 KB" in out and "restore requested" not in out
    assert contents(into) == before
    out = vam(world.david, capsys, "archive.status", "--brand", "ad")
    assert "GLACIER_IR" in out and "readable (no restore needed)" in out
    assert "S3 Glacier Instant Retrieval $0.004/GB-month" in out


def test_glacier_flexible_retrieval_offers_expedited(world, capsys):
    use_class(world, "GLACIER")
    vam(world.david, capsys, "archive.cloud", *AD)
    shutil.rmtree(b65(world))
    out = vam(world.david, capsys, "archive.restore", *AD, "--tier", "expedited", "--dry-run")
    assert "to restore:  9 files, 329.9 KB, tier expedited" in out
    assert "S3 Glacier Flexible Retrieval, expedited 1-5 minutes" in out and "← chosen" in out
    assert "S3 Glacier Flexible Retrieval, bulk      5-12 hours" in out


def test_update_refuses_to_replace_an_archived_version_nothing_would_keep(
    tmp_path, s3, client, capsys
):
    """A bucket without versioning (R2, B2, MinIO's default): --update would destroy the
    archived version, so it sends nothing and says why."""
    from vam.demo.story import build_world as build

    client.create_bucket(Bucket=BUCKET)  # made by hand: no versioning
    world = build(tmp_path / "plain", s3.endpoint_url, media_bytes=16 * KiB, webhook_url=None)
    vam(world.david, capsys, "archive.cloud", *AD)
    (b65(world) / "notes.md").write_text("changed\n", encoding="utf-8")
    out = vam(world.david, capsys, "archive.cloud", *AD, "--update", expect=1)
    assert out.strip().splitlines()[-1] == (
        "vam: archiving 1 changed file(s) again (notes.md) would replace their archived "
        "versions, and versioning is off on this bucket: nothing would keep them; nothing was "
        "sent — turn versioning on (`vam aws.setup-bucket`) and run the same command again"
    )
    index = json.loads(client.get_object(Bucket=BUCKET, Key=INDEX)["Body"].read())
    head = client.head_object(Bucket=BUCKET, Key=ARCHIVE + "notes.md")
    assert head["ETag"].strip('"') == index["files"]["notes.md"]["etag"]  # untouched
