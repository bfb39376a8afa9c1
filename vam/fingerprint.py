"""Content fingerprints of both sides (SPEC §4 "Change detection is by content").

Local: size + whole-file CRC32, cached in the project's `.vam/checksums.json` by (path, size,
mtime_ns) so an unchanged file is never re-read. Remote: the vam index or vam metadata or S3's
FULL_OBJECT CRC32; for objects uploaded by other tools, the single-part ETag (= MD5) or the
multipart ETag recomputed locally with the part size read from the object. Never size-only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from vam.atomicfile import write_text_atomic
from vam.checksum import file_crc32
from vam.config import STATE_DIR, FileRules
from vam.files import Skipped, walk
from vam.model import LocalEntry, RemoteEntry
from vam.transfer import file_md5, multipart_etag

CACHE_FILE = "checksums.json"


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


class ChecksumCache:
    """`{project}/.vam/checksums.json`: rel -> size, mtime_ns, crc32, md5, etags by part size."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / CACHE_FILE
        self.dirty = False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.files: dict[str, dict] = dict(data.get("files", {}))
        except (OSError, ValueError, AttributeError):
            self.files = {}  # missing or damaged: it is only a cache, rebuild it

    def _entry(self, rel: str, size: int, mtime_ns: int) -> dict:
        entry = self.files.get(rel)
        if not entry or entry.get("size") != size or entry.get("mtime_ns") != mtime_ns:
            entry = {"size": size, "mtime_ns": mtime_ns}
            self.files[rel] = entry
            self.dirty = True
        return entry

    def crc32(self, rel: str, path: Path, size: int, mtime_ns: int, hasher: Hasher) -> int:
        entry = self._entry(rel, size, mtime_ns)
        if "crc32" not in entry:
            entry["crc32"] = hasher.crc32(path)
            self.dirty = True
        return int(entry["crc32"])

    def known_crc32(self, rel: str, size: int, mtime_ns: int) -> int | None:
        """The cached CRC32 of this version of the file, without reading it (None: not known)."""
        entry = self.files.get(rel)
        if entry and entry.get("size") == size and entry.get("mtime_ns") == mtime_ns:
            crc = entry.get("crc32")
            return int(crc) if crc is not None else None
        return None

    def remember(self, rel: str, size: int, mtime_ns: int, crc32: int) -> None:
        """After a transfer: we know the content of the file we just wrote or sent."""
        self.files[rel] = {"size": size, "mtime_ns": mtime_ns, "crc32": crc32}
        self.dirty = True

    def md5(self, rel: str, path: Path, size: int, mtime_ns: int, hasher: Hasher) -> str:
        entry = self._entry(rel, size, mtime_ns)
        if "md5" not in entry:
            entry["md5"] = hasher.md5(path)
            self.dirty = True
        return str(entry["md5"])

    def multipart_etag(
        self, rel: str, path: Path, size: int, mtime_ns: int, part_size: int, hasher: Hasher
    ) -> str:
        entry = self._entry(rel, size, mtime_ns)
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
            text = json.dumps({"version": 1, "files": self.files}, sort_keys=True)
            write_text_atomic(self.path, text)
            self.dirty = False
        except OSError:
            pass


def local_listing(
    staging: Path,
    rules: FileRules,
    cache: ChecksumCache,
    hasher: Hasher,
    skipped: list[Skipped] | None = None,
    defer: Callable[[str], bool] | None = None,
) -> list[LocalEntry]:
    """Every file of s3-staging/ with its fingerprint (read only when not cached). Files for
    which `defer(rel)` is true are not read: their CRC32 stays None unless the cache knows it."""
    entries = []
    for f in walk(staging, rules, skipped):
        if defer is not None and defer(f.rel):
            crc = cache.known_crc32(f.rel, f.size, f.mtime_ns)
        else:
            crc = cache.crc32(f.rel, f.path, f.size, f.mtime_ns, hasher)
        entries.append(LocalEntry(f.rel, f.size, f.mtime_ns, crc))
    cache.prune(e.rel for e in entries)
    return entries


def resolve_foreign(
    remote: RemoteEntry,
    local: LocalEntry | None,
    staging: Path,
    cache: ChecksumCache,
    hasher: Hasher,
    part_size: int | None,
) -> RemoteEntry:
    """An object without a known CRC32: if this computer's file has the same size, compare bytes
    through the ETag (MD5, or multipart with the object's part size); when equal, the object's CRC32
    is the local one. Otherwise it stays unknown (= different from the local file)."""
    if remote.crc32 is not None or local is None or local.size != remote.size:
        return remote
    path = staging / local.rel
    if "-" in remote.etag:
        if not part_size:
            return remote
        ours = cache.multipart_etag(local.rel, path, local.size, local.mtime_ns, part_size, hasher)
    else:
        ours = cache.md5(local.rel, path, local.size, local.mtime_ns, hasher)
    if ours == remote.etag:
        return replace(remote, crc32=local.crc32)
    return remote


def state_dir(project_folder: Path) -> Path:
    return project_folder / STATE_DIR
