"""S3 staging sync as David and Jan live it (SPEC §4), against moto's server on loopback.

David works in the sample projects root; Jan has her own projects root (empty brand repo), her own
settings and so her own sync record. Nothing here mocks boto3.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from pathlib import Path

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from storykit import B65, BUCKET, PREFIX, Person, states
from transferkit import StopAfter

from vam.aws.client import connect
from vam.core.config import load_config
from vam.core.projects import projects_root
from vam.demo.sample import write_media
from vam.s3sync.fingerprint import Hasher
from vam.s3sync.model import FileState
from vam.s3sync.status import brand_status
from vam.s3sync.syncview import report_lines, status_lines

pytestmark = pytest.mark.integration


def test_round_trip_david_up_jan_down_jan_edits_david_down(david, jan):
    # David hands his raw cut to Jan
    first = david.up()
    assert {o.rel for o in first.outcomes if o.ok} == {
        "raw.mp4",
        "brief.md",
        "b-roll café – take 2.mov",
    }
    assert all(r.state is FileState.SYNCED for r in first.after.rows)
    # Jan has never seen b65: it exists only in S3 for her
    got = jan.down()
    assert sorted(o.rel for o in got.outcomes if o.ok) == [
        "b-roll café – take 2.mov",
        "brief.md",
        "raw.mp4",
    ]
    theirs = jan.staging() / "raw.mp4"
    ours = david.staging() / "raw.mp4"
    assert theirs.read_bytes() == ours.read_bytes()
    assert theirs.stat().st_mtime_ns == ours.stat().st_mtime_ns  # mtime restored
    assert set(states(jan.status().plan).values()) == {"synced"}
    assert (jan.staging().parent / ".vam" / "sync-jan.json").is_file()
    # Jan edits the brief and uploads it
    (jan.staging() / "brief.md").write_text("Cut the intro to 15 seconds.\n")
    assert states(jan.up().after)["brief.md"] == "synced"
    # David's next upload has nothing to send, and points him at Jan's newer file
    his_up = "\n".join(report_lines(david.up()))
    assert "nothing to upload" in his_up
    assert f"→ vam s3.down --brand appydave --project {B65}" in his_up and "from jan" in his_up
    # David's status says download, with Jan's name
    st = david.status()
    row = st.plan.row("brief.md")
    assert row.state is FileState.DOWNLOAD and row.remote.uploaded_by == "jan"
    text = "\n".join(status_lines(st))
    assert "download" in text and "jan" in text
    assert f"vam s3.down --brand appydave --project {B65}" in text
    # David downloads; both report synced
    david.down()
    assert (david.staging() / "brief.md").read_text() == "Cut the intro to 15 seconds.\n"
    assert set(states(david.status().plan).values()) == {"synced"}
    assert set(states(jan.status().plan).values()) == {"synced"}


def test_same_size_edit_is_detected(david, jan):
    david.up()
    jan.down()
    raw = jan.staging() / "raw.mp4"
    data = bytearray(raw.read_bytes())
    data[1000] ^= 0xFF  # one byte flipped: same size
    raw.write_bytes(bytes(data))
    os.utime(raw, ns=(raw.stat().st_mtime_ns + 10**9,) * 2)
    assert jan.status().plan.row("raw.mp4").state is FileState.UPLOAD
    jan.up()
    assert david.status().plan.row("raw.mp4").state is FileState.DOWNLOAD


def edit(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 2 * 10**9,) * 2)


def test_both_edited_is_a_conflict_both_ways_and_nothing_is_overwritten(david, jan):
    david.up()
    jan.down()
    edit(jan.staging() / "brief.md", "Jan: 15 seconds.\n")
    jan.up()
    edit(david.staging() / "brief.md", "David: 25 seconds!\n")
    assert david.status().plan.row("brief.md").state is FileState.CONFLICT
    up = david.up()
    assert not any(o.rel == "brief.md" for o in up.outcomes)
    message = next(m for m in up.messages if "brief.md" in m)
    assert "jan" in message and "--force" in message and "s3.down" in message
    down = david.down()
    assert not any(o.rel == "brief.md" for o in down.outcomes)
    assert (david.staging() / "brief.md").read_text() == "David: 25 seconds!\n"
    assert jan.down().plan.row("brief.md").state is FileState.SYNCED  # Jan: her own is in S3
    s3 = boto3.client("s3", region_name="us-east-1")
    body = s3.get_object(Bucket=BUCKET, Key=PREFIX + "brief.md")["Body"].read()
    assert body == b"Jan: 15 seconds.\n"


def test_force_down_keeps_the_local_version_as_a_backup(david, jan):
    david.up()
    jan.down()
    edit(jan.staging() / "brief.md", "Jan: 15 seconds.\n")
    jan.up()
    edit(david.staging() / "brief.md", "David: 25 seconds!\n")
    report = david.down(force=True)
    assert (david.staging() / "brief.md").read_text() == "Jan: 15 seconds.\n"
    backups = list((david.staging().parent / ".vam" / "backups").rglob("brief.md"))
    assert [b.read_text() for b in backups] == ["David: 25 seconds!\n"]
    assert any("kept in" in o.message for o in report.outcomes)
    assert david.status().plan.row("brief.md").state is FileState.SYNCED


def test_force_up_overwrites_only_the_shown_version_and_versioning_keeps_it(david, jan):
    david.up()
    jan.down()
    edit(jan.staging() / "brief.md", "Jan: 15 seconds.\n")
    jan.up()
    edit(david.staging() / "brief.md", "David: 25 seconds!\n")
    report = david.up(force=True)
    assert any(o.rel == "brief.md" and o.ok and "versioning" in o.message for o in report.outcomes)
    s3 = boto3.client("s3", region_name="us-east-1")
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=PREFIX + "brief.md")["Versions"]
    bodies = {
        s3.get_object(Bucket=BUCKET, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
        for v in versions
    }
    assert b"Jan: 15 seconds.\n" in bodies and b"David: 25 seconds!\n" in bodies
    assert jan.status().plan.row("brief.md").state is FileState.DOWNLOAD


def test_concurrent_upload_of_a_new_file_is_a_conflict_not_an_overwrite(david, jan, s3c):
    (david.staging() / "new.md").write_text("David's new file\n")
    plan_seen = david.up(dry_run=True)
    assert plan_seen.plan.row("new.md").state is FileState.UPLOAD
    # Jan's upload of the same name lands between David's plan and his upload: If-None-Match
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + "new.md", Body=b"Jan's new file\n")
    from vam.s3sync import transfer

    with pytest.raises(transfer.RemoteChanged):
        transfer.upload_file(
            s3c,
            BUCKET,
            PREFIX + "new.md",
            david.staging() / "new.md",
            crc32=plan_seen.plan.row("new.md").local.crc32,
            metadata={},
            if_none_match=True,
        )
    assert (
        s3c.get_object(Bucket=BUCKET, Key=PREFIX + "new.md")["Body"].read() == b"Jan's new file\n"
    )
    assert david.up().plan.row("new.md").state is FileState.CONFLICT


def test_unchanged_rerun_transfers_nothing_and_reads_nothing(david):
    david.up()
    hasher = Hasher()
    again = david.up(hasher=hasher)
    assert again.bytes_transferred == 0
    assert hasher.bytes_read == 0 and hasher.files_read == []
    assert not again.transfers
    assert "nothing to upload" in "\n".join(report_lines(again))
    # and status needs no HEAD: the index knows every object
    assert david.status(hasher=hasher).heads == 0
    assert hasher.bytes_read == 0


def test_a_first_upload_reads_each_new_file_once_while_sending_it(david, s3c):
    """New files are not read by the scan (nothing to compare them with): the upload checksums
    them on the way out, the record and index get that CRC32, and the re-check and the next
    status read nothing."""
    big = david.staging() / "render.mp4"
    write_media(big, 3 * 1024 * 1024, seed=11)
    # the render finished a minute ago (one saved within a timestamp tick of its upload would be
    # "racily clean" and read once more later: see test_checksum_cache.py)
    minute_ago = big.stat().st_mtime_ns - 60 * 10**9
    os.utime(big, ns=(minute_ago, minute_ago))
    hasher = Hasher()
    report = david.up(hasher=hasher)
    assert report.ok and hasher.bytes_read == 0 and hasher.files_read == []
    crc = zlib.crc32(big.read_bytes())
    assert _record(david)["render.mp4"]["crc32"] == crc
    head = s3c.head_object(Bucket=BUCKET, Key=PREFIX + "render.mp4", ChecksumMode="ENABLED")
    assert base64.b64decode(head["ChecksumCRC32"]) == crc.to_bytes(4, "big")
    later = Hasher()
    assert states(david.status(hasher=later).plan)["render.mp4"] == "synced"
    assert later.bytes_read == 0


def test_status_still_reads_a_new_file_to_show_its_checksum(david):
    hasher = Hasher()
    row = david.status(hasher=hasher).plan.row("brief.md")
    assert row.state is FileState.UPLOAD and row.local.crc32 is not None
    assert hasher.bytes_read > 0


def test_foreign_multipart_upload_is_compared_by_content(david, s3c):
    staging = david.staging()
    # s3transfer never goes below 5 MiB parts: 5 MiB + 512 B parts, so two parts
    big = write_media(staging / "render.mov", 6 * 1024 * 1024 + 123, seed="render")
    config = TransferConfig(
        multipart_threshold=1024 * 1024, multipart_chunksize=5 * 1024 * 1024 + 512
    )
    s3c.upload_file(str(big), BUCKET, PREFIX + "render.mov", Config=config)
    etag = s3c.head_object(Bucket=BUCKET, Key=PREFIX + "render.mov")["ETag"]
    assert etag.strip('"').endswith("-2")  # multipart, part size unlike vam's
    st = david.status()
    assert st.plan.row("render.mov").state is FileState.SYNCED
    report = david.up()
    assert not any(o.rel == "render.mov" for o in report.outcomes)  # no transfer
    # another tool replaces it with different bytes of the same size
    other = write_media(staging.parent / "other.bin", big.stat().st_size, seed="other")
    s3c.upload_file(str(other), BUCKET, PREFIX + "render.mov", Config=config)
    assert david.status().plan.row("render.mov").state is FileState.DOWNLOAD


def test_foreign_identical_but_unrecorded_single_part_object_is_synced(david, s3c):
    data = (david.staging() / "brief.md").read_bytes()
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + "brief.md", Body=data)
    assert david.status().plan.row("brief.md").state is FileState.SYNCED
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + "brief.md", Body=b"x" * len(data))
    assert david.status().plan.row("brief.md").state is FileState.CONFLICT  # both new, differ


def test_planted_escaping_key_is_refused_and_nothing_is_written_outside(david, jan, s3c, tmp_path):
    david.up()
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + "../../evil", Body=b"evil")
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + "sub/../../evil2", Body=b"evil")
    before = {p for p in tmp_path.rglob("*")}
    report = jan.down()
    after = {p for p in tmp_path.rglob("*")}
    assert not any("evil" in p.name for p in after - before)
    assert not any("evil" in p.name for p in tmp_path.rglob("*"))
    refused = [r for r in report.plan.rows if r.state is FileState.REFUSED]
    assert {r.rel for r in refused} == {"../../evil", "sub/../../evil2"}
    assert sum("refused S3 key" in m for m in report.messages) == 2
    assert {o.rel for o in report.outcomes if o.ok} == {
        "raw.mp4",
        "brief.md",
        "b-roll café – take 2.mov",
    }


def test_deletions_are_reported_never_propagated(david, jan, s3c):
    david.up()
    jan.down()
    (jan.staging() / "brief.md").unlink()
    assert jan.status().plan.row("brief.md").state is FileState.DELETED_HERE
    report = jan.up()
    assert s3c.head_object(Bucket=BUCKET, Key=PREFIX + "brief.md")
    assert any("deleted here" in m and "s3.down" in m for m in report.messages)
    s3c.delete_object(Bucket=BUCKET, Key=PREFIX + "raw.mp4")
    down = david.down()
    assert (david.staging() / "raw.mp4").is_file()
    assert down.plan.row("raw.mp4").state is FileState.DELETED_THERE
    assert any("deleted in S3" in m and "s3.up" in m for m in down.messages)
    # the explicit way back: up --force re-uploads it
    david.up(force=True)
    assert david.status().plan.row("raw.mp4").state is FileState.SYNCED


def test_dry_run_transfers_nothing(david, s3c):
    report = david.up(dry_run=True)
    assert len(report.transfers) == 3 and not report.outcomes
    assert "KeyCount" in s3c.list_objects_v2(Bucket=BUCKET) and not s3c.list_objects_v2(
        Bucket=BUCKET
    ).get("Contents")
    assert not (david.staging().parent / ".vam" / "sync-david.json").exists()


def test_brand_status_lists_projects_from_one_listing(david, jan, sample):
    david.up()
    config = load_config(env={**os.environ, "VAM_SETTINGS": str(jan.settings)})
    s3 = connect(config.settings, config.storage).client("s3")
    statuses, refusals = brand_status(s3, config, projects_root(config), "appydave", user="jan")
    assert [s.target.project_id for s in statuses] == [B65]
    assert statuses[0].plan.counts() == {"download": 3}
    assert statuses[0].first_expiry is not None and not refusals


class RequestCounter:
    """Counts the HTTP requests a client really sends (a botocore event hook, not a mock)."""

    def __init__(self, client):
        self.calls: list[str] = []
        client.meta.events.register("before-send.s3", self._count)

    def _count(self, request, **_):
        self.calls.append(f"{request.method} {request.url.split('?')[0].rsplit('/', 1)[-1]}")


def test_status_of_a_brand_is_one_listing_plus_one_index_read_per_project(david, jan, s3c):
    david.up()
    config = load_config(env={**os.environ, "VAM_SETTINGS": str(jan.settings)})
    s3 = connect(config.settings, config.storage).client("s3")
    counter = RequestCounter(s3)
    statuses, _ = brand_status(s3, config, projects_root(config), "appydave", user="jan")
    assert len(statuses) == 1
    # one paginated listing of the brand prefix, one GET of the project's index, no HEADs
    assert counter.calls == ["GET video-projects", "GET index.json"]


def _edit_index(s3c, edit) -> None:
    """Another tool (or a hand edit) rewrites the project's S3 index."""
    key = PREFIX + ".vam/index.json"
    index = json.loads(s3c.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    edit(index["files"])
    s3c.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(index).encode())


