"""Never lose work (issue 12): the ways sync could lose or clobber a file, each as a story on
moto's server on loopback. Edits are made as people's tools make them: in place, or with the
mtime put back (tests/edits.py), so a check that trusts size + mtime cannot pass them.
"""

from __future__ import annotations

import json
import os
import time
import unicodedata

import pytest
from edits import flip_byte, replace_keeping_mtime, rewrite_keeping_mtime
from storykit import BUCKET, PREFIX, before_each, states

from vam.demo.sample import write_media
from vam.s3sync.syncview import report_lines, status_lines

pytestmark = pytest.mark.integration


def _keys(s3c) -> list[str]:
    listed = s3c.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX).get("Contents", [])
    return sorted(o["Key"][len(PREFIX) :] for o in listed if "/.vam/" not in "/" + o["Key"])


# --------------------------------------------------------------------------- 1. the cache


def test_a_same_size_rewrite_with_the_mtime_restored_is_seen_and_survives_the_next_down(david, jan):
    """The issue's story: Jan's edit keeps size and mtime (cp -p, exiftool -P); status names it,
    and David's newer version coming down is a conflict, not a plain download over her work."""
    david.up()
    jan.down()
    brief = jan.staging() / "brief.md"
    jans = b"J" * brief.stat().st_size
    rewrite_keeping_mtime(brief, jans)
    assert jan.status().plan.row("brief.md").state.value == "upload"
    (david.staging() / "brief.md").write_text("David's new brief, a little longer.\n")
    david.up()
    report = jan.down()
    assert brief.read_bytes() == jans
    assert report.plan.row("brief.md").state.value == "conflict"
    assert not any(o.rel == "brief.md" and o.ok for o in report.outcomes)
    assert any("conflict: brief.md" in m and "david" in m for m in report.messages)


@pytest.mark.parametrize("edit", [flip_byte, replace_keeping_mtime], ids=["in-place", "renamed"])
def test_a_media_edit_that_keeps_size_and_mtime_is_an_upload(david, jan, edit):
    david.up()
    jan.down()
    raw = jan.staging() / "raw.mp4"
    before = raw.read_bytes()
    if edit is flip_byte:
        flip_byte(raw, offset=1000)
    else:
        replace_keeping_mtime(raw, before[:1000] + bytes([before[1000] ^ 1]) + before[1001:])
    assert raw.stat().st_size == len(before)
    assert jan.status().plan.row("raw.mp4").state.value == "upload"
    assert jan.up().ok
    assert david.status().plan.row("raw.mp4").state.value == "download"


def test_a_download_re_hashes_the_file_it_replaces_instead_of_trusting_the_cache(david, jan):
    """The checksum cache is a planning hint: even when it vouches (wrongly) for a file, the step
    that would replace the file reads it again first."""
    david.up()
    jan.down()
    brief = jan.staging() / "brief.md"
    base_crc = json.loads((jan.state_dir() / "sync-jan.json").read_text())["files"]["brief.md"]
    jans = b"Jan's notes".ljust(brief.stat().st_size, b".")  # same size: only bytes differ
    brief.write_bytes(jans)
    hour_ago = time.time_ns() - 3600 * 10**9
    os.utime(brief, ns=(hour_ago, hour_ago))
    assert jan.status().plan.row("brief.md").state.value == "upload"
    # the cache now lies: it says brief.md still holds the synced content
    cache_path = jan.state_dir() / "checksums.json"
    cache = json.loads(cache_path.read_text())
    cache["files"]["brief.md"]["crc32"] = base_crc["crc32"]
    cache_path.write_text(json.dumps(cache))
    (david.staging() / "brief.md").write_text("David's second brief.\n")
    david.up()
    report = jan.down()
    assert brief.read_bytes() == jans
    (outcome,) = [o for o in report.outcomes if o.rel == "brief.md"]
    assert not outcome.ok and "changed here" in outcome.message


# --------------------------------------------------------------------------- 2. during a download


def test_an_edit_made_during_the_download_is_kept_and_the_download_waits_beside_it(david, jan):
    david.up()
    jan.down()
    raw = jan.staging() / "raw.mp4"
    write_media(david.staging() / "raw.mp4", raw.stat().st_size + 10, seed="david v2")
    davids = (david.staging() / "raw.mp4").read_bytes()
    david.up()
    saved = []

    def jan_saves_her_cut(params, **_):
        # Premiere saves over the file while vam is fetching David's version of it
        if params.get("Key", "").endswith("/raw.mp4") and not saved:
            saved.append(True)
            flip_byte(raw, offset=5)

    with before_each(jan.s3, "GetObject", jan_saves_her_cut):
        report = jan.down()
    assert saved
    hers = raw.read_bytes()
    assert hers != davids and len(hers) == len(davids) - 10  # her file, untouched by vam
    beside = [p for p in raw.parent.iterdir() if p.name.startswith("raw") and p.name != "raw.mp4"]
    assert len(beside) == 1 and beside[0].read_bytes() == davids
    assert not beside[0].name.endswith(".vam-part")
    (outcome,) = [o for o in report.outcomes if o.rel == "raw.mp4"]
    assert not outcome.ok and outcome.state.value == "conflict"
    assert beside[0].name in outcome.message
    # the copy beside it is not a new file to upload
    st = jan.status()
    assert st.plan.row(beside[0].name) is None
    assert st.plan.row("raw.mp4").state.value == "conflict"


