"""`s3.cleanup` and `ssd.archive --cleanup-s3` as David and Jan live them, on moto's server: what
exists only in S3 is never lost (a copy under .vam/backups/ where no versioning keeps it, and the
backups stay unless asked for), and nothing on this computer is deleted on a cache's word.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from cliworld import AD, BACKUPS, BUCKET, PREFIX, body, keys, staging, vam

from tests.edits import flip_byte
from vam.demo.story import B65, append_line

pytestmark = pytest.mark.integration


def jan_adds_a_cut(world, capsys) -> bytes:
    vam(world.david, capsys, "s3.up", *AD)
    vam(world.jan, capsys, "s3.down", *AD)
    cut = staging(world.jan) / "jan-cut.mp4"
    cut.write_bytes(b"jan's cut" * 1000)
    vam(world.jan, capsys, "s3.up", *AD)
    return cut.read_bytes()


def test_forced_cleanup_without_versioning_keeps_jans_only_copy_and_the_backup_stays(
    plain, capsys, client
):
    cut = jan_adds_a_cut(plain, capsys)
    out = vam(plain.david, capsys, "s3.cleanup", *AD, "--yes", "--force")
    assert "bucket versioning keeps" not in out
    # only the file that existed nowhere else was copied: the rest is on David's computer
    kept = re.search(r"kept the deleted S3 version of jan-cut\.mp4 as s3://[^/]+/(\S+)", out)
    assert kept, out
    assert {k for k in keys(client, BACKUPS)} == {kept.group(1)}
    assert body(client, kept.group(1)) == cut
    assert "re-checked S3: 0 project file(s) left" in out
    # vam's index and handoff objects went; the backup stayed, and the output says so
    assert keys(client) == {kept.group(1)}
    assert "kept 1 backup(s)" in out and "--include-backups" in out
    # asked for everything gone, it goes (and the plan says there is no undo)
    out = vam(plain.david, capsys, "s3.cleanup", *AD, "--yes", "--include-backups")
    assert "no undo" in out
    assert keys(client) == set()


def test_remote_cleanup_keeps_a_file_whose_local_copy_was_edited_in_place(plain, capsys, client):
    """A same-size edit with the mtime put back: the S3 version is then the only copy of what
    was uploaded, so cleanup keeps it. (The scan sees the edit by the file's ctime; were the
    cache to vouch for it all the same, the re-read right before the delete would.)"""
    vam(plain.david, capsys, "s3.up", *AD)
    uploaded = (staging(plain.david) / "brief.md").read_bytes()
    flip_byte(staging(plain.david) / "brief.md", 3)  # same size, same mtime
    out = vam(plain.david, capsys, "s3.cleanup", *AD, "--yes", expect=1)
    assert PREFIX + "brief.md" in keys(client), out
    assert body(client, PREFIX + "brief.md") == uploaded
    assert re.search(r"kept brief\.md.*(changed here|newer version is not uploaded)", out), out
    assert PREFIX + "raw.mp4" not in keys(client)  # the others were on this computer: deleted


def test_archive_cleanup_keeps_the_s3_backups_the_ssd_does_not_have(plain, capsys, client):
    vam(plain.david, capsys, "s3.up", *AD)
    vam(plain.jan, capsys, "s3.down", *AD)
    append_line(staging(plain.jan) / "brief.md", "Jan: cut the intro")
    vam(plain.jan, capsys, "s3.up", *AD)
    jans = (staging(plain.jan) / "brief.md").read_bytes()
    append_line(staging(plain.david) / "brief.md", "David: keep the intro")
    vam(plain.david, capsys, "s3.up", *AD, "--force")
    [backup] = keys(client, BACKUPS)
    assert body(client, backup) == jans
    out = vam(plain.david, capsys, "ssd.archive", *AD, "--cleanup-s3")
    assert "S3 staging: deleted 3 file(s)" in out
    # Jan's replaced version is on no SSD: it stays in S3, and the output says where
    assert keys(client) == {backup}
    assert body(client, backup) == jans
    assert "kept 1 backup(s)" in out
    # the command it names works on the archived project and takes them away
    out = vam(plain.david, capsys, "s3.cleanup", *AD, "--yes", "--include-backups")
    assert keys(client) == set(), out


def test_cleanup_deletes_each_s3_file_only_as_the_version_it_verified(
    plain, capsys, client, monkeypatch, s3
):
    from tests.header_proxy import HeaderProxy

    vam(plain.david, capsys, "s3.up", *AD)
    with HeaderProxy(s3.endpoint_url, strip=()) as proxy:  # a log only: headers go through
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        vam(plain.david, capsys, "s3.cleanup", *AD, "--yes")
    deletes = [s for s in proxy.requests("DELETE", f"{B65}/") if "/.vam/" not in s.target]
    assert len(deletes) == 3 and all("if-match" in s.conditions for s in deletes), deletes


def test_cleanup_where_the_server_ignores_if_match_heads_before_each_delete_and_says_so(
    plain, capsys, client, monkeypatch, s3
):
    from tests.header_proxy import HeaderProxy

    vam(plain.david, capsys, "s3.up", *AD)
    jans = b"Jan's raw, uploaded while David cleans up"
    landed = []

    def jan_uploads(method: str, target: str) -> None:
        if not landed and method == "GET" and target.split("?")[0].endswith("/.vam/index.json"):
            landed.append(target)
            client.put_object(Bucket=BUCKET, Key=PREFIX + "raw.mp4", Body=jans)

    with HeaderProxy(s3.endpoint_url, before=jan_uploads) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        out = vam(plain.david, capsys, "s3.cleanup", *AD, "--yes", expect=1)
    assert body(client, PREFIX + "raw.mp4") == jans
    assert re.search(r"raw\.mp4: changed in S3 since the plan", out), out
    assert "ignores If-Match" in out and "weaker" in out
    for rel in ("brief.md", "b-roll café – take 2.mov"):
        path = "/" + quote(rel)
        methods = [s.method for s in proxy.requests() if s.target.split("?")[0].endswith(path)]
        assert methods[-2:] == ["HEAD", "DELETE"], (rel, methods)


def test_a_cleanup_dry_run_writes_nothing_not_even_a_probe(plain, capsys, client, monkeypatch, s3):
    from tests.header_proxy import HeaderProxy

    vam(plain.david, capsys, "s3.up", *AD)
    with HeaderProxy(s3.endpoint_url, strip=()) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        out = vam(plain.david, capsys, "s3.cleanup", *AD, "--dry-run")
    assert "dry run: nothing deleted" in out
    assert {s.method for s in proxy.requests()} <= {"GET", "HEAD"}, proxy.requests()


def test_archive_cleanup_deletes_only_the_version_it_compared_with_the_ssd(
    plain, capsys, client, monkeypatch, s3
):
    from tests.header_proxy import HeaderProxy

    vam(plain.david, capsys, "s3.up", *AD)
    jans = b"Jan's raw, uploaded while David archives"
    landed = []

    def jan_uploads(method: str, target: str) -> None:
        deleting = method == "DELETE" or (method == "POST" and "delete" in target)
        if not landed and deleting:
            landed.append(target)
            client.put_object(Bucket=BUCKET, Key=PREFIX + "raw.mp4", Body=jans)

    with HeaderProxy(s3.endpoint_url, strip=(), before=jan_uploads) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        out = vam(plain.david, capsys, "ssd.archive", *AD, "--cleanup-s3", expect=1)
    assert landed
    assert body(client, PREFIX + "raw.mp4") == jans  # Jan's new version is not on the SSD
    assert re.search(r"raw\.mp4.*changed in S3", out), out
    assert PREFIX + "brief.md" not in keys(client)  # the others were proven on the SSD


# --------------------------------------------------------------------------- unfinished uploads


def open_uploads(client) -> dict[str, str]:
    listed = client.list_multipart_uploads(Bucket=BUCKET, Prefix=PREFIX).get("Uploads", [])
    return {u["Key"][len(PREFIX) :]: u["UploadId"] for u in listed}


def jan_is_uploading(client, rel: str = "jan-final.mp4") -> str:
    """Jan's upload from her computer, two parts in: nothing of it is recorded on David's."""
    up = client.create_multipart_upload(Bucket=BUCKET, Key=PREFIX + rel)
    for number in (1, 2):
        client.upload_part(
            Bucket=BUCKET,
            Key=PREFIX + rel,
            UploadId=up["UploadId"],
            PartNumber=number,
            Body=b"j" * 70_000,
        )
    return up["UploadId"]


@pytest.fixture
def small_parts(monkeypatch):
    import moto.s3.models

    from vam.s3sync.transfer import tuning

    part = 64 * 1024
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", part)
    monkeypatch.setattr(tuning, "SINGLE_PUT_LIMIT", 2 * part)
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", part)
    monkeypatch.setattr(tuning, "MAX_UPLOAD_WORKERS", 1)
    return part


def david_is_interrupted(world, client, part: int) -> str:
    """David's own upload of a render, interrupted after one part (Ctrl-C, a dropped link):
    vam keeps the multipart upload and records it in his project's .vam/uploads/."""
    from tests.transferkit import Interrupted, StopAfter
    from vam.s3sync import transfer

    render = staging(world.david) / "final-render.mp4"
    render.write_bytes(b"d" * (4 * part))
    with pytest.raises(Interrupted):
        transfer.upload_file(
            client,
            BUCKET,
            PREFIX + "final-render.mp4",
            render,
            crc32=None,
            metadata={},
            state_dir=staging(world.david).parent / ".vam",
            progress=StopAfter(part + 1),
        )
    return open_uploads(client)["final-render.mp4"]