def test_an_index_entry_in_a_form_vam_never_writes_is_not_believed(david, s3c):
    """vam stores a CRC32 in its index as an int. An entry whose CRC32 is a hex string (another
    tool's idea of one) is not vam's record of that object: David's file, unchanged on both
    sides, stays synced instead of looking changed in S3."""
    david.up()

    def hex_crc(files: dict) -> None:
        files["brief.md"]["crc32"] = f"{files['brief.md']['crc32']:08x}"

    _edit_index(s3c, hex_crc)
    assert states(david.status().plan)["brief.md"] == "synced"


def test_an_index_entry_vam_cannot_read_costs_only_that_files_head(david, jan, s3c):
    """One entry of the index lost a field: Jan's status HEADs that one object, and the other
    entries still spare theirs (the whole index was dropped: one HEAD per file)."""
    david.up()
    _edit_index(s3c, lambda files: files["brief.md"].pop("etag"))
    found = jan.status()
    assert found.heads == 1
    assert set(states(found.plan).values()) == {"download"}
    assert {r.remote.uploaded_by for r in found.plan.rows} == {"david"}


def test_a_local_name_invalid_on_windows_is_not_uploaded(david, s3c):
    (david.staging() / "cut: final.md").write_text("colon in the name\n")
    report = david.up()
    assert "cut: final.md" not in {o.rel for o in report.outcomes}
    assert report.plan.row("cut: final.md") is None
    assert "skipped cut: final.md: not uploaded: character not allowed on Windows" in "\n".join(
        report_lines(report)
    )
    st = david.status()
    assert any(s.rel == "cut: final.md" and "rename" in s.reason for s in st.skipped)


