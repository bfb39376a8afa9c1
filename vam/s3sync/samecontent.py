"""Proven the same in S3: does a file on disk hold an S3 object's bytes? One answer for the sync's
scan (an object another tool uploaded, compared with this computer's file) and for
`ssd.archive --cleanup-s3` (an object compared with its SSD copy before it is deleted).

The evidence, in order: the size (different sizes: different); a single-part ETag, which is the
object's MD5; vam's CRC32 of exactly that version (from its index, or its metadata); a multipart
ETag recomputed with the object's part size. Without any of these the answer is "cannot tell",
and nothing may be deleted or taken as synced on it. Never size alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

from vam.core.checksum import file_crc32, file_md5, multipart_etag


class Answer(Enum):
    SAME = "same"
    DIFFERENT = "different"
    CANNOT_TELL = "cannot tell"


@dataclass(frozen=True)
class Proof:
    answer: Answer
    by: str = ""  # what decided it: "size", "MD5", "CRC32" or "multipart ETag"

    @property
    def same(self) -> bool:
        return self.answer is Answer.SAME


class FileOnDisk(Protocol):
    """A file, and how its checksums are read (straight off the disk, or through the sync's
    checksum cache, fingerprint.py)."""

    @property
    def size(self) -> int: ...

    def crc32(self) -> int: ...

    def md5(self) -> str: ...

    def multipart_etag(self, part_size: int) -> str: ...


@dataclass(frozen=True)
class OnDisk:
    """A file read as it is now (an SSD copy: no cache speaks for it)."""

    path: Path

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def crc32(self) -> int:
        return file_crc32(self.path)

    def md5(self) -> str:
        return file_md5(self.path)

    def multipart_etag(self, part_size: int) -> str:
        return multipart_etag(self.path, part_size)


def same_content(
    file: FileOnDisk,
    *,
    size: int,
    etag: str,
    crc32: int | None = None,
    part_size: int | None = None,
) -> Proof:
    """Whether `file` holds the bytes of the S3 object of `size` and `etag`. `crc32`: vam's CRC32
    of that very version, when known; `part_size`: the object's part size, when it is multipart
    and known. Reads the file at most once."""
    if file.size != size:
        return Proof(Answer.DIFFERENT, "size")
    if etag and "-" not in etag:
        return _compare(file.md5(), etag.lower(), "MD5")
    if crc32 is not None:
        return _compare(file.crc32(), crc32, "CRC32")
    if etag and part_size:
        return _compare(file.multipart_etag(part_size), etag, "multipart ETag")
    return Proof(Answer.CANNOT_TELL)


def _compare(ours: object, theirs: object, by: str) -> Proof:
    return Proof(Answer.SAME if ours == theirs else Answer.DIFFERENT, by)
