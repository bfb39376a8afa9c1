"""The engine's promises for a home uplink: the bandwidth cap holds, memory stays bounded.

Slow on purpose (each transfer is paced to take seconds); still run in CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import moto.s3.models
import pytest

from tests.conftest import REPO
from tests.transferkit import make_client
from vam.demo.sample import write_media
from vam.s3sync.transfer import Uploaded, download_file, tuning, upload_file

BUCKET = "vam-limits-test"
MB = 1000 * 1000
pytestmark = pytest.mark.slow


@pytest.fixture
def client(s3):
    c = make_client()
    c.create_bucket(Bucket=BUCKET)
    return c


def assert_rate(nbytes: int, seconds: float, cap: int) -> None:
    rate = nbytes / seconds
    assert 0.8 * cap <= rate <= 1.2 * cap, f"{rate / MB:.2f} MB/s against a cap of {cap / MB} MB/s"


def seconds_to_download(client, up: Uploaded, dest: Path, max_rate: int) -> float:
    """How long downloading what `up` uploaded takes, capped at `max_rate` bytes/s."""
    started = time.monotonic()
    download_file(
        client, BUCKET, up.key, dest, size=up.size, etag=up.etag, crc32=up.crc32, max_rate=max_rate
    )
    return time.monotonic() - started


def test_max_rate_holds_for_single_put_and_ranged_download(client, tmp_path):
    path = tmp_path / "render.mp4"
    write_media(path, 3 * MB, seed=4)
    crc = zlib.crc32(path.read_bytes())

    started = time.monotonic()
    up = upload_file(client, BUCKET, "p/render.mp4", path, crc32=crc, metadata={}, max_rate=MB)
    assert_rate(3 * MB, time.monotonic() - started, MB)

    assert_rate(3 * MB, seconds_to_download(client, up, tmp_path / "down.mp4", MB), MB)


def test_max_rate_is_shared_by_parallel_parts(client, tmp_path, monkeypatch):
    part = 256 * 1024
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", part)
    monkeypatch.setattr(tuning, "SINGLE_PUT_LIMIT", part)
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", part)
    monkeypatch.setattr(tuning, "MIN_DOWNLOAD_RANGE", part)
    path = tmp_path / "render.mp4"
    write_media(path, 3 * MB, seed=5)
    crc = zlib.crc32(path.read_bytes())

    started = time.monotonic()  # 12 parts, 6 in flight at once, one budget
    up = upload_file(client, BUCKET, "p/render.mp4", path, crc32=crc, metadata={}, max_rate=MB)
    assert_rate(3 * MB, time.monotonic() - started, MB)
    assert up.part_size == part

    # 4 ranges fetched in parallel, one budget
    assert_rate(3 * MB, seconds_to_download(client, up, tmp_path / "down.mp4", MB), MB)


MEASURE = """
import json, sys, zlib
from pathlib import Path
from tests.transferkit import make_client
from vam.core.checksum import file_crc32
from vam.s3sync.transfer import download_file, upload_file

def peak_kib():
    # VmHWM is this process's own high-water mark; ru_maxrss would carry the parent's over exec
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

path = Path(sys.argv[1])
s3 = make_client()
before = peak_kib()
up = upload_file(s3, sys.argv[2], "p/big.mp4", path, crc32=file_crc32(path), metadata={})
after_up = peak_kib()
download_file(s3, sys.argv[2], "p/big.mp4", path.with_name("down.mp4"), size=up.size,
              etag=up.etag, crc32=up.crc32)
after_down = peak_kib()
print(json.dumps({"before": before, "upload": after_up, "download": after_down,
                  "part_size": up.part_size}))
"""


def test_peak_memory_of_a_large_transfer_stays_far_below_200_mb(client, tmp_path):
    """64 MiB (4 parts of 16 MiB, 4 download ranges) in a separate process: the moto server
    lives in this one, so only the client's own memory is measured (VmHWM, KiB)."""
    path = tmp_path / "big.mp4"
    write_media(path, 64 * 2**20, seed=6)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), BUCKET],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rss = json.loads(done.stdout)
    assert rss["part_size"] == 16 * 2**20
    assert rss["upload"] < 200 * 1024 and rss["download"] < 200 * 1024, rss
    assert (path.with_name("down.mp4")).read_bytes() == path.read_bytes()


def test_large_files_are_checksummed_in_parallel_segments_to_the_same_crc32(tmp_path, monkeypatch):
    from vam.core import checksum

    monkeypatch.setattr(checksum, "PARALLEL_FROM", 1024 * 1024)
    monkeypatch.setattr(checksum, "CHUNK", 64 * 1024)
    monkeypatch.setattr(checksum.os, "cpu_count", lambda: 4)
    segments: list[tuple[int, int]] = []
    real_range = checksum.crc32_of_range

    def spy(fd, start, length, on_bytes=None):
        segments.append((start, length))
        return real_range(fd, start, length, on_bytes)

    monkeypatch.setattr(checksum, "crc32_of_range", spy)
    counted: list[int] = []
    for size, pieces in ((3 * 1024 * 1024 + 7, 4), (1024 * 1024, 2), (5, 0)):
        path = tmp_path / f"f{size}.bin"
        data = os.urandom(size)
        path.write_bytes(data)
        counted.clear()
        segments.clear()
        assert checksum.file_crc32(path, counted.append) == zlib.crc32(data)
        assert sum(counted) == size
        if hasattr(os, "preadv"):  # the parallel path: one segment per reader, end to end
            assert len(segments) == pieces
            assert sum(length for _, length in segments) == (size if pieces else 0)
