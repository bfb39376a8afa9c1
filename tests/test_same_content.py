"""Proven the same in S3: a file on disk holds an S3 object's bytes only when its size and then
its MD5 (a single-part ETag), vam's CRC32 of that version, or the multipart ETag recomputed with
the object's part size say so. Anything else is "cannot tell", and nothing is deleted on it."""

from __future__ import annotations

import json

import boto3
import pytest

from vam.core.checksum import file_crc32
from vam.core.config import load_config
from vam.core.projects import find_brand, find_project, projects_root
from vam.ssd.archive import execute_archive, plan_archive
from vam.ssd.staging_cleanup import plan_cleanup, staging_state

B65 = "b65-guy-monroe-marketing-plan"
CAFE = "b-roll café – take 2.mov"


@pytest.fixture
def config(sample, as_user):
    as_user("david")
    return load_config(cwd=sample.root)


def _multipart(s3c, key: str, body: bytes) -> str:
    """`key` uploaded in one part, as another tool would: its ETag is no MD5."""
    up = s3c.create_multipart_upload(Bucket="video-projects", Key=key)["UploadId"]
    part = s3c.upload_part(Bucket="video-projects", Key=key, UploadId=up, PartNumber=1, Body=body)
    done = s3c.complete_multipart_upload(
        Bucket="video-projects",
        Key=key,
        UploadId=up,
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    return done["ETag"].strip('"')


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
