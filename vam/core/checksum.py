"""Whole-file checksums, read in large chunks with bounded memory."""

from __future__ import annotations

import hashlib
import os
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from vam.core.crc import crc32_of_pieces
from vam.core.posio import read_into

CHUNK = 8 * 1024 * 1024
# Files from this size on are read as one segment per core (up to MAX_READERS) at once: zlib
# releases the GIL while it checksums, so a 1 GiB render is hashed in about half the time on two
# cores, and the segments' CRC32s combine into the whole file's.
PARALLEL_FROM = 64 * 1024 * 1024
MAX_READERS = 4


def file_crc32(path: Path, on_bytes: Callable[[int], None] | None = None) -> int:
    """CRC32 of a whole file (the same value S3 keeps as a FULL_OBJECT CRC32 checksum)."""
    with Path(path).open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        readers = min(MAX_READERS, os.cpu_count() or 1, max(1, size // (PARALLEL_FROM // 2)))
        if size < PARALLEL_FROM or readers < 2 or not hasattr(os, "preadv"):
            return _crc_sequential(fh, on_bytes)
        step = -(-size // readers)
        segments = [(start, min(step, size - start)) for start in range(0, size, step)]
        lock = threading.Lock()

        def count(n: int) -> None:
            if on_bytes:
                with lock:
                    on_bytes(n)

        def segment(bounds: tuple[int, int]) -> tuple[int, int]:
            start, length = bounds
            return crc32_of_range(fh.fileno(), start, length, count), length

        with ThreadPoolExecutor(len(segments), thread_name_prefix="vam-crc") as pool:
            pieces = list(pool.map(segment, segments))
    return crc32_of_pieces(pieces)


def _crc_sequential(fh, on_bytes: Callable[[int], None] | None) -> int:
    crc = 0
    buffer = memoryview(bytearray(CHUNK))
    while got := fh.readinto(buffer):
        crc = zlib.crc32(buffer[:got], crc)
        if on_bytes:
            on_bytes(got)
    return crc


def crc32_of_range(
    fd: int, start: int, length: int, on_bytes: Callable[[int], None] | None = None
) -> int:
    """CRC32 of `length` bytes of an open file from `start`, read at its offset (so several
    threads can share the descriptor) through one reused buffer."""
    crc = 0
    for piece in range_pieces(fd, start, length):
        crc = zlib.crc32(piece, crc)
        if on_bytes:
            on_bytes(len(piece))
    return crc


def range_pieces(fd: int, start: int, length: int) -> Iterator[memoryview]:
    """`length` bytes of an open file from `start`, in pieces of at most CHUNK read at their
    offset into one reused buffer (each piece is valid until the next is asked for), so a range
    of any size costs one buffer. OSError if the file ends before the range does."""
    buffer = memoryview(bytearray(max(1, min(CHUNK, length))))
    position, end = start, start + length
    while position < end:
        got = read_into(fd, buffer[: min(len(buffer), end - position)], position)
        if not got:
            raise OSError(f"the file shrank while its checksum was taken (at byte {position})")
        yield buffer[:got]
        position += got


def file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


MiB = 1024 * 1024


def file_md5(path: Path) -> str:
    """Hex MD5 of a file (a single-part S3 ETag)."""
    with Path(path).open("rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()


def multipart_etag(path: Path, part_size: int) -> str:
    """The ETag S3 gives a multipart upload of this file in parts of `part_size`: md5(md5s)-N."""
    if part_size <= 0:
        raise ValueError("part_size must be positive")
    digests = bytearray()
    count = 0
    with Path(path).open("rb") as fh:
        while True:
            md5 = hashlib.md5()
            remaining = part_size
            while remaining:
                chunk = fh.read(min(remaining, 8 * MiB))
                if not chunk:
                    break
                md5.update(chunk)
                remaining -= len(chunk)
            if remaining == part_size and count:
                break
            digests += md5.digest()
            count += 1
            if remaining:
                break
    return f"{hashlib.md5(bytes(digests)).hexdigest()}-{count}"
