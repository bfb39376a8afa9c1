"""The transfer engine against a real S3 API (moto's server on loopback): uploads and downloads
that survive interruptions, never publish unverified bytes and never overwrite someone else's work.

Part sizes are lowered (moto's 5 MiB minimum part too) so a multipart upload needs KBs, not MBs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from pathlib import Path
from time import time_ns

import botocore.exceptions
import moto.s3.models
import pytest

from tests.transferkit import Interrupted, Recorder, StopAfter, Wire, flaky_proxy, make_client
from vam.core.checksum import file_md5, multipart_etag
from vam.core.crc import crc32_combine, crc32_of_pieces
from vam.demo.sample import write_media
from vam.s3sync.transfer import (
    META_CRC32,
    META_MTIME,
    META_PART_SIZE,
    META_UPLOADED_BY,
    ChangedDuringUpload,
    IntegrityError,
    RemoteChanged,
    download_file,
    head_checksum,
    multipart,
    signing,
    tuning,
    upload_file,
    verify,
)
from vam.s3sync.transfer.progress import NO_PROGRESS, make_progress
from vam.s3sync.transfer.roundtrip import observe

KiB = 1024
PART = 64 * KiB
BUCKET = "vam-transfer-test"


@pytest.fixture
def small_parts(monkeypatch):
    """64 KiB parts everywhere (the engine, and the minimum moto enforces), one worker at a time
    so 'interrupted after N parts' means exactly that."""
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", PART)
    monkeypatch.setattr(tuning, "SINGLE_PUT_LIMIT", 2 * PART)
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", PART)
    monkeypatch.setattr(tuning, "PART_MEMORY", 4 * PART)
    monkeypatch.setattr(tuning, "MIN_DOWNLOAD_RANGE", PART)
    monkeypatch.setattr(tuning, "DOWNLOAD_RANGE", 2 * PART)
    monkeypatch.setattr(tuning, "CHECKPOINT_BYTES", 16 * KiB)
    monkeypatch.setattr(tuning, "BACKOFF_SECONDS", 0.01)
    return PART


@pytest.fixture
def one_worker(monkeypatch):
    monkeypatch.setattr(tuning, "MAX_UPLOAD_WORKERS", 1)
    monkeypatch.setattr(tuning, "DOWNLOAD_WORKERS", 1)


@pytest.fixture
def client(s3):
    c = make_client()
    c.create_bucket(Bucket=BUCKET)
    return c


@pytest.fixture
def wire(client):
    return Wire(client)


def media(path: Path, size: int, seed: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_media(path, size, seed=seed)
    return path


def crc_of(path: Path) -> int:
    return zlib.crc32(path.read_bytes())


def meta_for(path: Path, user: str = "david") -> dict[str, str]:
    return {META_UPLOADED_BY: user, META_MTIME: str(path.stat().st_mtime_ns)}


def upload(client, path: Path, key: str, **kw):
    return upload_file(client, BUCKET, key, path, crc32=crc_of(path), metadata=meta_for(path), **kw)


def upload_unread(client, path: Path, key: str, **kw):
    """A new file nobody has read yet: no CRC32 known, no metadata (as s3.up sends one)."""
    return upload_file(client, BUCKET, key, path, crc32=None, metadata={}, **kw)


def upload_like_another_tool(client, key: str, data: bytes, part_size: int) -> str:
    """A multipart upload as plain boto3 makes one: its own part size, no vam metadata, no
    checksums. Returns the object's ETag."""
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = []
    for number, offset in enumerate(range(0, len(data), part_size), start=1):
        body = data[offset : offset + part_size]
        sent = client.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        parts.append({"PartNumber": number, "ETag": sent["ETag"]})
    done = client.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    return done["ETag"].strip('"')


def download_interrupted(client, key: str, dest: Path, data: bytes, etag: str, *, after, state):
    """A download of the object holding `data`, cut off after `after` bytes (Ctrl-C, a dropped
    link): its partial file and record stay in `state` for the next run."""
    with pytest.raises(Interrupted):
        download_file(
            client,
            BUCKET,
            key,
            dest,
            size=len(data),
            etag=etag,
            progress=StopAfter(after),
            state_dir=state,
        )


