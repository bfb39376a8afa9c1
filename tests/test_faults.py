"""Real faults on Jan's and David's machines: a file nobody may read, a file another program
holds while vam wants to replace it (Windows: Premiere, Defender), a disk that is full before or
during a download. Each is made for real where this machine can (another user, chattr +i, a
small tmpfs), never by patching the OS calls vam makes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from storykit import BUCKET, PREFIX, Person, before_each

from vam.core import durable
from vam.demo.sample import build_sample_root, write_media
from vam.s3sync.syncview import report_lines, status_lines

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534


class Fetched:
    """The bytes a client asks S3 for and reads, per key (its ranged GETs), from real botocore
    hooks. A download stops reading a range early when another connection took over its end,
    so what it reads can be less than what it asked for."""

    def __init__(self, client) -> None:
        self.asked: dict[str, int] = {}
        self.received: dict[str, int] = {}
        self.gets: dict[str, int] = {}
        self._last = ""
        client.meta.events.register("provide-client-params.s3.GetObject", self._on_get)
        client.meta.events.register("after-call.s3.GetObject", self._on_response)

    def _on_response(self, parsed, **_) -> None:
        body = parsed.get("Body")
        if body is not None:  # (one key at a time in these tests: the last one asked for)
            parsed["Body"] = _Counting(body, self, self._last)

    def _on_get(self, params, **_) -> None:
        key = params.get("Key", "").rsplit("/", 1)[-1]
        self.gets[key] = self.gets.get(key, 0) + 1
        first, _, last = params.get("Range", "bytes=0-0").removeprefix("bytes=").partition("-")
        self.asked[key] = self.asked.get(key, 0) + int(last) - int(first) + 1
        self._last = key


class _Counting:
    """A response body that counts what is read from it."""

    def __init__(self, body, fetched: Fetched, key: str) -> None:
        self._body, self._fetched, self._key = body, fetched, key

    def read(self, n=None):
        data = self._body.read(n)
        received = self._fetched.received
        received[self._key] = received.get(self._key, 0) + len(data)
        return data

    def close(self) -> None:
        self._body.close()


# --------------------------------------------------------------------------- unreadable


@pytest.fixture
def shared_root():
    """A projects root another user can work in (pytest's own tmp folders are private)."""
    top = Path(tempfile.mkdtemp(prefix="vam-shared-", dir="/tmp"))
    os.chmod(top, 0o777)
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _open_to_all(folder: Path) -> None:
    for dirpath, _dirs, files in os.walk(folder):
        os.chmod(dirpath, 0o777)
        for name in files:
            os.chmod(Path(dirpath, name), 0o666)


def _run_as_someone_else(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """vam as another person of this machine: `nobody` when the tests run as root (who may read
    any file), else the current user (for whom chmod 000 is already a wall)."""
    extra = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
    return subprocess.run(
        [sys.executable, "-m", "vam", *args],
        cwd="/tmp",
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=180,
        **extra,
    )


def _someone_else_can_run_vam() -> str | None:
    """Why another user cannot start vam from this checkout (a checkout under a private home
    folder), or None."""
    if os.geteuid() != 0:
        return None
    probe = _run_as_someone_else(["--version"], {"HOME": "/tmp"})
    return None if probe.returncode == 0 else (probe.stderr.strip().splitlines() or ["?"])[-1]


def test_one_unreadable_file_never_stops_the_others(s3c, shared_root):
    why = _someone_else_can_run_vam()
    if why is not None:
        pytest.skip(f"user {NOBODY} cannot run vam from {REPO} ({why}): no one to be unreadable to")
    sample = build_sample_root(shared_root / "video-projects", media_bytes=64 * 1024)
    settings = sample.write_settings("david")
    home = shared_root / "home"
    home.mkdir()
    _open_to_all(shared_root)
    staging = sample.root / "v-appydave" / "b65-guy-monroe-marketing-plan" / "s3-staging"
    locked = staging / "raw.mp4"
    os.chmod(locked, 0o000)
    env = {"VAM_SETTINGS": str(settings), "HOME": str(home), "VAM_CACHE_DIR": str(home / "c")}
    up = _run_as_someone_else(["s3.up", "--brand", "ad", "--project", "b65"], env)
    out = up.stdout + up.stderr
    assert "Traceback" not in out
    listed = s3c.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX).get("Contents", [])
    keys = {o["Key"][len(PREFIX) :] for o in listed}
    assert {"brief.md", "b-roll café – take 2.mov"} <= keys and "raw.mp4" not in keys
    assert "raw.mp4" in out and "cannot read" in out
    assert up.returncode == 1  # one file of the folder did not go: the exit says so
    status = _run_as_someone_else(["s3.status", "--brand", "ad", "--project", "b65"], env)
    assert "Traceback" not in status.stdout + status.stderr
    assert "brief.md" in status.stdout and "raw.mp4" in status.stdout + status.stderr


# --------------------------------------------------------------------------- held by a program


def _can_hold() -> bool:
    probe = Path(tempfile.mkdtemp()) / "probe"
    probe.write_text("x")
    try:
        ok = (
            shutil.which("chattr")
            and subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode == 0
        )
        if ok:
            subprocess.run(["chattr", "-i", str(probe)], check=True)
        return bool(ok)
    finally:
        shutil.rmtree(probe.parent, ignore_errors=True)


needs_hold = pytest.mark.skipif(not _can_hold(), reason="needs chattr +i (root, ext4)")


def hold(path: Path) -> None:
    subprocess.run(["chattr", "+i", str(path)], check=True)


def release(path: Path) -> None:
    subprocess.run(["chattr", "-i", str(path)], check=True)


@needs_hold
def test_a_file_held_by_another_program_is_reported_and_the_others_come_down(
    david, jan, monkeypatch
):
    david.up()
    jan.down()
    (david.staging() / "brief.md").write_text("David's second brief.\n")
    write_media(david.staging() / "raw.mp4", 70 * 1024, seed="v2")
    david.up()
    brief = jan.staging() / "brief.md"
    before = brief.read_bytes()
    monkeypatch.setattr(durable, "REPLACE_PATIENCE", 0.5)
    hold(brief)  # Jan has the brief open in an editor that locks it
    try:
        report = jan.down()
    finally:
        release(brief)
    assert brief.read_bytes() == before
    assert (jan.staging() / "raw.mp4").read_bytes() == (david.staging() / "raw.mp4").read_bytes()
    (failed,) = [o for o in report.outcomes if not o.ok]
    assert failed.rel == "brief.md" and "held by another program" in failed.message
    assert not report.ok
    assert "brief.md" in "\n".join(report_lines(report))
    # once it is let go, the same command finishes it without fetching it again
    fetched = Fetched(jan.s3)
    again = jan.down()
    assert again.ok and brief.read_text() == "David's second brief.\n"
    assert fetched.gets.get("brief.md", 0) == 0


@needs_hold
def test_a_rename_waits_for_a_program_that_lets_go_soon(david, jan):
    david.up()
    jan.down()
    (david.staging() / "brief.md").write_text("David's third brief.\n")
    david.up()
    brief = jan.staging() / "brief.md"
    hold(brief)
    timer = threading.Timer(0.5, release, args=(brief,))
    timer.start()
    try:
        report = jan.down()
    finally:
        timer.join()
        release(brief)
    assert report.ok and brief.read_text() == "David's third brief.\n"


# --------------------------------------------------------------------------- disk full


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    spot = Path(tempfile.mkdtemp())
    try:
        made = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(spot)], capture_output=True
        )
        if made.returncode != 0:
            return False
        subprocess.run(["umount", str(spot)], check=True)
        return True
    finally:
        spot.rmdir()