def test_delete_is_explicit_and_recoverable_on_both_sides(david, jan, s3c):
    david.up()
    jan.down()
    (jan.staging() / "brief.md").unlink()
    gone = jan.up(delete=True)
    assert any(o.rel == "brief.md" and o.ok for o in gone.outcomes)
    assert gone.after.row("brief.md") is None  # forgotten everywhere
    keys = [o["Key"] for o in s3c.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]]
    assert PREFIX + "brief.md" not in keys
    versions = s3c.list_object_versions(Bucket=BUCKET, Prefix=PREFIX + "brief.md")
    assert versions.get("Versions")  # still recoverable through versioning
    # David is told, and removes his copy explicitly: it goes to the backups, not away
    st = david.status()
    assert st.plan.row("brief.md").state is FileState.DELETED_THERE
    assert any("--delete" in r.command for r in st.recommendations)
    david.down(delete=True)
    assert not (david.staging() / "brief.md").exists()
    kept = list((david.staging().parent / ".vam" / "backups").rglob("brief.md"))
    assert [k.read_text() for k in kept] == ["Cut the intro to 20 seconds.\n"]
    assert set(states(david.status().plan).values()) == {"synced"}


def test_jan_uploads_while_davids_upload_runs_and_nothing_is_overwritten(david, jan, s3c):
    david.up()
    jan.down()
    edit(david.staging() / "brief.md", "David: 25 seconds.\n")
    s3 = david.setup()[2]
    fired = []

    def jan_uploads_first(params, **_):
        # a real request by another client, just before David's PUT leaves his machine
        if params.get("Key", "").endswith("brief.md") and not fired:
            fired.append(True)
            s3c.put_object(
                Bucket=BUCKET,
                Key=PREFIX + "brief.md",
                Body=b"Jan: 15 seconds.\n",
                Metadata={"uploaded-by": "jan"},
            )

    s3.meta.events.register("provide-client-params.s3.PutObject", jan_uploads_first)
    try:
        report = david.up()
    finally:
        s3.meta.events.unregister("provide-client-params.s3.PutObject", jan_uploads_first)
    assert fired
    (failed,) = [o for o in report.outcomes if o.rel == "brief.md"]
    assert (
        not failed.ok
        and failed.state is FileState.CONFLICT
        and "nothing overwritten" in (failed.message)
    )
    body = s3c.get_object(Bucket=BUCKET, Key=PREFIX + "brief.md")["Body"].read()
    assert body == b"Jan: 15 seconds.\n"
    assert report.after.row("brief.md").state is FileState.CONFLICT  # not recorded as synced


