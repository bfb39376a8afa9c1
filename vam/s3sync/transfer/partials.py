"""Partial downloads: the `.vam-part` files an interrupted download left and its record vouches
for, how much of one a re-run keeps, and the one line for a download the disk had no room for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vam.core.layout import PARTIAL_SUFFIX
from vam.core.units import format_size
from vam.s3sync.transfer.records import read_record, record_path
from vam.s3sync.transfer.values import DiskFull


@dataclass(frozen=True)
class PartialDownload:
    dest: Path  # the file it will become
    temp: Path  # the `.vam-part` file on disk
    size: int  # the whole object's size
    done: int  # bytes the record vouches for (a re-run fetches only the rest)
    record: Path  # its resume record in the project's .vam/downloads/


def download_record(state_dir: Path | None, bucket: str, key: str, dest: Path) -> Path | None:
    """Where the resume record of downloading `key` to `dest` lives (None: no state_dir)."""
    return record_path(state_dir, "downloads", bucket, key, str(Path(dest).absolute()))


def partial_downloads(state_dir: Path) -> list[PartialDownload]:
    """The interrupted downloads of a project that a re-run resumes, from their records."""
    found = []
    for path in sorted((Path(state_dir) / "downloads").glob("*.json")):
        record = read_record(path)
        if not record or not record.get("dest"):
            continue
        dest = Path(str(record["dest"]))
        temp = dest.with_name(dest.name + PARTIAL_SUFFIX)
        if temp.exists():
            size = int(record.get("size", 0))
            found.append(PartialDownload(dest, temp, size, resumable_bytes(path), path))
    return found


def disk_full(dest: Path, size: int, have: int) -> DiskFull:
    """The one line for a download the disk had no room for, naming what is kept to resume."""
    temp = dest.with_name(dest.name + PARTIAL_SUFFIX)
    kept = f"{format_size(have)} of {format_size(size)} kept in {temp} to resume"
    if not temp.exists():
        kept = "nothing kept"
    return DiskFull(
        f"disk full while downloading {dest.name}: {kept}; free at least "
        f"{format_size(size - have)} in {dest.parent} and run the same command again"
    )


def resumable_download(
    state_dir: Path | None, bucket: str, key: str, dest: Path, etag: str, size: int
) -> int:
    """Bytes of this version of `key` already on disk for `dest` from an interrupted run."""
    path = download_record(state_dir, bucket, key, dest)
    record = read_record(path)
    temp = Path(dest).with_name(Path(dest).name + PARTIAL_SUFFIX)
    if record is None or record.get("etag") != etag.strip('"') or record.get("size") != size:
        return 0
    return resumable_bytes(path) if temp.exists() else 0


def resumable_bytes(path: Path | None) -> int:
    """How many bytes of a partial download its record vouches for (written and fsynced)."""
    record = read_record(path)
    try:
        return sum(int(v) for v in (record or {}).get("done", {}).values())
    except (TypeError, ValueError, AttributeError):
        return 0
