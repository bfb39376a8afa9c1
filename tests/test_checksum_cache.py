"""The checksum cache as git's index: trusted only for the exact stamp it recorded, and never for
an entry taken within a timestamp tick of the file's mtime ("racily clean").

exFAT/FAT32 (2 s mtimes, no ctime worth the name), HFS+ (1 s) and SMB shares cannot be mounted
on this machine's kernel, so those file systems are modelled: stamps are built by hand and the
cache is given a clock. The rest use real files.
"""

from __future__ import annotations

import json
import os

from edits import edit_in_place, flip_byte

from vam.core.files import Stamp
from vam.s3sync.fingerprint import (
    COARSE_TICK_NS,
    FINE_TICK_NS,
    ChecksumCache,
    Hasher,
    timestamp_tick,
)

S = 1_000_000_000


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_whole_second_mtimes_get_the_coarse_tick_others_the_fine_one():
    assert timestamp_tick(1_700_000_000 * S) == COARSE_TICK_NS
    assert timestamp_tick(1_700_000_000 * S + 123_456_789) == FINE_TICK_NS


def test_a_second_save_within_one_fat_tick_is_not_trusted(tmp_path):
    """exFAT: both saves of the file get the same 2 s mtime and the same size; nothing in the
    stamp moves. The entry taken between them was taken within the tick, so it is unknown."""
    mtime = 1_790_000_000 * S  # whole seconds, as a FAT disk stores them
    stamp = Stamp(size=29, mtime_ns=mtime, ctime_ns=mtime, ino=0, dev=7)
    clock = Clock(mtime + S // 2)  # hashed half a second after the first save
    cache = ChecksumCache(tmp_path, clock=clock)
    cache.remember("brief.md", stamp, 0x1234)
    cache.save()
    later = ChecksumCache(tmp_path, clock=clock)
    later.clock_offset_ns = 0  # the modelled disk's clock is ours
    assert later.known_crc32("brief.md", stamp) is None  # racily clean: read it again


def test_an_entry_taken_a_tick_after_the_mtime_is_trusted(tmp_path):
    mtime = 1_790_000_000 * S
    stamp = Stamp(size=29, mtime_ns=mtime, ctime_ns=mtime, ino=0, dev=7)
    clock = Clock(mtime + 3 * S)
    cache = ChecksumCache(tmp_path, clock=clock)
    cache.remember("brief.md", stamp, 0x1234)
    cache.save()
    again = ChecksumCache(tmp_path, clock=clock)
    again.clock_offset_ns = 0  # the modelled disk's clock is ours
    assert again.known_crc32("brief.md", stamp) == 0x1234


def test_a_share_whose_clock_is_behind_ours_keeps_entries_unknown_longer(tmp_path):
    """An SMB server stamps files with its own clock. If it runs 5 s behind ours, an entry we
    took 6 s (by our clock) after the file's mtime was taken 1 s after it by the server's: within
    the tick, so unknown."""
    mtime = 1_790_000_000 * S
    stamp = Stamp(size=29, mtime_ns=mtime, ctime_ns=mtime, ino=0, dev=7)
    cache = ChecksumCache(tmp_path, clock=Clock(mtime + 8 * S))
    cache.remember("brief.md", stamp, 0x1234, hashed_ns=mtime + 6 * S)
    cache.save()
    again = ChecksumCache(tmp_path)
    again.clock_offset_ns = -5 * S  # measured on the cache file: the share is 5 s behind
    assert again.known_crc32("brief.md", stamp) is None
    again.clock_offset_ns = 0
    assert again.known_crc32("brief.md", stamp) == 0x1234


def test_the_offset_between_the_disk_clock_and_ours_is_measured_on_save(tmp_path):
    cache = ChecksumCache(tmp_path, clock=Clock(3 * 10**18))  # our clock decades ahead
    cache.remember("a", Stamp(1, 1), 1)
    cache.save()
    assert cache.clock_offset_ns < -(10**18)
    saved = json.loads((tmp_path / "checksums.json").read_text())
    assert abs(saved["clock_offset_ns"] - cache.clock_offset_ns) < COARSE_TICK_NS


def test_any_change_of_size_mtime_ctime_inode_or_device_makes_the_entry_unknown(tmp_path):
    base = Stamp(size=10, mtime_ns=5 * S + 1, ctime_ns=5 * S + 1, ino=42, dev=3)
    cache = ChecksumCache(tmp_path, clock=Clock(100 * S))
    cache.remember("f", base, 99)
    cache.save()
    again = ChecksumCache(tmp_path, clock=Clock(100 * S))
    again.clock_offset_ns = 0
    assert again.known_crc32("f", base) == 99
    for change in (
        {"size": 11},
        {"mtime_ns": base.mtime_ns + 1},
        {"ctime_ns": base.ctime_ns + 1},
        {"ino": 43},
        {"dev": 4},
    ):
        moved = Stamp(**{**base.__dict__, **change})
        assert again.known_crc32("f", moved) is None, change


def test_a_cache_from_before_stamps_is_not_trusted_at_all(tmp_path):
    old = {"version": 1, "files": {"f": {"size": 10, "mtime_ns": 5, "crc32": 99}}}
    (tmp_path / "checksums.json").write_text(json.dumps(old))
    cache = ChecksumCache(tmp_path)
    assert cache.files == {}


def test_real_edits_that_keep_size_and_mtime_are_read_again(tmp_path):
    """On this machine's disk: an edit in place with the mtime put back moves the ctime."""
    path = tmp_path / "raw.mp4"
    path.write_bytes(os.urandom(4096))
    hour_ago = path.stat().st_mtime_ns - 3600 * S
    os.utime(path, ns=(hour_ago, hour_ago))
    hasher = Hasher()
    cache = ChecksumCache(tmp_path / ".vam")
    first = cache.crc32("raw.mp4", path, Stamp.read(path), hasher)
    cache.save()
    again = ChecksumCache(tmp_path / ".vam")
    assert again.known_crc32("raw.mp4", Stamp.read(path)) == first[1]
    flip_byte(path, offset=100)
    assert path.stat().st_mtime_ns == hour_ago
    assert again.known_crc32("raw.mp4", Stamp.read(path)) is None
    read_before = hasher.bytes_read
    stamp, crc = again.crc32("raw.mp4", path, Stamp.read(path), hasher)
    assert crc != first[1] and hasher.bytes_read == read_before + 4096
    edit_in_place(path, b"\x00" * 10, offset=0)
    assert again.known_crc32("raw.mp4", Stamp.read(path)) is None