def test_cleanup_keeps_jans_upload_in_progress_and_lists_it(plain, capsys, client):
    vam(plain.david, capsys, "s3.up", *AD)
    jans = jan_is_uploading(client)
    out = vam(plain.david, capsys, "s3.cleanup", *AD, "--yes")
    assert open_uploads(client) == {"jan-final.mp4": jans}  # still there, for her to finish
    line = next(ln for ln in out.splitlines() if "jan-final.mp4" in ln)
    assert "keep" in line and "not started from this computer" in line, out
    assert "2 parts" in line and "140.0 KB sent" in line and "started" in line, line
    assert "--force" in out
    # asked to, cleanup aborts it
    out = vam(plain.david, capsys, "s3.cleanup", *AD, "--yes", "--force")
    assert open_uploads(client) == {}
    assert "aborted 1 unfinished upload(s)" in out


def test_cleanup_aborts_only_this_computers_stale_uploads(plain, capsys, client, small_parts):
    import json

    vam(plain.david, capsys, "s3.up", *AD)
    mine = david_is_interrupted(plain, client, small_parts)
    (staging(plain.david) / "final-render.mp4").unlink()  # given up on that render
    # interrupted a minute ago: he may be resuming it in another window, so it stays
    out = vam(plain.david, capsys, "s3.cleanup", *AD, "--yes")
    assert open_uploads(client) == {"final-render.mp4": mine}, out
    assert re.search(r"keep .*final-render\.mp4.*within the last 24 hours", out), out
    # three days later it is stale: cleanup aborts it and forgets it here
    [record] = (staging(plain.david).parent / ".vam" / "uploads").glob("*.json")
    data = json.loads(record.read_text())
    data["started"] -= 3 * 86400
    record.write_text(json.dumps(data))
    jans = jan_is_uploading(client)
    out = vam(plain.david, capsys, "s3.cleanup", *AD, "--yes")
    assert open_uploads(client) == {"jan-final.mp4": jans}, out  # Jan's is never stale here
    assert "aborted 1 unfinished upload(s)" in out and not record.exists()