@pytest.fixture
def small_disk(tmp_path):
    """Jan's projects root on a disk of 12 MB of her own (a real tmpfs: real ENOSPC)."""
    if not _can_mount():
        pytest.skip("needs root and tmpfs to make a small disk")
    spot = tmp_path / "jan-disk"
    spot.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(spot)], check=True)
    try:
        yield spot
    finally:
        subprocess.run(["umount", "-l", str(spot)], check=True)


@pytest.fixture
def jan_on_small_disk(sample, s3c, small_disk) -> Person:
    (small_disk / "v-appydave").mkdir()
    return Person("jan", sample.write_settings("jan", projects_root=str(small_disk)))


def _fill(disk: Path, leave: int) -> Path:
    """Another program fills the disk until `leave` bytes are free."""
    filler = disk / "other-program.bin"
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as fh:
        left = free - leave
        while left > 0:
            n = min(left, 1 << 20)
            fh.write(b"\0" * n)
            left -= n
    return filler


@contextlib.contextmanager
def _fills_at_first_range(person: Person, disk: Path, leave: int) -> Iterator[list[Path]]:
    """Another program fills the disk (to `leave` bytes free) as the first ranged GET of
    raw.mp4 starts; yields the filler, once made."""
    filled: list[Path] = []
    once = threading.Lock()  # ranged GETs start on several threads at once

    def another_program_fills_the_disk(params, **_):
        with once:
            if params.get("Key", "").endswith("/raw.mp4") and "Range" in params and not filled:
                filled.append(_fill(disk, leave))

    with before_each(person.s3, "GetObject", another_program_fills_the_disk):
        yield filled


def test_a_download_that_does_not_fit_is_refused_with_what_it_needs(
    david, jan_on_small_disk, small_disk, vam_cli
):
    write_media(david.staging() / "raw.mp4", 6_000_000, seed="big")
    david.up()
    filler = _fill(small_disk, 3_000_000)
    as_jan = {"VAM_SETTINGS": str(jan_on_small_disk.settings)}
    done = vam_cli("s3.down", "--brand", "ad", "--project", "b65", env=as_jan)
    assert done.returncode == 1
    line = done.stderr.strip()
    assert line.startswith("vam: not enough space") and "needs 6." in line and "free" in line
    assert str(small_disk) in line and "Traceback" not in done.stderr
    assert not any(small_disk.rglob("*.vam-part"))
    filler.unlink()
    assert jan_on_small_disk.down().ok


