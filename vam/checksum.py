"""Whole-file checksums, read in large chunks with bounded memory."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from pathlib import Path

CHUNK = 8 * 1024 * 1024


def file_crc32(path: Path, on_bytes: Callable[[int], None] | None = None) -> int:
    """CRC32 of a whole file (the same value S3 keeps as a FULL_OBJECT CRC32 checksum)."""
    crc = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            crc = zlib.crc32(chunk, crc)
            if on_bytes:
                on_bytes(len(chunk))
    return crc


def file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