def test_a_file_saved_again_during_its_upload_is_not_recorded_as_synced(david):
    """The engine sends a verified snapshot; the edit made meanwhile is not taken as synced."""
    brief = david.staging() / "brief.md"
    before = brief.read_bytes()
    s3 = david.setup()[2]

    def editor_saves(params, **_):
        if params.get("Key", "").endswith("brief.md"):
            brief.write_text("Saved again mid-upload!\n")

    s3.meta.events.register("provide-client-params.s3.PutObject", editor_saves)
    try:
        report = david.up()
    finally:
        s3.meta.events.unregister("provide-client-params.s3.PutObject", editor_saves)
    # S3 holds exactly the bytes that were checksummed (never a mix), and the record says so …
    s3c = boto3.client("s3", region_name="us-east-1")
    assert s3c.get_object(Bucket=BUCKET, Key=PREFIX + "brief.md")["Body"].read() == before
    assert _record(david)["brief.md"]["size"] == len(before)
    # … while the newer save is not synced: the run says so and the next `up` sends it
    assert not report.ok and any(u.startswith("brief.md:") for u in report.unsettled)
    assert report.after.row("brief.md").state is FileState.UPLOAD
    assert david.up().ok
    assert (
        s3c.get_object(Bucket=BUCKET, Key=PREFIX + "brief.md")["Body"].read() == brief.read_bytes()
    )