def remote_bytes(client, key: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def absent(client, key: str) -> bool:
    try:
        client.head_object(Bucket=BUCKET, Key=key)
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"] in ("404", "NoSuchKey")
    return False


def open_uploads(client) -> list[dict]:
    return client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def parts_on_server(client, key: str) -> list[dict]:
    [up] = [u for u in open_uploads(client) if u["Key"] == key]
    return client.list_parts(Bucket=BUCKET, Key=key, UploadId=up["UploadId"]).get("Parts", [])


def records(state: Path, kind: str) -> list[Path]:
    folder = state / kind
    return sorted(folder.glob("*.json")) if folder.exists() else []


# --------------------------------------------------------------------------- pure pieces


def test_crc32_combine_matches_zlib_for_pieces_of_any_length():
    data = os.urandom(70_001)
    for cut in (0, 1, 4096, 65_536, 70_000, 70_001):
        a, b = data[:cut], data[cut:]
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(data)
    pieces = [data[i : i + 9_999] for i in range(0, len(data), 9_999)]
    assert crc32_of_pieces([(zlib.crc32(p), len(p)) for p in pieces]) == zlib.crc32(data)


def test_part_size_grows_to_stay_within_ten_thousand_parts(monkeypatch):
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", 16 * 2**20)
    assert multipart.part_size_for(1 * 2**30) == 16 * 2**20
    assert multipart.part_size_for(156 * 2**30) == 16 * 2**20
    assert multipart.part_size_for(200 * 2**30) == 32 * 2**20
    big = 5 * 2**40  # S3's largest object
    assert -(-big // multipart.part_size_for(big)) <= 10_000


def test_memory_bound_limits_parallel_parts(monkeypatch):
    # Parts are streamed from the file: each in flight holds a 1 MiB read buffer, not the part,
    # so 32 MiB of buffers allow the ceiling of 32 parts at once, whatever the part size.
    assert multipart.upload_workers(16 * 2**20, 1000) == 32
    assert multipart.upload_workers(128 * 2**20, 1000) == 32
    assert multipart.upload_workers(16 * 2**20, 1) == 1
    monkeypatch.setattr(tuning, "PART_MEMORY", 4 * 2**20)
    assert multipart.upload_workers(16 * 2**20, 1000) == 4
    assert multipart.upload_workers(16 * 2**20, 2) == 2
    assert multipart.start_workers(32) == tuning.START_UPLOAD_WORKERS


def test_parts_are_smaller_on_a_long_link():
    assert multipart.part_size_for(256 * 2**20) == 16 * 2**20
    # S3's smallest part (5 MiB) or a little more, so the parts come in whole waves of the
    # 16 that go at once: the last ones share the line instead of trailing one by one
    long = multipart.part_size_for(256 * 2**20, long_link=True)
    assert 5 * 2**20 <= long < 6 * 2**20 and (256 * 2**20 // long + 1) % 16 == 0
    assert multipart.part_size_for(5 * 2**30, long_link=True) == 5 * 2**20  # 1024 parts
    # still within S3's 10,000 parts
    big = multipart.part_size_for(200 * 2**30, long_link=True)
    assert -(-200 * 2**30 // big) <= 10_000


def test_parts_are_larger_for_a_large_file_on_a_local_link():
    MiB = 2**20
    # loopback or a LAN: the server's cost per request is the limit; 1 GiB goes as 16 parts
    assert multipart.part_size_for(1 * 2**30, local_link=True) == 64 * MiB
    assert multipart.part_size_for(10 * 2**30, local_link=True) == 64 * MiB  # 160 parts
    assert multipart.part_size_for(512 * MiB, local_link=True) == 32 * MiB
    # never below the base part size, and a small file keeps it
    assert multipart.part_size_for(256 * MiB, local_link=True) == 16 * MiB
    assert multipart.part_size_for(100 * MiB, local_link=True) == 16 * MiB
    # still within S3's 10,000 parts
    assert -(-(1000 * 2**30) // multipart.part_size_for(1000 * 2**30, local_link=True)) <= 10_000


@pytest.mark.parametrize("local", [True, False])
def test_the_measured_round_trip_decides_the_part_size(client, tmp_path, monkeypatch, local):
    """The same 32 MiB file in 16 parts of 2 MiB when the round trip seen before it (a LIST) is
    under LOCAL_RTT, and those larger parts at most LOCAL_PARTS_AT_ONCE at a time (a kill loses
    the progress of the parts in flight); in parts of the base size (1 MiB) when it is not."""
    import threading

    MiB = 2**20
    lock, flight = threading.Lock(), {"now": 0, "most": 0}

    def started(**kwargs):
        with lock:
            flight["now"] += 1
            flight["most"] = max(flight["most"], flight["now"])

    def ended(**kwargs):
        with lock:
            flight["now"] -= 1

    client.meta.events.register("before-call.s3.UploadPart", started)
    client.meta.events.register("after-call.s3.UploadPart", ended)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", MiB)
    monkeypatch.setattr(tuning, "SINGLE_PUT_LIMIT", MiB)
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", MiB)
    # the threshold, not this machine's speed, decides: above any round trip, or below all
    monkeypatch.setattr(tuning, "LOCAL_RTT", 60.0 if local else 0.0)
    monkeypatch.setattr(tuning, "LONG_RTT", 120.0)  # nor is it ever a long link here
    path = media(tmp_path / "render.mov", 32 * MiB + 5)
    observe(client)
    client.list_objects_v2(Bucket=BUCKET, Prefix="p/")
    result = upload(client, path, "p/render.mov")
    expected = 2 * MiB if local else MiB
    assert result.part_size == expected
    assert result.etag == multipart_etag(path, expected)
    if local:
        assert 1 <= flight["most"] <= tuning.LOCAL_PARTS_AT_ONCE == 2
    details = head_checksum(client, BUCKET, "p/render.mov")
    assert (details.part_size, details.parts) == (expected, -(-(32 * MiB + 5) // expected))
    assert remote_bytes(client, "p/render.mov") == path.read_bytes()


def test_multipart_etag_and_md5_match_what_s3_computes(client, tmp_path, small_parts):
    path = media(tmp_path / "foreign.mov", 5 * PART + 123)
    data = path.read_bytes()
    # Another tool (plain boto3) uploads with its own part size and no vam metadata.
    etag = upload_like_another_tool(client, "k/foreign.mov", data, 2 * PART)
    assert multipart_etag(path, 2 * PART) == etag
    assert multipart_etag(path, PART) != etag
    assert file_md5(path) == hashlib.md5(data).hexdigest()


# --------------------------------------------------------------------------- uploads


def test_small_file_is_one_put_with_checksum_and_metadata(client, tmp_path, wire):
    path = media(tmp_path / "brief.md", 10 * KiB)
    result = upload(client, path, "p/brief.md")
    assert result.part_size == 0 and result.size == 10 * KiB
    assert result.etag == hashlib.md5(path.read_bytes()).hexdigest()
    assert remote_bytes(client, "p/brief.md") == path.read_bytes()
    head = client.head_object(Bucket=BUCKET, Key="p/brief.md", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == base64.b64encode(crc_of(path).to_bytes(4, "big")).decode()
    assert head["Metadata"][META_UPLOADED_BY] == "david"
    assert head["Metadata"][META_CRC32] == f"{crc_of(path):08x}"
    assert wire.requests.get("PutObject") == 1 and "CreateMultipartUpload" not in wire.requests


def test_large_file_round_trip_multipart_with_full_object_crc(client, tmp_path, small_parts):
    path = media(tmp_path / "raw.mp4", 7 * PART + 999)
    progress = Recorder()
    result = upload(client, path, "p/raw.mp4", progress=progress, state_dir=tmp_path / ".vam")
    assert result.part_size == PART
    assert result.etag == multipart_etag(path, PART)
    assert progress.total == path.stat().st_size and progress.ended == {"p/raw.mp4": True}

    head = client.head_object(Bucket=BUCKET, Key="p/raw.mp4", ChecksumMode="ENABLED")
    assert head["ChecksumType"] == "FULL_OBJECT"
    assert head["ChecksumCRC32"] == base64.b64encode(crc_of(path).to_bytes(4, "big")).decode()
    details = head_checksum(client, BUCKET, "p/raw.mp4")
    assert details.crc32 == crc_of(path)
    assert (details.part_size, details.parts) == (PART, 8)
    assert details.uploaded_by == "david" and details.mtime_ns == path.stat().st_mtime_ns
    assert head["Metadata"][META_PART_SIZE] == str(PART)
    assert records(tmp_path / ".vam", "uploads") == []  # nothing left to resume

    dest = tmp_path / "jan" / "s3-staging" / "raw.mp4"
    got = download_file(
        client,
        BUCKET,
        "p/raw.mp4",
        dest,
        size=result.size,
        etag=result.etag,
        mtime_ns=path.stat().st_mtime_ns,
    )
    assert dest.read_bytes() == path.read_bytes()
    assert got.crc32 == crc_of(path)
    assert dest.stat().st_mtime_ns == path.stat().st_mtime_ns
    assert not dest.with_name("raw.mp4.vam-part").exists()


def test_a_new_file_is_checksummed_as_it_is_sent(client, tmp_path, small_parts, wire):
    """crc32=None (nobody read the file yet): one read, the CRC32 comes from the parts, S3 checks
    it as the FULL_OBJECT checksum, and the upload's result carries it."""
    path = media(tmp_path / "raw.mp4", 7 * PART + 999)
    result = upload_file(client, BUCKET, "p/raw.mp4", path, crc32=None, metadata=meta_for(path))
    assert result.crc32 == crc_of(path) and result.part_size == PART
    head = client.head_object(Bucket=BUCKET, Key="p/raw.mp4", ChecksumMode="ENABLED")
    assert head["ChecksumType"] == "FULL_OBJECT"
    assert head["ChecksumCRC32"] == base64.b64encode(crc_of(path).to_bytes(4, "big")).decode()
    assert META_CRC32 not in head["Metadata"]  # not known when the upload was created
    assert head_checksum(client, BUCKET, "p/raw.mp4").crc32 == crc_of(path)
    assert remote_bytes(client, "p/raw.mp4") == path.read_bytes()

    small = media(tmp_path / "notes.md", 1000)
    one = upload_file(client, BUCKET, "p/notes.md", small, crc32=None, metadata={})
    assert one.crc32 == crc_of(small)
    assert client.head_object(Bucket=BUCKET, Key="p/notes.md")["Metadata"][META_CRC32] == (
        f"{crc_of(small):08x}"
    )


def test_a_file_saved_after_the_plan_is_refused_before_any_byte_is_sent(
    client, tmp_path, small_parts, wire
):
    path = media(tmp_path / "raw.mp4", 5 * PART)
    planned = (path.stat().st_size, path.stat().st_mtime_ns)
    os.utime(path, ns=(planned[1] + 10**9, planned[1] + 10**9))  # saved again since
    wire.reset()
    with pytest.raises(ChangedDuringUpload, match="after the plan"):
        upload_file(client, BUCKET, "p/raw.mp4", path, crc32=None, metadata={}, planned=planned)
    assert wire.sent == 0 and absent(client, "p/raw.mp4") and open_uploads(client) == []


def test_a_new_file_modified_while_it_is_sent_is_not_published(
    client, tmp_path, small_parts, one_worker
):
    path = media(tmp_path / "raw.mp4", 6 * PART)

    class Editor(Recorder):
        def advance(self, name, nbytes):
            super().advance(name, nbytes)
            if self.total > 2 * PART and not hasattr(self, "saved"):
                self.saved = True
                with path.open("r+b") as fh:
                    fh.seek(5 * PART)
                    fh.write(b"an edit")
                os.utime(path, ns=(time_ns() + 10**9, time_ns() + 10**9))

    with pytest.raises(ChangedDuringUpload):
        upload_file(client, BUCKET, "p/raw.mp4", path, crc32=None, metadata={}, progress=Editor())
    assert absent(client, "p/raw.mp4") and open_uploads(client) == []


def test_a_resumed_upload_continues_when_the_crc_became_known_meanwhile(
    client, tmp_path, small_parts, one_worker, wire
):
    """First run: a new file, CRC32 unknown. Meanwhile `s3.status` hashed it. The next run
    knows the CRC32: the same upload continues; nothing is sent twice."""
    path = media(tmp_path / "raw.mp4", 8 * PART + 5)
    state = tmp_path / ".vam"
    with pytest.raises(Interrupted):
        upload_unread(client, path, "p/raw.mp4", progress=StopAfter(3 * PART + 10), state_dir=state)
    wire.reset()
    result = upload(client, path, "p/raw.mp4", state_dir=state)
    assert wire.sent == path.stat().st_size - 3 * PART
    assert "CreateMultipartUpload" not in wire.requests
    assert result.crc32 == crc_of(path) and remote_bytes(client, "p/raw.mp4") == path.read_bytes()


def test_interrupted_upload_resumes_sending_only_missing_parts(
    client, tmp_path, small_parts, one_worker, wire
):
    path = media(tmp_path / "raw.mp4", 10 * PART + 5)
    state = tmp_path / ".vam"
    with pytest.raises(Interrupted):
        upload(client, path, "p/raw.mp4", progress=StopAfter(3 * PART + 10), state_dir=state)
    assert len(records(state, "uploads")) == 1  # kept for the next run
    on_server = parts_on_server(client, "p/raw.mp4")
    assert [p["PartNumber"] for p in on_server] == [1, 2, 3]
    assert absent(client, "p/raw.mp4")  # nothing published

    wire.reset()
    result = upload(client, path, "p/raw.mp4", state_dir=state)
    assert wire.sent == path.stat().st_size - 3 * PART  # parts 4..11 only
    assert wire.requests["UploadPart"] == 8 and "CreateMultipartUpload" not in wire.requests
    assert remote_bytes(client, "p/raw.mp4") == path.read_bytes()
    assert result.etag == multipart_etag(path, PART)
    assert records(state, "uploads") == [] and open_uploads(client) == []


def test_resume_resends_a_part_whose_bytes_on_s3_differ(
    client, tmp_path, small_parts, one_worker, wire
):
    path = media(tmp_path / "raw.mp4", 6 * PART)
    state = tmp_path / ".vam"
    with pytest.raises(Interrupted):
        upload(client, path, "p/raw.mp4", progress=StopAfter(3 * PART + 10), state_dir=state)
    [up] = open_uploads(client)
    # Part 2 on the server is garbage (as if corrupted): it must be detected and sent again.
    client.upload_part(
        Bucket=BUCKET, Key="p/raw.mp4", UploadId=up["UploadId"], PartNumber=2, Body=b"x" * PART
    )
    wire.reset()
    upload(client, path, "p/raw.mp4", state_dir=state)
    assert wire.sent == 4 * PART  # part 2 again + parts 4, 5, 6
    assert remote_bytes(client, "p/raw.mp4") == path.read_bytes()


def test_file_changed_between_runs_aborts_old_upload_and_restarts(
    client, tmp_path, small_parts, one_worker, wire
):
    path = media(tmp_path / "raw.mp4", 6 * PART)
    state = tmp_path / ".vam"
    with pytest.raises(Interrupted):
        upload(client, path, "p/raw.mp4", progress=StopAfter(2 * PART + 10), state_dir=state)
    [old] = open_uploads(client)
    media(path, 6 * PART, seed=7)  # re-rendered: same size, new content
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))

    wire.reset()
    upload(client, path, "p/raw.mp4", state_dir=state)
    assert wire.sent == 6 * PART  # nothing reused from the old version
    assert remote_bytes(client, "p/raw.mp4") == path.read_bytes()
    assert old["UploadId"] not in [u["UploadId"] for u in open_uploads(client)]
    assert open_uploads(client) == [] and records(state, "uploads") == []


def test_resume_after_upload_was_aborted_on_s3_starts_clean(
    client, tmp_path, small_parts, one_worker
):
    path = media(tmp_path / "raw.mp4", 5 * PART)
    state = tmp_path / ".vam"
    with pytest.raises(Interrupted):
        upload(client, path, "p/raw.mp4", progress=StopAfter(2 * PART), state_dir=state)
    [up] = open_uploads(client)
    client.abort_multipart_upload(Bucket=BUCKET, Key="p/raw.mp4", UploadId=up["UploadId"])
    upload(client, path, "p/raw.mp4", state_dir=state)
    assert remote_bytes(client, "p/raw.mp4") == path.read_bytes()


def test_file_modified_during_upload_is_not_published(client, tmp_path, small_parts, one_worker):
    path = media(tmp_path / "raw.mp4", 6 * PART)
    crc_before = crc_of(path)
    meta = meta_for(path)
    state = tmp_path / ".vam"

    def editor_saves():  # the editor writes the end of the file while part 1 is in flight
        with path.open("r+b") as fh:
            fh.seek(5 * PART)
            fh.write(b"\0" * 100)
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))

    with pytest.raises(ChangedDuringUpload, match="changed while it was being uploaded"):
        upload_file(
            client,
            BUCKET,
            "p/raw.mp4",
            path,
            crc32=crc_before,
            metadata=meta,
            progress=StopAfter(PART // 2, action=editor_saves),
            state_dir=state,
        )
    assert absent(client, "p/raw.mp4")
    assert open_uploads(client) == []  # aborted, not left to resume stale parts
    assert records(state, "uploads") == []


def test_single_put_of_file_that_no_longer_matches_its_checksum_is_refused(client, tmp_path):
    path = media(tmp_path / "brief.md", 1000)
    with pytest.raises(ChangedDuringUpload):
        upload_file(client, BUCKET, "p/brief.md", path, crc32=crc_of(path) ^ 1, metadata={})
    assert absent(client, "p/brief.md")


@pytest.mark.parametrize("size_parts", [1, 5], ids=["single-put", "multipart"])
def test_conditional_writes_never_overwrite_someone_elses_version(
    client, tmp_path, small_parts, size_parts
):
    size = size_parts * PART
    theirs = media(tmp_path / "jan" / "raw.mp4", size, seed=2)
    mine = media(tmp_path / "david" / "raw.mp4", size, seed=3)
    first = upload(client, theirs, "p/raw.mp4")
    state = tmp_path / ".vam"

    with pytest.raises(RemoteChanged, match="nothing was overwritten"):
        upload(client, mine, "p/raw.mp4", if_none_match=True, state_dir=state)
    with pytest.raises(RemoteChanged):
        upload(client, mine, "p/raw.mp4", if_match="0" * 32, state_dir=state)
    assert remote_bytes(client, "p/raw.mp4") == theirs.read_bytes()
    assert open_uploads(client) == [] and records(state, "uploads") == []

    # With the right ETag the overwrite is allowed; with if_none_match a new key is created.
    upload(client, mine, "p/raw.mp4", if_match=first.etag, state_dir=state)
    assert remote_bytes(client, "p/raw.mp4") == mine.read_bytes()
    upload(client, mine, "p/new.mp4", if_none_match=True, state_dir=state)
    assert remote_bytes(client, "p/new.mp4") == mine.read_bytes()


@pytest.mark.parametrize("condition", ["if_match", "if_none_match"])
def test_someone_uploading_during_a_multipart_upload_wins(
    client, tmp_path, small_parts, one_worker, condition
):
    """Jan's version lands while David's parts are still going out: David's complete is refused
    (moto does not check If-Match on CompleteMultipartUpload, the engine's HEAD check does)."""
    mine = media(tmp_path / "david" / "raw.mp4", 4 * PART, seed=3)
    kwargs: dict = {"if_none_match": True}
    if condition == "if_match":
        kwargs = {"if_match": upload(client, media(tmp_path / "v1", 100), "p/raw.mp4").etag}

    def jan_uploads():
        client.put_object(Bucket=BUCKET, Key="p/raw.mp4", Body=b"jan's cut")

    with pytest.raises(RemoteChanged):
        upload(client, mine, "p/raw.mp4", progress=StopAfter(PART, action=jan_uploads), **kwargs)
    assert remote_bytes(client, "p/raw.mp4") == b"jan's cut"
    assert open_uploads(client) == []


@pytest.mark.parametrize("checked", [False, True])
def test_a_complete_the_server_checks_needs_no_head_before_it(
    client, tmp_path, small_parts, wire, checked
):
    """Where the server refuses a complete whose condition fails (moto does for If-None-Match:
    *; bucketcaps probes it), a large file's upload sends no HEAD after its parts: one round trip
    less at the end of each (150 ms on Jan's link). Elsewhere the HEAD right before it stays."""
    path = media(tmp_path / "raw.mp4", 4 * PART)
    calls: list[str] = []
    client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    upload(client, path, "p/new.mp4", if_none_match=True, complete_checked=checked)
    assert remote_bytes(client, "p/new.mp4") == path.read_bytes()
    before_complete = calls[calls.index("CompleteMultipartUpload") - 1]
    assert before_complete == ("UploadPart" if checked else "HeadObject"), calls
    assert wire.requests["HeadObject"] == (1 if checked else 2), calls  # and the one at the start


def test_jans_upload_during_a_checked_complete_is_refused_by_the_server(
    client, tmp_path, small_parts, one_worker
):
    """No HEAD before the complete: Jan's version, landed while David's parts went out, is kept
    by the server's refusal (If-None-Match: *), and David's upload is aborted, its record gone."""
    mine = media(tmp_path / "david" / "raw.mp4", 4 * PART, seed=3)
    state = tmp_path / ".vam"

    def jan_uploads():
        client.put_object(Bucket=BUCKET, Key="p/raw.mp4", Body=b"jan's cut")

    calls: list[str] = []
    client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    with pytest.raises(RemoteChanged, match="nothing was overwritten"):
        upload(
            client,
            mine,
            "p/raw.mp4",
            if_none_match=True,
            complete_checked=True,
            state_dir=state,
            progress=StopAfter(PART, action=jan_uploads),
        )
    # the server refused it: the only HEAD before the complete was the one at the start
    assert calls[: calls.index("CompleteMultipartUpload")].count("HeadObject") == 1, calls
    assert remote_bytes(client, "p/raw.mp4") == b"jan's cut"
    assert open_uploads(client) == [] and records(state, "uploads") == []


# --------------------------------------------------------------------------- downloads


def put(client, key: str, data: bytes) -> str:
    return client.put_object(Bucket=BUCKET, Key=key, Body=data)["ETag"].strip('"')


def test_download_creates_folders_and_restores_mtime(client, tmp_path):
    data = os.urandom(3000)
    etag = put(client, "p/notes/cut list.md", data)
    dest = tmp_path / "s3-staging" / "notes" / "cut list.md"
    got = download_file(
        client, BUCKET, "p/notes/cut list.md", dest, size=3000, etag=etag, mtime_ns=10**18
    )
    assert dest.read_bytes() == data and dest.stat().st_mtime_ns == 10**18
    assert got.size == 3000 and got.crc32 == zlib.crc32(data)


def test_empty_file_round_trip(client, tmp_path):
    path = tmp_path / "empty.srt"
    path.write_bytes(b"")
    result = upload(client, path, "p/empty.srt")
    dest = tmp_path / "down" / "empty.srt"
    download_file(client, BUCKET, "p/empty.srt", dest, size=0, etag=result.etag, crc32=0)
    assert dest.exists() and dest.read_bytes() == b""


def test_interrupted_download_resumes_from_bytes_on_disk(
    client, tmp_path, small_parts, one_worker, wire
):
    data = os.urandom(8 * PART + 77)
    etag = put(client, "p/raw.mp4", data)
    dest = tmp_path / "s3-staging" / "raw.mp4"
    state = tmp_path / ".vam"
    download_interrupted(client, "p/raw.mp4", dest, data, etag, after=5 * PART, state=state)
    assert not dest.exists() and dest.with_name("raw.mp4.vam-part").exists()
    assert len(records(state, "downloads")) == 1

    wire.reset()
    got = download_file(
        client, BUCKET, "p/raw.mp4", dest, size=len(data), etag=etag, state_dir=state
    )
    assert dest.read_bytes() == data and got.crc32 == zlib.crc32(data)
    assert wire.received <= len(data) - 4 * PART  # at most the last checkpoint is fetched again
    assert not dest.with_name("raw.mp4.vam-part").exists() and records(state, "downloads") == []


def test_corrupted_partial_download_is_detected_not_published(
    client, tmp_path, small_parts, one_worker
):
    data = os.urandom(6 * PART)
    etag = put(client, "p/raw.mp4", data)
    dest = tmp_path / "s3-staging" / "raw.mp4"
    state = tmp_path / ".vam"
    download_interrupted(client, "p/raw.mp4", dest, data, etag, after=3 * PART, state=state)
    temp = dest.with_name("raw.mp4.vam-part")
    with temp.open("r+b") as fh:  # a bad sector, or another program scribbled on it
        fh.seek(100)
        fh.write(b"\xff\x00\xff")
    with pytest.raises(IntegrityError, match="do not match"):
        download_file(client, BUCKET, "p/raw.mp4", dest, size=len(data), etag=etag, state_dir=state)
    assert not dest.exists() and not temp.exists() and records(state, "downloads") == []
    # the next run starts clean and succeeds
    download_file(client, BUCKET, "p/raw.mp4", dest, size=len(data), etag=etag, state_dir=state)
    assert dest.read_bytes() == data


def test_download_resume_restarts_when_the_remote_version_changed(
    client, tmp_path, small_parts, one_worker
):
    data = os.urandom(4 * PART)
    etag = put(client, "p/raw.mp4", data)
    dest = tmp_path / "raw.mp4"
    state = tmp_path / ".vam"
    download_interrupted(client, "p/raw.mp4", dest, data, etag, after=2 * PART, state=state)
    newer = os.urandom(4 * PART)
    new_etag = put(client, "p/raw.mp4", newer)
    with pytest.raises(RemoteChanged):  # the caller still asks for the old version
        download_file(client, BUCKET, "p/raw.mp4", dest, size=len(data), etag=etag, state_dir=state)
    assert not dest.exists() and not dest.with_name("raw.mp4.vam-part").exists()
    download_file(
        client, BUCKET, "p/raw.mp4", dest, size=len(newer), etag=new_etag, state_dir=state
    )
    assert dest.read_bytes() == newer


def test_download_with_wrong_expected_checksum_leaves_nothing(client, tmp_path, small_parts):
    data = os.urandom(3 * PART)
    etag = put(client, "p/raw.mp4", data)
    dest = tmp_path / "raw.mp4"
    dest.write_bytes(b"the local version")
    with pytest.raises(IntegrityError):
        download_file(
            client, BUCKET, "p/raw.mp4", dest, size=len(data), etag=etag, crc32=zlib.crc32(b"x")
        )
    assert dest.read_bytes() == b"the local version"  # untouched
    assert not dest.with_name("raw.mp4.vam-part").exists()


def test_download_verifies_foreign_multipart_object_by_recomputed_etag(
    client, tmp_path, small_parts
):
    data = os.urandom(5 * PART)
    etag = upload_like_another_tool(client, "p/other.mov", data, 3 * PART)
    details = head_checksum(client, BUCKET, "p/other.mov")
    assert (details.part_size, details.parts, details.crc32) == (3 * PART, 2, None)
    assert details.uploaded_by is None
    dest = tmp_path / "other.mov"
    download_file(client, BUCKET, "p/other.mov", dest, size=len(data), etag=etag)
    assert dest.read_bytes() == data


def _no_second_read(monkeypatch):
    """The ETag must come from the bytes as they arrived, not from reading the file again."""

    def refused(*args, **kwargs):
        raise AssertionError("the downloaded file was read again to compute its ETag")

    monkeypatch.setattr(verify, "file_md5", refused)
    monkeypatch.setattr(verify, "multipart_etag", refused)


def test_an_object_without_crc32_is_verified_by_md5_while_it_downloads(
    client, tmp_path, small_parts, monkeypatch
):
    """Four workers finish ranges out of order; the follower hashes them in file order."""
    _no_second_read(monkeypatch)
    data = os.urandom(9 * PART + 123)
    etag = put(client, "p/plain.mov", data)
    assert head_checksum(client, BUCKET, "p/plain.mov").crc32 is None
    dest = tmp_path / "plain.mov"
    got = download_file(client, BUCKET, "p/plain.mov", dest, size=len(data), etag=etag)
    assert dest.read_bytes() == data and got.crc32 == zlib.crc32(data)


def test_a_foreign_multipart_object_is_verified_while_it_downloads(
    client, tmp_path, small_parts, monkeypatch
):
    _no_second_read(monkeypatch)
    data = os.urandom(7 * PART + 5)
    etag = upload_like_another_tool(client, "p/other.mov", data, 2 * PART)
    dest = tmp_path / "other.mov"
    download_file(client, BUCKET, "p/other.mov", dest, size=len(data), etag=etag)
    assert dest.read_bytes() == data


def test_a_wrong_byte_under_an_md5_etag_is_caught_by_the_follower(
    client, tmp_path, small_parts, monkeypatch
):
    """A range that resumes from a damaged partial file: the in-stream MD5 sees the damage."""
    _no_second_read(monkeypatch)
    data = os.urandom(6 * PART)
    etag = put(client, "p/raw.mp4", data)
    dest = tmp_path / "raw.mp4"
    state = tmp_path / ".vam"
    monkeypatch.setattr(tuning, "DOWNLOAD_WORKERS", 1)
    download_interrupted(client, "p/raw.mp4", dest, data, etag, after=3 * PART, state=state)
    with dest.with_name("raw.mp4.vam-part").open("r+b") as fh:
        fh.seek(7)
        fh.write(b"\x00\xff")
    with pytest.raises(IntegrityError, match="MD5"):
        download_file(client, BUCKET, "p/raw.mp4", dest, size=len(data), etag=etag, state_dir=state)
    assert not dest.exists()


def test_download_of_a_version_that_is_gone_raises_remote_changed(client, tmp_path):
    put(client, "p/raw.mp4", b"new")
    dest = tmp_path / "raw.mp4"
    with pytest.raises(RemoteChanged):
        download_file(client, BUCKET, "p/raw.mp4", dest, size=3, etag="0" * 32, crc32=0)
    assert not dest.exists() and not dest.with_name("raw.mp4.vam-part").exists()


def test_head_checksum_of_missing_key_is_one_clear_line(client):
    from vam.core.errors import NotFoundError

    with pytest.raises(NotFoundError, match="does not exist"):
        head_checksum(client, BUCKET, "p/nothing.mp4")


# --------------------------------------------------------------------------- progress


def test_progress_is_quiet_off_terminal_and_safe_to_call(capsys):
    with make_progress(100) as bars:  # stderr is captured: not a terminal
        assert bars.enabled is False
        bars.start_file("a", 100)
        bars.advance("a", 100)
        bars.end_file("a", True)
    assert capsys.readouterr().err == ""
    NO_PROGRESS.advance("a", -5)


def test_progress_bars_when_enabled(capsys):
    with make_progress(200_000_000, enabled=True) as bars:
        bars.start_file("staging/v-x/b65/raw.mp4", 100_000_000)
        bars.advance("staging/v-x/b65/raw.mp4", 60_000_000)
        bars.advance("staging/v-x/b65/raw.mp4", -10_000_000)  # a part sent again
        bars.end_file("staging/v-x/b65/raw.mp4", True)
    err = capsys.readouterr().err
    assert "total" in err and "raw.mp4" in err


# --------------------------------------------------------------------------- kill -9


SLOW_UPLOADER = """
import sys, zlib
from pathlib import Path
import moto  # noqa: F401  (only so the import cost is paid before the clock starts)
from tests.transferkit import make_client
from vam.s3sync.transfer import tuning, upload_file

tuning.SINGLE_PUT_LIMIT = tuning.MIN_PART_SIZE = {part}
tuning.MAX_UPLOAD_WORKERS = 1
path = Path(sys.argv[1])
upload_file(
    make_client(), {bucket!r}, "p/raw.mp4", path, crc32=zlib.crc32(path.read_bytes()),
    metadata={{"uploaded-by": "david"}}, max_rate={rate}, state_dir=Path(sys.argv[2]),
)
print("finished")
"""


@pytest.mark.slow
def test_upload_killed_with_sigkill_resumes_to_identical_object(
    client, tmp_path, small_parts, wire
):
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    path = media(tmp_path / "raw.mp4", 16 * PART)
    state = tmp_path / ".vam"
    script = SLOW_UPLOADER.format(part=PART, bucket=BUCKET, rate=8 * PART)  # ~2 s for the file
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path), str(state)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            uploads = open_uploads(client)
            if uploads and len(parts_on_server(client, "p/raw.mp4")) >= 3:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        else:
            pytest.fail("the slow upload never got 3 parts onto the server")
        proc.send_signal(signal.SIGKILL)  # no cleanup, no finally blocks: like a crash
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    listed = parts_on_server(client, "p/raw.mp4")
    assert 3 <= len(listed) < 16
    assert len(records(state, "uploads")) == 1

    wire.reset()
    result = upload(client, path, "p/raw.mp4", state_dir=state)
    assert wire.sent == path.stat().st_size - sum(p["Size"] for p in listed)
    assert remote_bytes(client, "p/raw.mp4") == path.read_bytes()
    assert result.etag == multipart_etag(path, PART)
    assert open_uploads(client) == [] and records(state, "uploads") == []


# --------------------------------------------------------------------------- network drops


@pytest.fixture
def flaky(s3, client):
    proxies = []

    def make(direction: str, after: int, cuts: int = 1):
        proxy = flaky_proxy(s3.endpoint_url, direction=direction, after=after, cuts=cuts)
        proxies.append(proxy)
        return make_client(proxy.endpoint_url)

    yield make
    for proxy in proxies:
        proxy.close()


def test_upload_survives_dropped_connections_and_takes_back_progress(
    client, tmp_path, small_parts, flaky
):
    path = media(tmp_path / "raw.mp4", 6 * PART)
    progress = Recorder()
    through_flaky_wifi = flaky("up", after=PART // 2, cuts=2)
    upload(through_flaky_wifi, path, "p/raw.mp4", progress=progress, state_dir=tmp_path / ".vam")
    assert remote_bytes(client, "p/raw.mp4") == path.read_bytes()
    assert progress.negative < 0  # bytes that had to be sent again were taken back
    assert progress.total == path.stat().st_size


def test_download_continues_a_range_after_a_dropped_connection(
    client, tmp_path, small_parts, one_worker, flaky
):
    data = os.urandom(6 * PART)
    etag = put(client, "p/raw.mp4", data)
    through_flaky_wifi = flaky("down", after=PART // 2, cuts=2)
    wire = Wire(through_flaky_wifi)
    dest = tmp_path / "raw.mp4"
    download_file(through_flaky_wifi, BUCKET, "p/raw.mp4", dest, size=len(data), etag=etag)
    assert dest.read_bytes() == data
    assert wire.requests["GetObject"] == 3 + 2  # three ranges, two of them continued once


def test_names_with_spaces_and_accents_resume_and_round_trip(
    client, tmp_path, small_parts, one_worker
):
    key = "staging/v-appydave/b65/b-roll café – take 2.mov"
    path = media(tmp_path / "s3-staging" / "b-roll café – take 2.mov", 4 * PART + 1)
    state = tmp_path / ".vam"
    with pytest.raises(Interrupted):
        upload(client, path, key, progress=StopAfter(2 * PART + 10), state_dir=state)
    result = upload(client, path, key, state_dir=state)
    dest = tmp_path / "jan" / "b-roll café – take 2.mov"
    download_file(client, BUCKET, key, dest, size=result.size, etag=result.etag, state_dir=state)
    assert dest.read_bytes() == path.read_bytes()
    assert records(state, "uploads") == [] and records(state, "downloads") == []


def test_uploads_to_loopback_skip_the_sha256_payload_signature_but_keep_the_crc32(
    client, tmp_path, small_parts
):
    """Like botocore over HTTPS with a checksum header: the body is left out of the signature
    (UNSIGNED-PAYLOAD) on 127.0.0.1 only, and every part still carries its CRC32."""
    seen: list[tuple[str, str, bool]] = []  # (method, payload hash header, carries a body)

    def record(request, operation_name=None, **_):
        headers = {k.lower(): v for k, v in request.headers.items()}
        payload = headers.get("x-amz-content-sha256", b"")
        payload = payload.decode() if isinstance(payload, bytes) else payload
        seen.append((request.method, payload, "x-amz-checksum-crc32" in headers))

    client.meta.events.register("before-send.s3", record)
    upload(client, media(tmp_path / "one.mov", PART), "p/one.mov")  # single PUT
    upload(client, media(tmp_path / "big.mov", 5 * PART), "p/big.mov")  # multipart
    bodies = [s for s in seen if s[0] == "PUT"]  # the PUT and the 5 UploadParts
    assert len(bodies) == 1 + 5
    assert all(payload == "UNSIGNED-PAYLOAD" and crc for _, payload, crc in bodies)
    # the other requests (HEAD, create, complete) are signed as before
    others = [payload for method, payload, _ in seen if method != "PUT"]
    assert others and all(payload not in ("", "UNSIGNED-PAYLOAD") for payload in others)
    assert remote_bytes(client, "p/big.mov") == (tmp_path / "big.mov").read_bytes()


def test_remote_plain_http_endpoints_keep_the_signed_payload():
    remote = make_client("http://s3.example.internal:9000")
    assert signing.unsigned_payload_handler(remote) is None
    assert signing.unsigned_payload_handler(make_client("http://127.0.0.1:9000")) is not None


def test_parallel_parts_start_staggered_so_an_interruption_loses_little(
    client, tmp_path, small_parts
):
    """Worker k sends its first byte only once k/4 of a part went out: the parts in flight are
    at different stages, never 4 half-sent parts at once."""
    progress_at_start: dict[int, int] = {}

    class Count:
        sent = 0

        def start_file(self, name, total):
            pass

        def advance(self, name, nbytes):
            Count.sent += nbytes

        def end_file(self, name, ok):
            pass

    def before_send(request, **_):
        query = request.url.split("?")[-1]
        if "partNumber=" in query:
            number = int(query.split("partNumber=")[1].split("&")[0])
            progress_at_start[number] = Count.sent

    client.meta.events.register("before-send.s3.UploadPart", before_send)
    path = media(tmp_path / "big.mov", 8 * PART)
    upload(client, path, "p/big.mov", progress=Count())
    assert multipart.upload_workers(PART, 8) == 4
    for k in (2, 3, 4):
        assert progress_at_start[k] >= (k - 1) * PART // 4
    assert remote_bytes(client, "p/big.mov") == path.read_bytes()


def test_a_listed_part_is_checked_a_piece_at_a_time(tmp_path, monkeypatch):
    """Resuming, each part already on S3 is read again to compare (range_pieces): one reused
    buffer of at most CHUNK, never a whole 64 MiB part in memory; a file now shorter than the
    range is an OSError, not a short read taken for the part."""
    from vam.core import checksum

    monkeypatch.setattr(checksum, "CHUNK", 1000)
    data = os.urandom(10_500)
    path = tmp_path / "render.mov"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        pieces = [bytes(p) for p in checksum.range_pieces(fd, 1234, 8000)]
        assert b"".join(pieces) == data[1234:9234]
        assert max(len(p) for p in pieces) == 1000 and len(pieces) == 8
        assert checksum.crc32_of_range(fd, 1234, 8000) == zlib.crc32(data[1234:9234])
        with pytest.raises(OSError, match="shrank"):
            list(checksum.range_pieces(fd, 10_000, 1000))
    finally:
        os.close(fd)
