"""What the engine gives back and raises: the metadata names it writes on objects, the results
of an upload, a download and a HEAD, and the errors a caller turns into one line for a person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from vam.core.errors import VamError

META_UPLOADED_BY = "uploaded-by"
META_MTIME = "mtime-ns"
META_CRC32 = "crc32"
META_PART_SIZE = "part-size"


class RemoteChanged(VamError):
    """A conditional write or read failed: the object changed (or appeared) since we looked."""


class ChangedDuringUpload(VamError):
    """The local file changed while it was being read; nothing was recorded as uploaded."""


class IntegrityError(VamError):
    """Downloaded bytes do not match the expected checksum; the temporary file was removed."""


class NotPublished(VamError):
    """Raised by a download's `publish` step when it put the verified file somewhere other than
    its name (the local file changed meanwhile): the transfer is over, its record goes."""


class Stalled(VamError):
    """The link kept failing and nothing moved for tuning.STALL_SECONDS; what arrived is kept."""


class DiskFull(VamError):
    """No space left for a download; what arrived is kept as a resumable partial file."""


@dataclass(frozen=True)
class Uploaded:
    key: str
    size: int
    etag: str
    crc32: int
    version_id: str | None
    part_size: int  # 0 = single PUT
    resumed_bytes: int = 0  # parts already on S3 from an interrupted run, verified and kept


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    etag: str
    crc32: int | None
    version_id: str | None
    resumed_bytes: int = 0  # bytes already in the partial file from an interrupted run
    published: Any = None  # what the `publish` step returned (the sync core: a backup's path)


@dataclass(frozen=True)
class RemoteDetails:
    size: int
    etag: str
    crc32: int | None  # S3's FULL_OBJECT CRC32, else our x-amz-meta-crc32, else None
    version_id: str | None
    uploaded_by: str | None
    mtime_ns: int | None
    last_modified: datetime
    part_size: int | None  # multipart objects only: from metadata, else HEAD PartNumber=1
    parts: int | None  # multipart objects only
