"""Proven the same in S3: a file on disk holds an S3 object's bytes only when its size and then
its MD5 (a single-part ETag), vam's CRC32 of that version, or the multipart ETag recomputed with
the object's part size say so. Anything else is "cannot tell", and nothing is deleted on it."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.edits import flip_byte
from vam.core.checksum import file_crc32
from vam.core.config import load_config
from vam.core.projects import find_brand, find_project, projects_root
from vam.demo.sample import write_media
from vam.s3sync.samecontent import Answer, OnDisk, same_content
from vam.ssd.archive import execute_archive
from vam.ssd.archive_plan import plan_archive
from vam.ssd.staging_cleanup import plan_cleanup, staging_state

B65 = "b65-guy-monroe-marketing-plan"
CAFE = "b-roll café – take 2.mov"


@pytest.fixture
def config(sample, as_user):
    as_user("david")
    return load_config(cwd=sample.root)


def _multipart(s3c, key: str, body: bytes, part_size: int | None = None) -> str:
    """`key` uploaded in parts of `part_size` (one part: the whole body), as another tool
    would: its ETag is no MD5."""
    size = part_size or len(body)
    up = s3c.create_multipart_upload(Bucket="video-projects", Key=key)["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(body), size), start=1):
        chunk = body[start : start + size]
        sent = s3c.upload_part(
            Bucket="video-projects", Key=key, UploadId=up, PartNumber=number, Body=chunk
        )
        parts.append({"ETag": sent["ETag"], "PartNumber": number})
    done = s3c.complete_multipart_upload(
        Bucket="video-projects", Key=key, UploadId=up, MultipartUpload={"Parts": parts}
    )
    return done["ETag"].strip('"')


@pytest.fixture
def s3c(s3):
    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket="video-projects")
    return client


def test_a_single_part_object_is_proven_by_its_md5_and_any_change_shows(s3c, tmp_path):
    cut = tmp_path / "cut.mov"
    write_media(cut, 300_000, seed=7)
    etag = s3c.put_object(Bucket="video-projects", Key="cut.mov", Body=cut.read_bytes())["ETag"]
    etag = etag.strip('"')
    proof = same_content(OnDisk(cut), size=300_000, etag=etag)
    assert (proof.answer, proof.by) == (Answer.SAME, "MD5")

    flip_byte(cut, 150_000)  # same size, same mtime: only the bytes tell
    proof = same_content(OnDisk(cut), size=300_000, etag=etag)
    assert (proof.answer, proof.by) == (Answer.DIFFERENT, "MD5")
    with cut.open("ab") as fh:
        fh.write(b"more")
    proof = same_content(OnDisk(cut), size=300_000, etag=etag, crc32=file_crc32(cut))
    assert (proof.answer, proof.by) == (Answer.DIFFERENT, "size")


def test_a_multipart_object_needs_its_part_size_or_vams_crc32(s3c, tmp_path, monkeypatch):
    import moto.s3.models

    part = 64 * 1024
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", part)
    cut = tmp_path / "cut.mov"
    write_media(cut, 3 * part + 500, seed=8)
    etag = _multipart(s3c, "cut.mov", cut.read_bytes(), part)
    size = cut.stat().st_size
    assert etag.endswith("-4")

    def proof(**known):
        found = same_content(OnDisk(cut), size=size, etag=etag, **known)
        return found.answer, found.by

    assert proof(part_size=part) == (Answer.SAME, "multipart ETag")
    assert proof(part_size=2 * part) == (Answer.DIFFERENT, "multipart ETag")
    assert proof(crc32=file_crc32(cut)) == (Answer.SAME, "CRC32")
    assert proof() == (Answer.CANNOT_TELL, "")  # never size alone
    flip_byte(cut, 10)
    assert proof(part_size=part) == (Answer.DIFFERENT, "multipart ETag")


@pytest.mark.parametrize(
    "entry_is, proven",
    [("as vam writes it", True), ("without its ETag", False), ("with a hex CRC32", False)],
)
def test_archive_cleanup_deletes_a_multipart_object_only_on_an_index_entry_vam_wrote(
    config, sample, s3, entry_is, proven
):
    """The SSD copy of the b-roll is verified; S3 holds it as a multipart object, so only vam's
    index can prove it: by an entry for exactly that version (its ETag), with the CRC32 as vam
    stores it (an int). An entry that names no version, or a CRC32 in another form, proves
    nothing, and the object stays in S3."""
    b65 = find_project(projects_root(config), find_brand(config, "ad"), B65)
    s3c = boto3.client("s3")
    s3c.create_bucket(Bucket="video-projects")
    prefix = f"staging/v-appydave/{B65}/"
    etag = _multipart(s3c, prefix + CAFE, (b65.staging / CAFE).read_bytes())
    entry = {
        "size": (b65.staging / CAFE).stat().st_size,
        "crc32": file_crc32(b65.staging / CAFE),
        "etag": etag,
        "version_id": None,
        "uploaded_by": "david",
        "uploaded_at": "2026-11-24T10:00:00+00:00",
        "mtime_ns": None,
    }
    if entry_is == "without its ETag":
        del entry["etag"]
    elif entry_is == "with a hex CRC32":
        entry["crc32"] = f"{entry['crc32']:08x}"
    index = json.dumps({"version": 1, "files": {CAFE: entry}}).encode()
    s3c.put_object(Bucket="video-projects", Key=prefix + ".vam/index.json", Body=index)

    staging = staging_state(config, sample.root, b65)
    plan = plan_archive(config, sample.root, b65)
    execute_archive(plan, config, keep_local=True)
    decision = {d.obj.rel: d for d in plan_cleanup(plan, staging)}[CAFE]
    assert decision.delete is proven, decision.reason
    if proven:
        assert decision.reason == "CRC32 matches the SSD copy"
    else:
        assert "cannot prove the SSD has it" in decision.reason
