"""Moving one file to or from S3, verified (SPEC §4 "Transfers").

STAND-IN: the simplest correct implementation of the transfer contract
(/work/briefs/transfer-contract.md): one PUT per upload, one GET per download. The transfer engine
(multipart, ranged GETs, resume, rate cap) replaces this module with the same names and meanings.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import botocore.exceptions as bce

from vam.config import PARTIAL_SUFFIX
from vam.errors import VamError
from vam.progress import NO_PROGRESS, Progress

META_UPLOADED_BY = "uploaded-by"
META_MTIME = "mtime-ns"
META_CRC32 = "crc32"
META_PART_SIZE = "part-size"
CHUNK = 1024 * 1024


class RemoteChanged(VamError):
    """A conditional write or read failed: the object changed (or appeared) since we looked."""


class ChangedDuringUpload(VamError):
    """The local file changed while it was being read; nothing was recorded."""


class IntegrityError(VamError):
    """Downloaded bytes do not match the expected checksum; the temp file was removed."""


@dataclass(frozen=True)
class Uploaded:
    key: str
    size: int
    etag: str
    crc32: int
    version_id: str | None
    part_size: int  # 0 = single PUT


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    etag: str
    crc32: int | None
    version_id: str | None


@dataclass(frozen=True)
class RemoteDetails:
    size: int
    etag: str
    crc32: int | None
    version_id: str | None
    uploaded_by: str | None
    mtime_ns: int | None
    last_modified: datetime
    part_size: int | None
    parts: int | None


def crc32_b64(crc: int) -> str:
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


def crc32_from_b64(text: str) -> int | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return int.from_bytes(raw, "big") if len(raw) == 4 else None


def full_object_crc32(response: dict, etag: str) -> int | None:
    """The whole-file CRC32 S3 reports, if it is one: a multipart object's checksum counts only
    when S3 says FULL_OBJECT (a COMPOSITE one is a checksum of part checksums)."""
    value = response.get("ChecksumCRC32")
    if not value or "-" in value:
        return None
    kind = response.get("ChecksumType")
    if kind == "FULL_OBJECT" or (kind is None and "-" not in etag):
        return crc32_from_b64(value)
    return None


def _precondition_failed(exc: bce.ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("PreconditionFailed", "412", "ConditionalRequestConflict") or status in (
        412,
        409,
    )


class _Throttle:
    def __init__(self, max_rate: int | None):
        self.max_rate = max_rate
        self.start = time.monotonic()
        self.sent = 0

    def __call__(self, nbytes: int) -> None:
        if not self.max_rate:
            return
        self.sent += nbytes
        ahead = self.sent / self.max_rate - (time.monotonic() - self.start)
        if ahead > 0:
            time.sleep(ahead)


class _ReadingCrc:
    """A file object for the PUT body that computes the CRC32 of the bytes actually sent."""

    def __init__(self, fh, name: str, size: int, progress: Progress, throttle: _Throttle):
        self.fh, self.name, self.size = fh, name, size
        self.progress, self.throttle = progress, throttle
        self.crc, self.sent = 0, 0

    def read(self, n: int = -1) -> bytes:
        # never more than the announced length (a file that grew), and a file that shrank must
        # abort the request: the server would otherwise wait forever for the missing bytes
        left = self.size - self.sent
        data = self.fh.read(left if n is None or n < 0 else min(n, left))
        if not data and left > 0:
            raise ChangedDuringUpload(
                f"{self.name} changed while it was being uploaded (it got shorter); nothing "
                "recorded, run the same command again once it is saved"
            )
        self.crc = zlib.crc32(data, self.crc)
        self.sent += len(data)
        self.progress.advance(self.name, len(data))
        self.throttle(len(data))
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        pos = self.fh.seek(offset, whence)
        if pos == 0:  # botocore rewinds on a retry: start counting again
            self.progress.advance(self.name, -self.sent)
            self.crc, self.sent = 0, 0
        return pos

    def tell(self) -> int:
        return self.fh.tell()


def upload_file(
    s3,
    bucket: str,
    key: str,
    path: Path,
    *,
    crc32: int,
    metadata: dict[str, str],
    if_match: str | None = None,
    if_none_match: bool = False,
    progress: Progress = NO_PROGRESS,
    max_rate: int | None = None,
    state_dir: Path | None = None,
) -> Uploaded:
    before = path.stat()
    meta = {**metadata, META_CRC32: f"{crc32:08x}", META_PART_SIZE: "0"}
    extra: dict = {}
    if if_match:
        extra["IfMatch"] = f'"{if_match}"'
    if if_none_match:
        extra["IfNoneMatch"] = "*"
    progress.start_file(key, before.st_size)
    ok = False
    try:
        with path.open("rb") as fh:
            body = _ReadingCrc(fh, key, before.st_size, progress, _Throttle(max_rate))
            try:
                resp = s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ContentLength=before.st_size,
                    ChecksumCRC32=crc32_b64(crc32),
                    Metadata=meta,
                    **extra,
                )
            except bce.ClientError as exc:
                if _precondition_failed(exc):
                    raise RemoteChanged(
                        f"{key} changed in S3 since it was listed; nothing was overwritten"
                    ) from None
                raise
        after = path.stat()
        if (
            body.crc != crc32
            or after.st_size != before.st_size
            or after.st_mtime_ns != before.st_mtime_ns
        ):
            raise ChangedDuringUpload(
                f"{path} changed while it was being uploaded; nothing recorded, run the same "
                "command again once it is saved"
            )
        ok = True
        return Uploaded(
            key=key,
            size=before.st_size,
            etag=str(resp.get("ETag", "")).strip('"'),
            crc32=crc32,
            version_id=resp.get("VersionId"),
            part_size=0,
        )
    finally:
        progress.end_file(key, ok)


def head_checksum(s3, bucket: str, key: str) -> RemoteDetails:
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    meta = {k.lower(): v for k, v in head.get("Metadata", {}).items()}
    etag = str(head.get("ETag", "")).strip('"')
    crc: int | None = None
    if META_CRC32 in meta:
        try:
            crc = int(meta[META_CRC32], 16)
        except ValueError:
            crc = None
    if crc is None:
        crc = full_object_crc32(head, etag)
    parts: int | None = None
    part_size: int | None = None
    if "-" in etag:
        try:
            parts = int(etag.rsplit("-", 1)[1])
        except ValueError:
            parts = None
        if meta.get(META_PART_SIZE, "0").isdigit() and int(meta.get(META_PART_SIZE, "0")) > 0:
            part_size = int(meta[META_PART_SIZE])
        else:
            first = s3.head_object(Bucket=bucket, Key=key, PartNumber=1)
            part_size = int(first["ContentLength"])
            parts = int(first.get("PartsCount") or parts or 1)
    mtime = meta.get(META_MTIME)
    return RemoteDetails(
        size=int(head["ContentLength"]),
        etag=etag,
        crc32=crc,
        version_id=head.get("VersionId"),
        uploaded_by=meta.get(META_UPLOADED_BY),
        mtime_ns=int(mtime) if mtime and mtime.isdigit() else None,
        last_modified=head["LastModified"],
        part_size=part_size,
        parts=parts,
    )


def file_md5(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()


def multipart_etag(path: Path, part_size: int) -> str:
    """The ETag S3 gives a multipart upload of this file with this part size: md5(md5s)-N."""
    digests = []
    with path.open("rb") as fh:
        while True:
            part = hashlib.md5()
            left = part_size
            while left > 0:
                chunk = fh.read(min(CHUNK, left))
                if not chunk:
                    break
                part.update(chunk)
                left -= len(chunk)
            if left == part_size:
                break
            digests.append(part.digest())
    if not digests:
        digests.append(hashlib.md5(b"").digest())
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def download_file(
    s3,
    bucket: str,
    key: str,
    dest: Path,
    *,
    size: int,
    etag: str,
    crc32: int | None = None,
    mtime_ns: int | None = None,
    progress: Progress = NO_PROGRESS,
    max_rate: int | None = None,
    state_dir: Path | None = None,
) -> Downloaded:
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = dest.with_name(dest.name + PARTIAL_SUFFIX)
    throttle = _Throttle(max_rate)
    progress.start_file(key, size)
    ok = False
    try:
        try:
            resp = s3.get_object(
                Bucket=bucket, Key=key, IfMatch=f'"{etag}"', ChecksumMode="ENABLED"
            )
        except bce.ClientError as exc:
            if _precondition_failed(exc):
                raise RemoteChanged(
                    f"{key} changed in S3 since it was listed; run the same command again"
                ) from None
            raise
        crc, md5, got = 0, hashlib.md5(), 0
        with temp.open("wb") as fh:
            for chunk in resp["Body"].iter_chunks(CHUNK):
                fh.write(chunk)
                crc = zlib.crc32(chunk, crc)
                md5.update(chunk)
                got += len(chunk)
                progress.advance(key, len(chunk))
                throttle(len(chunk))
            fh.flush()
            os.fsync(fh.fileno())
        expected = crc32 if crc32 is not None else full_object_crc32(resp, etag)
        if got != size:
            bad = f"{got} bytes instead of {size}"
        elif expected is not None:
            bad = "" if crc == expected else f"CRC32 {crc:08x} instead of {expected:08x}"
        elif "-" not in etag:
            bad = "" if md5.hexdigest() == etag else "MD5 does not match the ETag"
        else:
            part_size = int(s3.head_object(Bucket=bucket, Key=key, PartNumber=1)["ContentLength"])
            bad = "" if multipart_etag(temp, part_size) == etag else "multipart ETag does not match"
        if bad:
            raise IntegrityError(
                f"download of {key} is corrupt ({bad}); nothing was replaced, run the same command "
                "again"
            )
        os.replace(temp, dest)
        if mtime_ns is not None:
            os.utime(dest, ns=(mtime_ns, mtime_ns))
        ok = True
        return Downloaded(
            path=dest, size=got, etag=etag, crc32=crc, version_id=resp.get("VersionId")
        )
    finally:
        if not ok:
            temp.unlink(missing_ok=True)
        progress.end_file(key, ok)
