"""Content fingerprints of both sides (SPEC §4 "Change detection is by content").

Local: size + whole-file CRC32, cached in the project's `.vam/checksums.json` by the file's
stamp (size, mtime, ctime, inode, device, as git's index), so an unchanged file is never re-read;
an entry taken within a timestamp tick of the file's mtime is not trusted ("racily clean").
Remote: the vam index or vam metadata or S3's FULL_OBJECT CRC32; for objects uploaded by other
tools, the single-part ETag (= MD5) or the multipart ETag recomputed locally with the part size
read from the object (samecontent.py). Never size-only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from vam.core.atomicfile import write_text_atomic
from vam.core.checksum import file_crc32, file_md5, multipart_etag
from vam.core.errors import VamError
from vam.core.files import FileRules, LocalFile, Skipped, Stamp, walk
from vam.core.layout import STATE_DIR
from vam.s3sync.keys import nfc
from vam.s3sync.model import LocalEntry, RemoteEntry
from vam.s3sync.samecontent import same_content

CACHE_FILE = "checksums.json"

# Why a file is left alone for now (None: go ahead), asked before it is read: `vam watch` holds a
# file that is still being written or is open in another program, so it is neither read nor sent.
Hold = Callable[[LocalFile], str | None]


@dataclass
class Hasher:
    """Reads file bytes for checksums and counts them, so "nothing re-read" can be asserted."""

    bytes_read: int = 0
    files_read: list[str] = field(default_factory=list)

    def crc32(self, path: Path) -> int:
        self.files_read.append(str(path))

        def count(n: int) -> None:
            self.bytes_read += n

        return file_crc32(path, count)

    def md5(self, path: Path) -> str:
        self.files_read.append(str(path))
        self.bytes_read += path.stat().st_size
        return file_md5(path)

    def multipart_etag(self, path: Path, part_size: int) -> str:
        self.files_read.append(str(path))
        self.bytes_read += path.stat().st_size
        return multipart_etag(path, part_size)


# How far apart two saves can be and still leave the same mtime. A file system that stores whole
# seconds (exFAT/FAT32 in 2 s steps, HFS+ in 1 s, many SMB shares) gives whole-second mtimes;
# others (ext4, APFS, NTFS) store sub-second ones but advance them with a coarse clock (a few
# milliseconds). An mtime that is a whole second is taken as coming from the coarsest kind.
COARSE_TICK_NS = 2_000_000_000
FINE_TICK_NS = 100_000_000


def timestamp_tick(mtime_ns: int) -> int:
    """The timestamp granularity to assume for a file with this mtime."""
    return COARSE_TICK_NS if mtime_ns % 1_000_000_000 == 0 else FINE_TICK_NS


class ChangingFile(VamError):
    """The file changed while vam read it (still being written): no checksum of it exists."""


def read_version(path: Path, hasher: Hasher, attempts: int = 2) -> tuple[Stamp, int]:
    """The CRC32 of the file and the stamp of the version read: the stamps taken before and after
    reading must agree (a render still being written never gets a checksum). ChangingFile after
    `attempts` reads that did not agree."""
    for _ in range(attempts):
        before = Stamp.read(path)
        crc = hasher.crc32(path)
        if Stamp.read(path) == before:
            return before, crc
    raise ChangingFile(f"{path} changed while vam read it (is it still being written?)")


class ChecksumCache:
    """`{project}/.vam/checksums.json`: rel -> the stamp of a version and its checksums (CRC32,
    MD5, multipart ETags by part size), so an unchanged 5 GB file is never read again.

    As git's index: an entry counts only while the file's stamp (size, mtime, ctime, inode,
    device) is the one recorded, and only if it was taken a timestamp tick after the file's mtime
    ("racily clean" otherwise: a second save within the same tick leaves the same mtime, so the
    entry is treated as unknown and the file read again). The clock that matters is the file
    system's (an SMB server's may differ from ours): each save measures the offset between the two
    on the cache file itself. The cache is a planning hint only: a step that replaces or deletes a
    file reads it again first (up, down, cleanup, archive)."""

    VERSION = 2

    def __init__(self, state_dir: Path, clock: Callable[[], int] = time.time_ns):
        self.path = state_dir / CACHE_FILE
        self.clock = clock
        self.dirty = False
        self._fresh: set[str] = set()  # rels whose entry this run read or wrote itself
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != self.VERSION:
                raise ValueError("an older cache: its entries lack ctime and inode")
            self.files: dict[str, dict] = dict(data.get("files", {}))
            self.clock_offset_ns = int(data.get("clock_offset_ns", 0))
        except (OSError, ValueError, AttributeError, TypeError):
            self.files = {}  # missing, damaged or old: it is only a cache, rebuild it
            self.clock_offset_ns = 0

    # ---------------------------------------------------------------- entries

    def _trusted(self, rel: str, stamp: Stamp) -> dict | None:
        entry = self.files.get(rel)
        if not entry or _stamp_of(entry) != stamp:
            return None
        if rel in self._fresh:
            return entry
        seen = int(entry.get("hashed_ns", 0)) + self.clock_offset_ns
        if seen < stamp.mtime_ns + timestamp_tick(stamp.mtime_ns):
            return None  # racily clean: a save within the same tick would look the same
        return entry

    def _entry(self, rel: str, stamp: Stamp) -> dict:
        """The trusted entry of this version, or a new empty one (read it again)."""
        entry = self._trusted(rel, stamp)
        if entry is None:
            entry = {**_stamp_fields(stamp), "hashed_ns": self.clock()}
            self.files[rel] = entry
            self._fresh.add(rel)
            self.dirty = True
        return entry

    def known_crc32(self, rel: str, stamp: Stamp) -> int | None:
        """The cached CRC32 of this version of the file, without reading it (None: not known)."""
        entry = self._trusted(rel, stamp)
        crc = entry.get("crc32") if entry else None
        return int(crc) if crc is not None else None

    def crc32(self, rel: str, path: Path, stamp: Stamp, hasher: Hasher) -> tuple[Stamp, int]:
        """(stamp, CRC32) of the file: cached when this version is known, else read (and the
        stamp of what was read returned: it may be newer than the one asked about)."""
        known = self.known_crc32(rel, stamp)
        if known is not None:
            return stamp, known
        started = self.clock()
        seen, crc = read_version(path, hasher)
        self.remember(rel, seen, crc, hashed_ns=started)
        return seen, crc

    def remember(self, rel: str, stamp: Stamp, crc32: int, *, hashed_ns: int | None = None) -> None:
        """We know the content of this version: we just read it, wrote it or sent it.
        `hashed_ns`: when its bytes were read (default: now)."""
        when = self.clock() if hashed_ns is None else hashed_ns
        self.files[rel] = {**_stamp_fields(stamp), "hashed_ns": when, "crc32": crc32}
        self._fresh.add(rel)
        self.dirty = True

    def md5(self, rel: str, path: Path, stamp: Stamp, hasher: Hasher) -> str:
        entry = self._entry(rel, stamp)
        if "md5" not in entry:
            entry["md5"] = hasher.md5(path)
            self.dirty = True
        return str(entry["md5"])

    def multipart_etag(
        self, rel: str, path: Path, stamp: Stamp, part_size: int, hasher: Hasher
    ) -> str:
        entry = self._entry(rel, stamp)
        etags = entry.setdefault("etags", {})
        if str(part_size) not in etags:
            etags[str(part_size)] = hasher.multipart_etag(path, part_size)
            self.dirty = True
        return str(etags[str(part_size)])

    def prune(self, keep: Iterable[str]) -> None:
        keep = set(keep)
        for rel in [r for r in self.files if r not in keep]:
            del self.files[rel]
            self.dirty = True

    def save(self) -> None:
        """Atomically; a cache that cannot be written is not an error worth stopping for."""
        if not self.dirty:
            return
        try:
            for _ in range(2):
                stored = self.clock_offset_ns
                data = {"version": self.VERSION, "clock_offset_ns": stored, "files": self.files}
                written_at = self.clock()
                write_text_atomic(self.path, json.dumps(data, sort_keys=True))
                # the file system's clock against ours, read off the file just written (an mtime
                # rounded down only makes the offset smaller and entries more often unknown)
                self.clock_offset_ns = os.stat(self.path).st_mtime_ns - written_at
                if abs(self.clock_offset_ns - stored) < COARSE_TICK_NS:
                    break  # (else write it once more, with the offset as measured now)
            self.dirty = False
        except OSError:
            pass


def _stamp_fields(stamp: Stamp) -> dict:
    return {
        "size": stamp.size,
        "mtime_ns": stamp.mtime_ns,
        "ctime_ns": stamp.ctime_ns,
        "ino": stamp.ino,
        "dev": stamp.dev,
    }


def _stamp_of(entry: dict) -> Stamp | None:
    try:
        return Stamp(
            int(entry["size"]),
            int(entry["mtime_ns"]),
            int(entry["ctime_ns"]),
            int(entry["ino"]),
            int(entry["dev"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def local_listing(
    staging: Path,
    rules: FileRules,
    cache: ChecksumCache,
    hasher: Hasher,
    skipped: list[Skipped] | None = None,
    defer: Callable[[str], bool] | None = None,
    hold: Hold | None = None,
) -> list[LocalEntry]:
    """Every file of s3-staging/ with its fingerprint (read only when not cached), under its NFC
    name (keys.nfc). Files for which `defer(rel)` is true are not read: their CRC32 stays None
    unless the cache knows it. A file that cannot be read, or keeps changing while it is read,
    goes to `skipped` with the reason; the others are listed all the same. A file `hold` gives a
    reason for goes to `skipped` unread with that reason (not a problem: it is only not ready)."""
    skipped = [] if skipped is None else skipped
    entries = []
    held: set[str] = set()
    for f in walk(staging, rules, skipped):
        rel = nfc(f.rel)
        stamp = f.stamp
        why = hold(f) if hold is not None else None
        if why is not None:
            skipped.append(Skipped(f.rel, why))
            held.add(rel)
            continue
        try:
            if defer is not None and defer(rel):
                crc = cache.known_crc32(rel, stamp)
            else:
                stamp, crc = cache.crc32(rel, f.path, stamp, hasher)
        except ChangingFile:
            reason = "changed while vam read it (still being written?): run again once it is saved"
            skipped.append(Skipped(f.rel, reason, problem=True))
            continue
        except OSError as exc:
            reason = (
                f"cannot read: {exc.strerror or exc} (its permissions, or a program holding it)"
            )
            skipped.append(Skipped(f.rel, reason, problem=True))
            continue
        name = f.rel if f.rel != rel else None
        entries.append(LocalEntry(rel, stamp.size, stamp.mtime_ns, crc, stamp, f.path, name))
    cache.prune([*(e.rel for e in entries), *held])  # a held file's entry stays for next time
    return entries


def resolve_foreign(
    remote: RemoteEntry,
    local: LocalEntry | None,
    staging: Path,
    cache: ChecksumCache,
    hasher: Hasher,
    part_size: int | None,
) -> RemoteEntry:
    """An object without a known CRC32: if this computer's file is proven to hold the same
    bytes (samecontent: the ETag as MD5, or multipart with the object's part size), the object's
    CRC32 is the local one. Otherwise it stays unknown (= different from the local file)."""
    if remote.crc32 is not None or local is None:
        return remote
    path = local.path or staging / local.rel
    stamp = local.stamp or Stamp(local.size, local.mtime_ns)
    here = CachedFile(local.rel, path, stamp, cache, hasher)
    if same_content(here, size=remote.size, etag=remote.etag, part_size=part_size).same:
        return replace(remote, crc32=local.crc32)
    return remote


@dataclass(frozen=True)
class CachedFile:
    """A file of s3-staging/ as the scan saw it, its checksums read through the checksum cache
    (samecontent.FileOnDisk)."""

    rel: str
    path: Path
    stamp: Stamp
    cache: ChecksumCache
    hasher: Hasher

    @property
    def size(self) -> int:
        return self.stamp.size

    def crc32(self) -> int:
        return self.cache.crc32(self.rel, self.path, self.stamp, self.hasher)[1]

    def md5(self) -> str:
        return self.cache.md5(self.rel, self.path, self.stamp, self.hasher)

    def multipart_etag(self, part_size: int) -> str:
        return self.cache.multipart_etag(self.rel, self.path, self.stamp, part_size, self.hasher)


def state_dir(project_folder: Path) -> Path:
    return project_folder / STATE_DIR
