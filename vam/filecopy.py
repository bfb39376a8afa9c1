"""Copying one file safely: to a temporary name in the target folder, checksummed on the way,
flushed to disk, mtime preserved, then renamed. A copy killed half-way leaves only a `*.vam-part`
file, never a partial file under the real name, and the next run simply starts that file again."""

from __future__ import annotations

import os
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

from vam.config import PARTIAL_SUFFIX

CHUNK = 8 * 1024 * 1024


def partial_path(dst: Path) -> Path:
    return dst.with_name(dst.name + PARTIAL_SUFFIX)


def copy_file_atomic(
    src: Path,
    dst: Path,
    *,
    on_bytes: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> int:
    """Copy src to dst atomically, preserving the mtime; returns the CRC32 of the bytes read."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(dst)
    crc = 0
    st = src.stat()
    with src.open("rb") as fin, tmp.open("wb") as fout:
        while block := fin.read(chunk):
            crc = zlib.crc32(block, crc)
            fout.write(block)
            if on_bytes:
                on_bytes(len(block))
        fout.flush()
        os.fsync(fout.fileno())
        if hasattr(os, "posix_fadvise"):
            # drop the cached pages so the verify pass re-reads what reached the disk
            os.posix_fadvise(fout.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, dst)
    return crc


def same_mtime(a_ns: int, b_ns: int) -> bool:
    """mtimes equal within 2 s: exFAT/FAT SSDs store mtimes at 2-second resolution."""
    return abs(a_ns - b_ns) < 2_000_000_000


def keep_copy(src: Path, dest: Path) -> Path:
    """`src` kept as `dest` before its name gets other bytes: a hard link (instant; an atomic
    replace then swaps the name, not these bytes), else a copy with its times."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)
    return dest