def test_which_unfinished_uploads_cleanup_aborts():
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from vam.s3sync.uploads import IncompleteUpload, judge_upload

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    long_ago = now - timedelta(days=30)

    def pending(started: datetime) -> IncompleteUpload:
        return IncompleteUpload(PREFIX + "x.mp4", "id", started, "jan", 3, 3 * 2**20)

    def record(age: timedelta) -> tuple[float, Path]:
        return ((now - age).timestamp(), Path("r.json"))

    # someone else's (no record here) stays however old S3 says it is
    assert not judge_upload(pending(long_ago), None, now, force=False).abort
    # this computer's: kept for 24 hours after the later of S3's and the record's start
    assert not judge_upload(pending(long_ago), record(timedelta(hours=23)), now, force=False).abort
    assert judge_upload(pending(long_ago), record(timedelta(hours=25)), now, force=False).abort
    recent_in_s3 = pending(now - timedelta(hours=1))
    assert not judge_upload(recent_in_s3, record(timedelta(days=3)), now, force=False).abort
    # --force aborts everything
    assert judge_upload(pending(now), None, now, force=True).abort


# --------------------------------------------------------------------------- local cleanup


def test_local_cleanup_re_reads_each_file_and_keeps_one_edited_in_place_after_the_sync(
    plain, capsys, client
):
    from tests.edits import edit_in_place

    vam(plain.david, capsys, "s3.up", *AD)
    brief = staging(plain.david) / "brief.md"
    before = brief.stat()
    edit_in_place(brief, "DAVID")  # same size, same mtime: the cache still says "synced"
    edited = brief.read_bytes()
    assert brief.stat().st_mtime_ns == before.st_mtime_ns and brief.stat().st_size == before.st_size
    out = vam(plain.david, capsys, "s3.cleanup", *AD, "--side", "local", "--yes", expect=1)
    assert brief.read_bytes() == edited  # David's edit is still there
    # kept, and said why (by the re-read here; a scan that sees the edit keeps it as well)
    assert re.search(r"brief\.md.*(not what S3 holds|changed here)", out), out
    assert sorted(p.name for p in staging(plain.david).iterdir()) == ["brief.md"]
    # and S3 was not touched
    assert PREFIX + "brief.md" in keys(client) and PREFIX + "raw.mp4" in keys(client)
