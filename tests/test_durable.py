"""vam.durable: renames that wait for a program holding the file, durable folders, long paths.

A file held open by Premiere or Defender on Windows makes os.replace fail with PermissionError.
On Linux the same real error comes from an immutable file (chattr +i, as root): that is how these
tests hold a file, and let it go again from another thread.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from vam.core import durable


def _can_hold(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.write_text("x")
    if shutil.which("chattr") is None:
        return False
    ok = subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["chattr", "-i", str(probe)], check=True)
    return ok


def hold(path: Path) -> None:
    subprocess.run(["chattr", "+i", str(path)], check=True)


def release(path: Path) -> None:
    subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture
def holdable(tmp_path):
    if not _can_hold(tmp_path):
        pytest.skip("needs chattr +i (root on ext4) to hold a file the way Windows does")
    return tmp_path


def test_replace_waits_for_the_program_holding_the_file_then_succeeds(holdable):
    dst, src = holdable / "raw.mp4", holdable / "raw.mp4.vam-part"
    dst.write_bytes(b"old")
    src.write_bytes(b"new")
    hold(dst)
    timer = threading.Timer(0.4, release, args=(dst,))
    timer.start()
    started = time.monotonic()
    try:
        durable.replace(src, dst, patience=10)
    finally:
        timer.join()
        release(dst)
    assert dst.read_bytes() == b"new" and not src.exists()
    assert 0.3 < time.monotonic() - started < 10


def test_replace_gives_up_after_its_patience_naming_the_file_and_keeping_both(holdable):
    dst, src = holdable / "raw.mp4", holdable / "raw.mp4.vam-part"
    dst.write_bytes(b"old")
    src.write_bytes(b"new")
    hold(dst)
    try:
        with pytest.raises(durable.FileBusy) as caught:
            durable.replace(src, dst, patience=0.3)
    finally:
        release(dst)
    assert str(dst) in str(caught.value) and "run the same command again" in str(caught.value)
    assert dst.read_bytes() == b"old" and src.read_bytes() == b"new"


def test_flush_fsync_dir_and_uncached_work_on_a_real_file(tmp_path):
    path = tmp_path / "a.bin"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"x" * 4096)
        durable.flush(fd)
        durable.uncached(fd)
        assert os.pread(fd, 4096, 0) == b"x" * 4096
    finally:
        os.close(fd)
    durable.fsync_dir(tmp_path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("C:\\video-projects\\b65\\raw.mp4", "C:\\video-projects\\b65\\raw.mp4"),
        ("D:\\" + "x" * 300, "\\\\?\\D:\\" + "x" * 300),
        ("\\\\nas\\share\\" + "y" * 300, "\\\\?\\UNC\\nas\\share\\" + "y" * 300),
        ("\\\\?\\D:\\" + "z" * 300, "\\\\?\\D:\\" + "z" * 300),
    ],
)
def test_long_windows_paths_get_the_extended_prefix(path, expected):
    assert durable.long_path(path, windows=True) == expected


def test_a_folder_can_be_put_in_the_extended_form_whatever_its_length():
    """vam hands Jan's project folders to Windows this way (durable.native), so files deep
    inside them work past 260 characters."""
    assert durable.long_path("D:\\video-projects", windows=True, always=True) == (
        "\\\\?\\D:\\video-projects"
    )
    assert durable.native(Path("/tmp/x")) == Path("/tmp/x")  # not Windows: unchanged


def test_long_paths_are_unchanged_elsewhere():
    assert durable.long_path("/tmp/" + "x" * 300, windows=False) == "/tmp/" + "x" * 300


def test_reserve_allocates_a_files_blocks_where_the_system_can_and_extends_it_elsewhere(
    tmp_path, monkeypatch
):
    """A download's partial file gets its full size at once: on Linux with its blocks allocated
    (fallocate), elsewhere sparse; what is written into it afterwards reads back as written."""
    import sys

    from vam.core import posio

    size = 8 * 1024 * 1024
    path = tmp_path / "raw.mp4.vam-part"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        reserved = posio.reserve(fd, size)
        assert os.fstat(fd).st_size == size
        if sys.platform.startswith("linux"):
            assert reserved and os.fstat(fd).st_blocks * 512 >= size
        posio.write_at(fd, b"first cut", 4096)
    finally:
        os.close(fd)
    data = path.read_bytes()
    assert data[4096:4105] == b"first cut" and data[:4096] == bytes(4096)
    monkeypatch.setattr(posio, "_fallocate", None)  # macOS, Windows, FAT: only extended
    fd = os.open(tmp_path / "sparse.vam-part", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        assert posio.reserve(fd, size) is False and os.fstat(fd).st_size == size
    finally:
        os.close(fd)