# --------------------------------------------------------------------------- 3. links, skips


def test_a_download_never_writes_through_a_symlinked_folder(david, jan, s3c, tmp_path):
    david.up()
    jan.down()
    outside = tmp_path / "somewhere-else"
    outside.mkdir()
    (jan.staging() / "cuts").symlink_to(outside, target_is_directory=True)
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + "cuts/v2.md", Body=b"David's cut list\n")
    report = jan.down()
    assert list(outside.iterdir()) == []
    assert not any(o.rel == "cuts/v2.md" and o.ok for o in report.outcomes)
    text = "\n".join(report_lines(report))
    assert "cuts/v2.md" in text and "link" in text


def test_a_skipped_file_is_never_deleted_here_and_delete_leaves_its_object(david, s3c, tmp_path):
    david.up()
    brief = david.staging() / "brief.md"
    notes = tmp_path / "notes.md"
    notes.write_text(brief.read_text())
    brief.unlink()
    brief.symlink_to(notes)  # David keeps the brief elsewhere now and links it in
    row = david.status().plan.row("brief.md")
    assert row.state.value == "skipped" and "link" in row.reason
    report = david.up(delete=True)
    assert "brief.md" in _keys(s3c)
    assert not any(o.rel == "brief.md" for o in report.outcomes)


def test_remote_keys_on_the_exclude_list_are_ignored(david, jan, s3c):
    david.up()
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + ".DS_Store", Body=b"finder junk")
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + "stills/Thumbs.db", Body=b"explorer junk")
    report = jan.down()
    assert not (jan.staging() / ".DS_Store").exists()
    assert not (jan.staging() / "stills" / "Thumbs.db").exists()
    assert report.plan.row(".DS_Store").state.value == "skipped"
    assert "exclude" in report.plan.row("stills/Thumbs.db").reason
    assert report.ok


def test_a_console_folder_marker_is_ignored_and_the_handoff_goes_ahead(david, s3c, vam_cli, sample):
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + "stills/", Body=b"")  # "Create folder" in S3
    report = david.up()
    assert report.ok and report.plan.row("stills/") is None
    assert "refused" not in states(report.plan).values()
    as_david = {"VAM_SETTINGS": str(sample.settings["david"])}
    done = vam_cli(
        "handoff", "--brand", "ad", "--project", "b65", "--message", "raw cut", env=as_david
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refused" not in done.stdout + done.stderr


# --------------------------------------------------------------------------- 7. one name on disk


def test_keys_that_differ_only_by_case_are_named_and_neither_is_written(david, jan, s3c, vam_cli):
    david.up()
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + "Notes.md", Body=b"David's notes\n")
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + "notes.md", Body=b"Jan's notes\n")
    report = jan.down()
    names = {p.name.lower() for p in jan.staging().iterdir()}
    assert "notes.md" not in names
    text = "\n".join(report_lines(report))
    assert "Notes.md" in text and "notes.md" in text
    assert not report.ok
    done = vam_cli(
        "s3.down", "--brand", "ad", "--project", "b65", env={"VAM_SETTINGS": str(jan.settings)}
    )
    assert done.returncode != 0 and "Notes.md" in done.stdout + done.stderr


def test_keys_that_differ_only_by_unicode_normalisation_are_one_path(david, jan, s3c):
    david.up()
    composed = unicodedata.normalize("NFC", "café.md")
    decomposed = unicodedata.normalize("NFD", "café.md")
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + composed, Body=b"one\n")
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + decomposed, Body=b"two\n")
    report = jan.down()
    assert not any(
        unicodedata.normalize("NFC", p.name) == composed for p in jan.staging().iterdir()
    )
    assert not report.ok
    assert any(composed in m or decomposed in m for m in report.messages)


def test_davids_decomposed_name_and_a_composed_key_are_one_file(david, s3c):
    """macOS hands out NFD names; keys are NFC: the same file, never a second key."""
    composed = unicodedata.normalize("NFC", "Café intro.md")
    decomposed = unicodedata.normalize("NFD", "Café intro.md")
    assert composed != decomposed
    local = david.staging() / decomposed
    local.write_text("intro v1\n")
    s3c.put_object(Bucket=BUCKET, Key=PREFIX + composed, Body=b"intro v1\n")
    st = david.status()
    assert states(st.plan)[composed] == "synced"
    assert decomposed not in states(st.plan)
    david.up()
    assert _keys(s3c).count(composed) == 1 and decomposed not in _keys(s3c)
    local.write_text("intro v2, longer\n")
    assert david.up().ok
    assert decomposed not in _keys(s3c)
    body = s3c.get_object(Bucket=BUCKET, Key=PREFIX + composed)["Body"].read()
    assert body == b"intro v2, longer\n"


def test_two_local_files_that_are_one_file_on_windows_are_refused_for_upload(david, s3c):
    (david.staging() / "BRIEF.md").write_text("an older brief\n")
    report = david.up()
    assert "brief.md" not in _keys(s3c) and "BRIEF.md" not in _keys(s3c)
    assert not report.ok
    text = "\n".join(report_lines(report))
    assert "BRIEF.md" in text and "brief.md" in text
    assert "raw.mp4" in _keys(s3c)  # the rest went up
    assert "BRIEF.md" in "\n".join(status_lines(david.status()))