def _record(person: Person) -> dict:
    import json

    path = person.staging().parent / ".vam" / f"sync-{person.name}.json"
    return json.loads(path.read_text())["files"]


def test_a_re_sync_with_nothing_changed_is_one_listing_and_one_index_read(david, s3c):
    david.up()
    counter = RequestCounter(david.setup()[2])
    again = david.up()
    assert again.transfers == () and again.bytes_read == 0 and again.ok
    # nothing was done, so nothing is re-checked: the scan itself is the state afterwards
    assert counter.calls == ["GET video-projects", "GET index.json"]
    assert again.after is again.plan and again.after.counts() == {"synced": 3}


def test_a_download_into_an_existing_folder_never_makes_a_moved_project_again(david, jan, tmp_path):
    """vam watch downloads with into_existing: a project folder archived or moved away, before
    the run or during it, is not made again by what is still coming down."""
    from vam.s3sync.down import ProjectGone

    david.up()
    jan.down()
    for name in ("brief.md", "raw.mp4", "notes/cut.md"):
        path = jan.staging() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"Jan's version of " + name.encode() + b"\n" * 100)
    assert jan.up().ok
    folder = david.staging().parent
    away = tmp_path / "archived" / folder.name
    away.parent.mkdir()
    # at the first bytes of the download, as ssd.archive or a person does while a watch runs
    mover = StopAfter(1, action=lambda: os.rename(folder, away))
    with pytest.raises(ProjectGone, match="is gone"):
        david.down(into_existing=True, progress=mover)
    assert mover.fired
    assert not folder.exists()  # nothing made it again: not s3-staging/, not .vam/
    assert (away / "s3-staging").is_dir()
    with pytest.raises(ProjectGone, match="nothing downloaded"):  # gone before the run
        david.down(into_existing=True)
    assert not folder.exists()
    os.rename(away, folder)  # back where it was: the download goes on as usual
    report = david.down(into_existing=True)
    assert report.ok
    assert (david.staging() / "notes/cut.md").read_bytes().startswith(b"Jan's version")