def test_a_download_reserves_its_space_so_a_program_filling_the_disk_cannot_break_it(
    david, jan_on_small_disk, small_disk
):
    """On Linux a download's blocks are allocated before its first byte (fallocate): another
    program that fills the disk meanwhile gets the disk-full error, not Jan's download."""
    jan = jan_on_small_disk
    write_media(david.staging() / "raw.mp4", 6_000_000, seed="big")
    david.up()
    with _fills_at_first_range(jan, small_disk, leave=200_000) as filled:
        report = jan.down()
    assert filled and report.ok
    # the disk is full (but for room for vam's records)…
    assert shutil.disk_usage(small_disk).free < 1_000_000
    raw = jan.staging() / "raw.mp4"  # …and Jan's file is whole
    assert raw.read_bytes() == (david.staging() / "raw.mp4").read_bytes()
    assert not any(small_disk.rglob("*.vam-part"))


def test_a_download_the_disk_cannot_reserve_leaves_nothing_taking_its_space(david, small_disk, s3c):
    """Past the planner's free-space check (the disk filled in between): the allocation fails
    before a byte is fetched, gives back what it took, and keeps no partial file."""
    from vam.s3sync.transfer import download_file
    from vam.s3sync.transfer.values import DiskFull

    write_media(david.staging() / "raw.mp4", 6_000_000, seed="big")
    david.up()
    head = s3c.head_object(Bucket=BUCKET, Key=PREFIX + "raw.mp4")
    _fill(small_disk, 3_000_000)
    free = shutil.disk_usage(small_disk).free
    dest = small_disk / "raw.mp4"
    with pytest.raises(DiskFull) as caught:
        download_file(
            s3c,
            BUCKET,
            PREFIX + "raw.mp4",
            dest,
            size=head["ContentLength"],
            etag=head["ETag"].strip('"'),
            state_dir=small_disk / "state",
        )
    message = str(caught.value)
    assert "disk full while downloading raw.mp4: nothing kept" in message, message
    assert not dest.exists() and not any(small_disk.rglob("*.vam-part"))
    assert shutil.disk_usage(small_disk).free >= free - 64 * 1024  # (the state folder)


def test_a_disk_that_fills_during_a_download_leaves_a_partial_that_resumes(
    david, jan_on_small_disk, small_disk, monkeypatch
):
    """Where the space cannot be reserved first (macOS, Windows, FAT, some network mounts:
    played here by turning the Linux call off), the disk can fill mid-download."""
    from vam.core import posio

    monkeypatch.setattr(posio, "_fallocate", None)
    jan = jan_on_small_disk
    david.up()
    jan.down()
    write_media(david.staging() / "raw.mp4", 6_000_000, seed="big")  # the new cut: 6 MB
    david.up()
    with (
        _fills_at_first_range(jan, small_disk, leave=3_000_000) as filled,
        pytest.raises(Exception) as caught,
    ):
        jan.down()
    message = str(caught.value)
    assert type(caught.value).__name__ == "DiskFull"
    assert "disk full while downloading raw.mp4" in message and "raw.mp4.vam-part" in message
    assert "run the same command again" in message
    staging = jan.staging()
    assert (staging / "raw.mp4").stat().st_size == 128 * 1024  # her copy of the old cut stays
    assert (staging / "raw.mp4.vam-part").exists()
    assert not list((jan.state_dir() / "downloads").glob("*.tmp"))  # nothing of ours fills it
    # s3.status names the partial download and its size
    st = jan.status()
    text = "\n".join(status_lines(st))
    assert "raw.mp4" in text and "partial download" in text
    # the disk is freed: the same command completes, fetching only what was missing
    filled[0].unlink()
    fetched = Fetched(jan.s3)
    report = jan.down()
    assert report.ok
    assert (staging / "raw.mp4").read_bytes() == (david.staging() / "raw.mp4").read_bytes()
    assert 0 < fetched.received["raw.mp4"] < 6_000_000


def test_local_cleanup_removes_a_partial_download_and_its_record(
    david, jan_on_small_disk, small_disk, vam_cli
):
    jan = jan_on_small_disk
    david.up()
    jan.down()
    write_media(david.staging() / "raw.mp4", 6_000_000, seed="big")
    david.up()

    def cut_off(params, **_):  # the link drops for good after the first range starts
        if params.get("Key", "").endswith("/raw.mp4") and "Range" in params:
            raise KeyboardInterrupt

    with before_each(jan.s3, "GetObject", cut_off), pytest.raises(KeyboardInterrupt):
        jan.down()
    part = jan.staging() / "raw.mp4.vam-part"
    assert part.exists() and list((jan.state_dir() / "downloads").glob("*.json"))
    as_jan = {"VAM_SETTINGS": str(jan.settings)}
    done = vam_cli(
        "s3.cleanup", "--brand", "ad", "--project", "b65", "--side", "local", "--yes", env=as_jan
    )
    assert "raw.mp4.vam-part" in done.stdout and "partial download" in done.stdout, done.stdout
    assert "removed 1 partial download(s)" in done.stdout, done.stdout
    assert not part.exists() and not list((jan.state_dir() / "downloads").glob("*.json"))
