"""Copying one file safely: to a temporary name in the target folder, checksummed on the way,
flushed to the disk itself (F_FULLFSYNC on macOS), mtime preserved, then renamed and the folder
fsynced, so a copy vam reports done survives a power cut. A copy killed half-way leaves only a
`*.vam-part` file, never a partial file under the real name, and the next run simply starts that
file again. New folders are made the same way: each one's entry in its parent is on the disk
before anything is put in it."""

from __future__ import annotations

import errno
import os
import zlib
from collections.abc import Callable
from pathlib import Path

from vam.core import durable
from vam.core.layout import PARTIAL_SUFFIX

CHUNK = 8 * 1024 * 1024


def partial_path(dst: Path) -> Path:
    return dst.with_name(dst.name + PARTIAL_SUFFIX)


def make_folders(folder: Path) -> None:
    """`mkdir -p folder`, each folder it creates made durable in its parent (fsync, POSIX)."""
    missing = []
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        durable.fsync_dir(new.parent)


def copy_file_atomic(
    src: Path,
    dst: Path,
    *,
    on_bytes: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
    exclusive: bool = False,
) -> int:
    """Copy src to dst atomically and durably, preserving the mtime; returns the CRC32 of the
    bytes read. With `exclusive`, a file that appears at dst meanwhile is never replaced:
    FileExistsError, and the copy is removed."""
    make_folders(dst.parent)
    tmp = partial_path(dst)
    crc = 0
    st = src.stat()
    times = (st.st_atime_ns, st.st_mtime_ns)
    with src.open("rb") as fin, tmp.open("wb") as fout:
        while block := fin.read(chunk):
            crc = zlib.crc32(block, crc)
            fout.write(block)
            if on_bytes:
                on_bytes(len(block))
        fout.flush()
        if os.utime in os.supports_fd:
            os.utime(fout.fileno(), ns=times)  # before the flush, so the mtime is durable too
        durable.flush(fout.fileno())
    if os.utime not in os.supports_fd:  # Windows
        os.utime(tmp, ns=times)
    if exclusive:
        _rename_new(tmp, dst)
    else:
        durable.replace(tmp, dst)
    return crc


def _rename_new(tmp: Path, dst: Path) -> None:
    """tmp renamed to dst only if dst does not exist: a hard link fails atomically when it does;
    where the file system has no hard links (exFAT, FAT32), a check right before the rename."""
    try:
        os.link(tmp, dst)
    except FileExistsError:
        _taken(tmp, dst)
    except OSError:
        if os.path.lexists(dst):
            _taken(tmp, dst)
        durable.replace(tmp, dst)
        return
    tmp.unlink()
    durable.fsync_dir(dst.parent)


def _taken(tmp: Path, dst: Path) -> None:
    tmp.unlink(missing_ok=True)
    raise FileExistsError(errno.EEXIST, "appeared while it was being copied", str(dst))


def same_mtime(a_ns: int, b_ns: int) -> bool:
    """mtimes equal within 2 s: exFAT/FAT SSDs store mtimes at 2-second resolution."""
    return abs(a_ns - b_ns) < 2_000_000_000


def keep_copy(src: Path, dest: Path) -> Path:
    """`src` kept as `dest` (or `dest (2)`… when that name is taken: a backup never replaces
    another) before its name gets other bytes: a hard link (instant; an atomic replace then swaps
    the name, not these bytes), else a copy with its times. Either way the new name is on the
    disk before this returns, so the replace that follows cannot outlive it in a power cut; a
    copy killed half-way leaves a `*.vam-part`, never a torn backup. Returns the name used."""
    make_folders(dest.parent)
    for n in range(1, 1000):
        name = dest if n == 1 else dest.with_name(f"{dest.stem} ({n}){dest.suffix}")
        try:
            os.link(src, name)
        except FileExistsError:
            continue
        except OSError:  # no hard links here (exFAT, FAT32, some shares): a durable copy
            try:
                copy_file_atomic(src, name, exclusive=True)
            except FileExistsError:
                continue
            return name
        durable.fsync_dir(name.parent)
        return name
    raise FileExistsError(errno.EEXIST, "no free name for the backup", str(dest))
