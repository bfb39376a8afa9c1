"""The transfer engine: how one file goes up to or comes down from S3, resumably and verified.

Uploads below SINGLE_PUT_LIMIT are one PUT; larger files are multipart uploads with a FULL_OBJECT
CRC32 (S3 validates it on completion) and per-part CRC32s. The multipart upload is recorded in
`state_dir/uploads/` before the first part goes out and survives Ctrl-C, crashes and network loss:
the next call lists the parts already on S3, checks each against the local bytes and sends only
what is missing. Downloads are a few large ranged GETs (each with If-Match on the ETag) written in
place into `<name>.vam-part`, with a small record in `state_dir/downloads/` so a re-run continues
from the bytes on disk; the whole file is verified before it takes its real name.

Memory: an upload holds at most PART_MEMORY bytes of part buffers (parts are read with pread, the
file never as a whole); downloads stream in chunks of at most 1 MiB per worker.

Which sync decisions to take is the sync core's job; this module only moves bytes safely.
"""

from __future__ import annotations

import binascii
import errno
import hashlib
import io
import json
import os
import random
import re
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import botocore.exceptions as bce

from vam.core import durable
from vam.core.checksum import crc32_of_range, file_md5, multipart_etag
from vam.core.crc import crc32_b64, crc32_from_b64, crc32_hex, crc32_of_pieces
from vam.core.errors import NotFoundError, VamError
from vam.core.files import Stamp
from vam.core.layout import PARTIAL_SUFFIX
from vam.core.posio import read_at, read_into, write_at
from vam.core.units import format_size
from vam.s3sync.transfer.progress import NO_PROGRESS, Progress
from vam.s3sync.transfer.ratelimit import RateLimiter, limiter_for

META_UPLOADED_BY = "uploaded-by"
META_MTIME = "mtime-ns"
META_CRC32 = "crc32"
META_PART_SIZE = "part-size"

MiB = 1024 * 1024
# Tunables; tests lower them (moto's minimum part size can be lowered the same way).
SINGLE_PUT_LIMIT = 16 * MiB  # below this: one PUT
MIN_PART_SIZE = 16 * MiB  # S3's own minimum is 5 MiB; larger parts mean fewer requests
MAX_PARTS = 10_000  # S3's limit
PART_MEMORY = 32 * MiB  # part buffers in flight at once, whatever the file size (2 of 16 MiB)
MAX_UPLOAD_WORKERS = 8
DOWNLOAD_RANGE = 64 * MiB  # largest ranged GET (few large ranges: cheap on S3 and on moto)
MIN_DOWNLOAD_RANGE = 8 * MiB
DOWNLOAD_WORKERS = 4
DOWNLOAD_CHUNK = 1 * MiB
CHECKPOINT_BYTES = 64 * MiB  # a download range asks for a checkpoint this often…
CHECKPOINT_SECONDS = 2.0  # …and the checkpointer saves at least this often anyway
ATTEMPTS = 4  # our own tries per part/range on a dropped connection, on top of botocore's
BACKOFF_SECONDS = 0.5

_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")
_MULTIPART_ETAG = re.compile(r"^[0-9a-f]{32}-(\d+)$")


class RemoteChanged(VamError):
    """A conditional write or read failed: the object changed (or appeared) since we looked."""


class ChangedDuringUpload(VamError):
    """The local file changed while it was being read; nothing was recorded as uploaded."""


class IntegrityError(VamError):
    """Downloaded bytes do not match the expected checksum; the temporary file was removed."""


class NotPublished(VamError):
    """Raised by a download's `publish` step when it put the verified file somewhere other than
    its name (the local file changed meanwhile): the transfer is over, its record goes."""


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


# --------------------------------------------------------------------------- small helpers


def _quoted(etag: str) -> str:
    return f'"{etag.strip(chr(34))}"'


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, bce.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _status(exc: BaseException) -> int | None:
    if isinstance(exc, bce.ClientError):
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def _precondition_failed(exc: BaseException) -> bool:
    return _error_code(exc) == "PreconditionFailed" or _status(exc) == 412


def _not_found(exc: BaseException) -> bool:
    return _error_code(exc) in ("404", "NoSuchKey", "NotFound") or _status(exc) == 404


_RETRYABLE_CODES = {
    "RequestTimeout",
    "InternalError",
    "SlowDown",
    "ServiceUnavailable",
    "500",
    "503",
}


def _retryable(exc: BaseException) -> bool:
    """A dropped or timed-out connection, or S3 still busy after botocore's own retries."""
    if isinstance(exc, (bce.ConnectionError, bce.HTTPClientError, ConnectionError, TimeoutError)):
        return True
    return _error_code(exc) in _RETRYABLE_CODES


class _Stopped(BaseException):
    """Another worker failed or the user interrupted: stop sending as soon as possible.

    A BaseException on purpose: botocore wraps any Exception raised while the body is being sent
    into a retryable HTTPClientError and would retry it; this one passes through untouched."""


class _BodyFailed(BaseException):
    """Carries an exception from our own code (progress, rate limiter) out of the HTTP stack."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


T = TypeVar("T")


def _with_retries(call: Callable[[], T], stop: threading.Event) -> T:
    for attempt in range(ATTEMPTS):
        try:
            return call()
        except Exception as exc:
            if attempt == ATTEMPTS - 1 or stop.is_set() or not _retryable(exc):
                raise
        time.sleep(BACKOFF_SECONDS * (2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- metering
# Bytes are counted (and rate-capped) where they actually leave: botocore hands the request body
# to urllib3 after signing; a `before-send` hook wraps it so every read by the HTTP layer is
# paced and reported. A retry rewinds the body, which takes the reported bytes back.


class _StopFlag:
    """Set when this transfer must stop: by its own workers (one failed), or from outside through
    the caller's `cancel` event (the user pressed Ctrl-C while several files were moving)."""

    def __init__(self, cancel: threading.Event | None) -> None:
        self._own = threading.Event()
        self._cancel = cancel

    def set(self) -> None:
        self._own.set()

    def is_set(self) -> bool:
        return self._own.is_set() or (self._cancel is not None and self._cancel.is_set())


class _Meter:
    """What the worker threads of one transfer share."""

    def __init__(
        self,
        name: str,
        progress: Progress,
        limiter: RateLimiter | None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.name = name
        self.progress = progress
        self.limiter = limiter
        self.stop = _StopFlag(cancel)
        self.sent = 0  # request body bytes handed to the HTTP layer (retries taken back)
        self._sent_changed = threading.Condition()

    def note_sent(self, nbytes: int) -> None:
        with self._sent_changed:
            self.sent += nbytes
            self._sent_changed.notify_all()

    def wait_sent(self, threshold: int, give_up: threading.Event) -> None:
        """Block until `threshold` bytes went out, the transfer stops, or `give_up` is set."""
        with self._sent_changed:
            while self.sent < threshold and not self.stop.is_set() and not give_up.is_set():
                self._sent_changed.wait(0.2)


class _Call:
    """Bytes reported during one request (taken back if the request fails)."""

    def __init__(self, meter: _Meter) -> None:
        self.meter = meter
        self.reported = 0

    def report(self, nbytes: int) -> None:
        if nbytes:
            self.reported += nbytes
            self.meter.note_sent(nbytes)
            self.meter.progress.advance(self.meter.name, nbytes)


_local = threading.local()


class _MeteredBody(io.RawIOBase):
    def __init__(self, raw: Any, call: _Call) -> None:
        super().__init__()
        self._raw = raw
        self._call = call
        self._high = raw.tell()  # bytes up to here have been reported
        self._start = self._high

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        meter = self._call.meter
        if meter.stop.is_set():
            raise _Stopped()
        if meter.limiter is not None:
            step = meter.limiter.chunk_size()
            size = step if size is None or size < 0 else min(size, step)
        data = self._raw.read(size)
        if data:
            try:
                if meter.limiter is not None:
                    meter.limiter.acquire(len(data))
                position = self._raw.tell()
                if position > self._high:
                    self._call.report(position - self._high)
                    self._high = position
            except Exception as exc:
                raise _BodyFailed(exc) from exc
        return data

    def readinto(self, buffer: Any) -> int:  # pragma: no cover - urllib3 uses read()
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._raw.seek(offset, whence)
        if position < self._high:  # a retry rewinds: those bytes will be sent again
            back = self._high - max(position, self._start)
            if back > 0:
                self._call.report(-back)
            self._high = max(position, self._start)
        return position

    def tell(self) -> int:
        return self._raw.tell()


def _meter_body(request: Any, **_: Any) -> None:
    call = getattr(_local, "call", None)
    if call is None or request.body is None or isinstance(request.body, _MeteredBody):
        return
    body = request.body
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = io.BytesIO(body)
    request.body = _MeteredBody(body, call)


def _install_meter(s3: Any) -> None:
    unsigned = _unsigned_payload_handler(s3)
    for operation in ("PutObject", "UploadPart"):
        s3.meta.events.register(
            f"before-send.s3.{operation}", _meter_body, unique_id=f"vam-meter-{operation}"
        )
        if unsigned is not None:
            s3.meta.events.register(
                f"before-sign.s3.{operation}", unsigned, unique_id=f"vam-unsigned-{operation}"
            )


_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _unsigned_payload_handler(s3: Any) -> Callable[..., None] | None:
    """On a loopback endpoint, sign uploads the way botocore signs them over HTTPS.

    botocore leaves the body out of the SigV4 signature ("UNSIGNED-PAYLOAD") when the request is
    HTTPS and carries a checksum header, and SHA256-hashes every byte otherwise, i.e. on any plain
    HTTP endpoint. Every part vam sends carries x-amz-checksum-crc32 (checked by S3, and again as
    the whole-file CRC32 on completion), so on 127.0.0.1/::1, where no network lies between us and
    the server, the extra SHA256 pass protects nothing and costs a CPU second per GiB. Remote
    plain-HTTP endpoints keep the signed payload: there it guards against tampering in transit."""
    from urllib.parse import urlsplit

    host = urlsplit(str(getattr(s3.meta, "endpoint_url", "") or "")).hostname or ""
    if host not in _LOOPBACK_HOSTS and not host.startswith("127."):
        return None
    base = s3.meta.config
    unsigned_config = base.merge(
        type(base)(s3={**(getattr(base, "s3", None) or {}), "payload_signing_enabled": False})
    )

    def unsigned(request: Any, **_: Any) -> None:
        if "x-amz-checksum-crc32" in {k.lower() for k in request.headers.keys()}:
            request.context["client_config"] = unsigned_config

    return unsigned


def _metered(meter: _Meter, fn: Callable[..., T], **kwargs: Any) -> T:
    """Call fn on this thread with its request body metered; a failure takes its bytes back."""
    call = _Call(meter)
    _local.call = call
    try:
        return fn(**kwargs)
    except _BodyFailed as failed:
        call.report(-call.reported)
        raise failed.error from None
    except BaseException:
        call.report(-call.reported)
        raise
    finally:
        _local.call = None


# --------------------------------------------------------------------------- state records


def _record_path(state_dir: Path | None, kind: str, *identity: str) -> Path | None:
    if state_dir is None:
        return None
    digest = hashlib.sha256("\0".join(identity).encode("utf-8")).hexdigest()[:32]
    return Path(state_dir) / kind / f"{digest}.json"


def _read_record(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # missing or unreadable: start over, the server side is checked anyway
    return data if isinstance(data, dict) else None


def _write_record(path: Path | None, data: dict) -> None:
    """Replace the record in one step. On a full disk the temporary file goes again and the old
    record stays (it never claims more than it did), so nothing of ours keeps the disk full."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True).encode("utf-8")
    temp = path.with_name(path.name + ".tmp")
    try:
        temp.write_bytes(text)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc.errno != errno.ENOSPC or not path.exists():
            raise
        _rewrite_in_place(path, text)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _rewrite_in_place(path: Path, text: bytes) -> None:
    """On a full disk a new file cannot be made, but the record's own block can be rewritten.
    Not atomic: a record torn by a crash does not parse, and the download then starts over, so
    it can never claim bytes that are not on the disk."""
    with open(path, "r+b") as fh:
        fh.write(text)
        fh.truncate()


@dataclass(frozen=True)
class PartialDownload:
    dest: Path  # the file it will become
    temp: Path  # the `.vam-part` file on disk
    size: int  # the whole object's size
    done: int  # bytes the record vouches for (a re-run fetches only the rest)
    record: Path  # its resume record in the project's .vam/downloads/


def partial_downloads(state_dir: Path) -> list[PartialDownload]:
    """The interrupted downloads of a project that a re-run resumes, from their records."""
    found = []
    for path in sorted((Path(state_dir) / "downloads").glob("*.json")):
        record = _read_record(path)
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
    path = _record_path(state_dir, "downloads", bucket, key, str(Path(dest).absolute()))
    record = _read_record(path)
    temp = Path(dest).with_name(Path(dest).name + PARTIAL_SUFFIX)
    if record is None or record.get("etag") != etag.strip('"') or record.get("size") != size:
        return 0
    return resumable_bytes(path) if temp.exists() else 0


def resumable_bytes(path: Path | None) -> int:
    """How many bytes of a partial download its record vouches for (written and fsynced)."""
    record = _read_record(path)
    try:
        return sum(int(v) for v in (record or {}).get("done", {}).values())
    except (TypeError, ValueError, AttributeError):
        return 0


def _drop_record(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- checksums


def _etag_of_parts(etags: list[str]) -> str | None:
    """The final ETag of a multipart upload from its part ETags (MD5s), as S3 computes it."""
    try:
        joined = b"".join(binascii.unhexlify(e.strip('"')) for e in etags)
    except (binascii.Error, ValueError):
        return None
    return f"{hashlib.md5(joined).hexdigest()}-{len(etags)}"


def head_checksum(s3: Any, bucket: str, key: str) -> RemoteDetails:
    """Everything needed to compare an object by content, from one HEAD (two for multipart
    objects uploaded by other tools, whose part size only HEAD PartNumber=1 reveals)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except bce.ClientError as exc:
        if _not_found(exc):
            raise NotFoundError(
                f"s3://{bucket}/{key} does not exist (any more); run s3.status to see what changed"
            ) from None
        raise
    etag = str(head.get("ETag", "")).strip('"')
    meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
    multipart = _MULTIPART_ETAG.match(etag)
    crc: int | None = None
    checksum_type = head.get("ChecksumType")
    if head.get("ChecksumCRC32") and (
        checksum_type == "FULL_OBJECT" or (checksum_type is None and not multipart)
    ):
        crc = crc32_from_b64(head["ChecksumCRC32"])
    if crc is None and re.fullmatch(r"[0-9a-fA-F]{8}", meta.get(META_CRC32, "")):
        crc = int(meta[META_CRC32], 16)
    part_size = parts = None
    if multipart:
        parts = int(multipart.group(1))
        declared = meta.get(META_PART_SIZE, "")
        if declared.isdigit() and int(declared) > 0:
            part_size = int(declared)
        else:
            # (no If-Match here: moto compares it with the part's ETag, not the object's)
            first = s3.head_object(Bucket=bucket, Key=key, PartNumber=1)
            part_size = int(first["ContentLength"])
            parts = int(first.get("PartsCount") or parts)
    mtime = meta.get(META_MTIME, "")
    return RemoteDetails(
        size=int(head["ContentLength"]),
        etag=etag,
        crc32=crc,
        version_id=head.get("VersionId"),
        uploaded_by=meta.get(META_UPLOADED_BY),
        mtime_ns=int(mtime) if mtime.isdigit() else None,
        last_modified=head["LastModified"],
        part_size=part_size,
        parts=parts,
    )


# --------------------------------------------------------------------------- uploads


def part_size_for(size: int) -> int:
    """Smallest power-of-two multiple of MIN_PART_SIZE that keeps the upload within MAX_PARTS."""
    part = MIN_PART_SIZE
    while -(-size // part) > MAX_PARTS:
        part *= 2
    return part


def _upload_workers(part_size: int, parts: int) -> int:
    return max(1, min(MAX_UPLOAD_WORKERS, PART_MEMORY // part_size, parts))


def _check_precondition(
    s3: Any, bucket: str, key: str, if_match: str | None, if_none_match: bool
) -> None:
    """HEAD the key and raise RemoteChanged if the caller's condition no longer holds."""
    if not if_match and not if_none_match:
        return
    try:
        current = str(s3.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')
    except bce.ClientError as exc:
        if not _not_found(exc):
            raise
        current = None
    if if_none_match and current is not None:
        raise RemoteChanged(
            f"s3://{bucket}/{key} appeared while uploading (someone else uploaded it); nothing was "
            "overwritten: run s3.status to compare the two versions"
        )
    if if_match and current != if_match.strip('"'):
        raise RemoteChanged(
            f"s3://{bucket}/{key} changed on S3 since it was compared (someone else uploaded a new "
            "version); nothing was overwritten: run s3.status to compare the two versions"
        )


def _changed(path: Path, why: str) -> ChangedDuringUpload:
    return ChangedDuringUpload(
        f"{path} changed while it was being uploaded ({why}); nothing was recorded as uploaded: "
        "let the program writing it finish, then run the same command again"
    )


def _remote_changed(bucket: str, key: str) -> RemoteChanged:
    return RemoteChanged(
        f"s3://{bucket}/{key} changed on S3 since it was compared (a conditional write was "
        "refused); nothing was overwritten: run s3.status to compare the two versions"
    )


def upload_file(
    s3: Any,
    bucket: str,
    key: str,
    path: Path,
    *,
    crc32: int | None,
    metadata: dict[str, str],
    if_match: str | None = None,
    if_none_match: bool = False,
    progress: Progress = NO_PROGRESS,
    max_rate: int | None = None,
    state_dir: Path | None = None,
    planned: Stamp | None = None,
    cancel: threading.Event | None = None,
    head_first: bool = False,
) -> Uploaded:
    """Upload `path` to `key`, verified against `crc32`, resumably when `state_dir` is given.

    `crc32` None: nobody read the file yet (a new file); its CRC32 is taken from the bytes as
    they are sent, and a change while sending is caught by size and mtime. A multipart upload
    then carries no crc32 metadata (it is fixed when the upload starts): S3 keeps the FULL_OBJECT
    CRC32 and vam's index the value, and on servers that keep neither the ETag still verifies.
    `planned` = the stamp the plan saw: a file saved since is refused before sending; the file's
    stamp must be the same again once the bytes are out (a save in place with its mtime put back
    still moves the ctime), or the upload is not recorded.
    `cancel`, once set, stops the transfer within a chunk (the caller re-raises its reason).
    `head_first`: the server ignores If-Match / If-None-Match, so a single PUT HEADs the key just
    before (the multipart path HEADs before completing anyway)."""
    path = Path(path)
    stat = path.stat()
    if planned is not None and Stamp.of(stat) != planned:
        raise _changed(path, "it was saved again after the plan was made")
    meta = dict(metadata)
    if crc32 is not None:
        meta[META_CRC32] = crc32_hex(crc32)
    meter = _Meter(key, progress, limiter_for(max_rate), cancel)
    _install_meter(s3)
    progress.start_file(key, stat.st_size)
    ok = False
    try:
        if stat.st_size < SINGLE_PUT_LIMIT:
            if head_first:
                _check_precondition(s3, bucket, key, if_match, if_none_match)
            result = _put_single(
                s3, bucket, key, path, stat, crc32, meta, if_match, if_none_match, meter
            )
        else:
            result = _put_multipart(
                s3, bucket, key, path, stat, crc32, meta, if_match, if_none_match, meter, state_dir
            )
        ok = True
        return result
    finally:
        progress.end_file(key, ok)


def _put_single(
    s3: Any,
    bucket: str,
    key: str,
    path: Path,
    stat: os.stat_result,
    crc32: int | None,
    meta: dict[str, str],
    if_match: str | None,
    if_none_match: bool,
    meter: _Meter,
) -> Uploaded:
    with path.open("rb") as fh:
        data = fh.read(SINGLE_PUT_LIMIT + 1)
    if len(data) != stat.st_size:
        raise _changed(path, "its size changed")
    if crc32 is None:  # one read: the bytes we hold are the bytes we send and describe
        now = os.stat(path)
        if Stamp.of(now) != Stamp.of(stat):
            raise _changed(path, "it was saved again while it was being read")
        crc32 = zlib.crc32(data)
        meta = {**meta, META_CRC32: crc32_hex(crc32)}
    elif zlib.crc32(data) != crc32:
        raise _changed(path, "its content no longer matches the checksum taken before")
    kwargs: dict[str, Any] = dict(
        Bucket=bucket,
        Key=key,
        Body=data,
        Metadata={**meta, META_PART_SIZE: "0"},
        ChecksumAlgorithm="CRC32",
        ChecksumCRC32=crc32_b64(crc32),
    )
    if if_match:
        kwargs["IfMatch"] = _quoted(if_match)
    if if_none_match:
        kwargs["IfNoneMatch"] = "*"
    try:
        response = _with_retries(lambda: _metered(meter, s3.put_object, **kwargs), meter.stop)
    except bce.ClientError as exc:
        if not _precondition_failed(exc):
            raise
        # A retry (ours or botocore's) after a lost response may be refused because the first
        # attempt landed: if the object holds exactly our bytes and checksum, it is ours.
        if _is_our_object(s3, bucket, key, hashlib.md5(data).hexdigest(), crc32):
            response = s3.head_object(Bucket=bucket, Key=key)
        else:
            raise _remote_changed(bucket, key) from None
    return Uploaded(
        key=key,
        size=len(data),
        etag=str(response["ETag"]).strip('"'),
        crc32=crc32,
        version_id=response.get("VersionId"),
        part_size=0,
    )


def _is_our_object(s3: Any, bucket: str, key: str, etag: str, crc32: int) -> bool:
    """The object holds exactly our bytes: our ETag (MD5, or MD5 of our parts' MD5s), and our
    CRC32 wherever the object states one (metadata, or S3's FULL_OBJECT checksum)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except bce.ClientError:
        return False
    if str(head["ETag"]).strip('"') != etag:
        return False
    declared = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}.get(META_CRC32)
    if declared is not None and declared != crc32_hex(crc32):
        return False
    full = head.get("ChecksumCRC32") if head.get("ChecksumType") == "FULL_OBJECT" else None
    return full is None or crc32_from_b64(full) == crc32


def _abort_quietly(s3: Any, bucket: str, key: str, upload_id: str) -> None:
    try:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except (bce.ClientError, bce.BotoCoreError):
        pass  # already gone, or unreachable: the bucket's lifecycle rule aborts it after 7 days


def _list_parts(s3: Any, bucket: str, key: str, upload_id: str) -> list[dict]:
    parts: list[dict] = []
    paginator = s3.get_paginator("list_parts")
    for page in paginator.paginate(Bucket=bucket, Key=key, UploadId=upload_id):
        parts.extend(page.get("Parts", []))
    return parts


@dataclass(frozen=True)
class _Part:
    number: int
    etag: str
    crc32: int
    size: int


def _part_bounds(number: int, part_size: int, size: int) -> tuple[int, int]:
    offset = (number - 1) * part_size
    return offset, min(part_size, size - offset)


def _verify_listed(
    fd: int, listed: list[dict], part_size: int, size: int, meter: _Meter
) -> dict[int, _Part]:
    """Parts already on S3 whose bytes equal the local file's (MD5 ETag or CRC32)."""
    count = -(-size // part_size)
    good: dict[int, _Part] = {}
    for item in listed:
        number = int(item["PartNumber"])
        if not 1 <= number <= count:
            continue
        offset, length = _part_bounds(number, part_size, size)
        if int(item.get("Size", -1)) != length:
            continue
        data = read_at(fd, length, offset)
        crc = zlib.crc32(data)
        etag = str(item.get("ETag", "")).strip('"')
        if item.get("ChecksumCRC32"):
            same = crc32_from_b64(item["ChecksumCRC32"]) == crc
        elif _MD5_ETAG.match(etag):
            same = hashlib.md5(data).hexdigest() == etag
        else:
            same = False  # cannot tell (e.g. SSE-KMS ETag without checksum): send it again
        if same:
            good[number] = _Part(number, etag, crc, length)
            meter.progress.advance(meter.name, length)
    return good


def _put_multipart(
    s3: Any,
    bucket: str,
    key: str,
    path: Path,
    stat: os.stat_result,
    crc32: int | None,
    meta: dict[str, str],
    if_match: str | None,
    if_none_match: bool,
    meter: _Meter,
    state_dir: Path | None,
) -> Uploaded:
    size = stat.st_size
    record_path = _record_path(state_dir, "uploads", bucket, key)
    identity = {
        "bucket": bucket,
        "key": key,
        "size": size,
        "mtime_ns": stat.st_mtime_ns,
        "crc32": crc32,
    }
    # Don't send gigabytes that the complete step would refuse anyway.
    _check_precondition(s3, bucket, key, if_match, if_none_match)

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        upload_id, part_size, done = _resume_or_start(
            s3, bucket, key, fd, size, identity, meta, record_path, meter
        )
        resumed = sum(p.size for p in done.values())
        if resumed:
            meter.progress.resumed(key, resumed)
        try:
            count = -(-size // part_size)
            todo = [n for n in range(1, count + 1) if n not in done]
            done.update(_send_parts(s3, bucket, key, upload_id, fd, size, part_size, todo, meter))
            parts = [done[n] for n in range(1, count + 1)]
            sent_crc = crc32_of_pieces([(p.crc32, p.size) for p in parts])
            now = os.stat(path)
            if Stamp.of(now) != Stamp.of(stat):
                raise _changed(path, "it was modified during the upload")
            if crc32 is None:
                crc32 = sent_crc  # what the parts carried; S3 checks them against it on completion
            elif sent_crc != crc32:
                raise _changed(path, "the bytes sent do not match the checksum taken before")
            _check_precondition(s3, bucket, key, if_match, if_none_match)
            response = _complete(
                s3, bucket, key, upload_id, parts, crc32, if_match, if_none_match, meter
            )
        except (ChangedDuringUpload, RemoteChanged):
            # The parts are worthless (file changed) or unwanted (remote moved on): clean up.
            _abort_quietly(s3, bucket, key, upload_id)
            _drop_record(record_path)
            raise
        except BaseException:
            if record_path is None:  # nowhere to resume from: don't leave parts behind
                _abort_quietly(s3, bucket, key, upload_id)
            raise
    finally:
        os.close(fd)
    _drop_record(record_path)
    return Uploaded(
        key=key,
        size=size,
        etag=str(response["ETag"]).strip('"'),
        crc32=crc32,
        version_id=response.get("VersionId"),
        part_size=part_size,
        resumed_bytes=resumed,
    )


def _resume_or_start(
    s3: Any,
    bucket: str,
    key: str,
    fd: int,
    size: int,
    identity: dict,
    meta: dict[str, str],
    record_path: Path | None,
    meter: _Meter,
) -> tuple[str, int, dict[int, _Part]]:
    """(upload id, part size, parts already on S3 and verified): a recorded upload of the same
    file version continues; a recorded upload of another version is aborted."""
    record = _read_record(record_path)
    if record is not None:
        # the CRC32 may be unknown on one side (a new file is checksummed while it is sent):
        # then size and mtime decide, and every listed part is checked against the file anyway
        same = all(
            record.get(k) == v
            for k, v in identity.items()
            if k != "crc32" or (v is not None and record.get(k) is not None)
        )
        upload_id = str(record.get("upload_id", ""))
        part_size = int(record.get("part_size") or 0)
        if same and upload_id and part_size > 0:
            try:
                listed = _list_parts(s3, bucket, key, upload_id)
            except bce.ClientError as exc:
                if _error_code(exc) != "NoSuchUpload":
                    raise
                listed = None  # aborted meanwhile (lifecycle, s3.uploads): start over
            if listed is not None:
                return upload_id, part_size, _verify_listed(fd, listed, part_size, size, meter)
        elif upload_id:
            _abort_quietly(s3, bucket, key, upload_id)
        _drop_record(record_path)

    part_size = part_size_for(size)
    created = s3.create_multipart_upload(
        Bucket=bucket,
        Key=key,
        Metadata={**meta, META_PART_SIZE: str(part_size)},
        ChecksumAlgorithm="CRC32",
        ChecksumType="FULL_OBJECT",
    )
    upload_id = created["UploadId"]
    _write_record(
        record_path,
        {**identity, "upload_id": upload_id, "part_size": part_size, "started": time.time()},
    )
    return upload_id, part_size, {}


def _send_parts(
    s3: Any,
    bucket: str,
    key: str,
    upload_id: str,
    fd: int,
    size: int,
    part_size: int,
    todo: list[int],
    meter: _Meter,
) -> dict[int, _Part]:
    if not todo:
        return {}
    sent: dict[int, _Part] = {}
    workers = _upload_workers(part_size, len(todo))
    # At most `workers` part buffers exist at once: a part is read inside its worker.
    slots = threading.BoundedSemaphore(workers)
    # Staggered start: worker k begins once k/workers of a part went out, so the parts in flight
    # are at different stages and an interruption loses about (workers-1)/2 parts, not up to
    # `workers` whole parts sent in lockstep. Costs less than one part's time, once.
    base = meter.sent
    first_done = threading.Event()
    stagger = {n: base + i * part_size // workers for i, n in enumerate(todo[:workers]) if i}

    def send(number: int) -> _Part:
        with slots:
            if number in stagger:
                meter.wait_sent(stagger[number], first_done)
            if meter.stop.is_set():
                raise _Stopped()
            offset, length = _part_bounds(number, part_size, size)
            data = read_at(fd, length, offset)
            if len(data) != length:
                raise ChangedDuringUpload(
                    f"{key}: the local file shrank while it was being uploaded; nothing was "
                    "recorded as uploaded: let the program writing it finish, then run again"
                )
            crc = zlib.crc32(data)
            response = _with_retries(
                lambda: _metered(
                    meter,
                    s3.upload_part,
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                    ChecksumAlgorithm="CRC32",
                    ChecksumCRC32=crc32_b64(crc),
                ),
                meter.stop,
            )
            first_done.set()  # a part finished: no reason left to hold anyone back
            return _Part(number, str(response["ETag"]).strip('"'), crc, length)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vam-up") as pool:
        futures = {pool.submit(send, n): n for n in todo}
        try:
            for future in as_completed(futures):
                part = future.result()
                sent[part.number] = part
        except BaseException:
            meter.stop.set()
            for future in futures:
                future.cancel()
            raise
    return sent


def _complete(
    s3: Any,
    bucket: str,
    key: str,
    upload_id: str,
    parts: list[_Part],
    crc32: int,
    if_match: str | None,
    if_none_match: bool,
    meter: _Meter,
) -> dict:
    kwargs: dict[str, Any] = dict(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {
                    "PartNumber": p.number,
                    "ETag": _quoted(p.etag),
                    "ChecksumCRC32": crc32_b64(p.crc32),
                }
                for p in parts
            ]
        },
        ChecksumCRC32=crc32_b64(crc32),
        ChecksumType="FULL_OBJECT",
    )
    if if_match:
        kwargs["IfMatch"] = _quoted(if_match)
    if if_none_match:
        kwargs["IfNoneMatch"] = "*"
    expected = _etag_of_parts([p.etag for p in parts])
    try:
        return _with_retries(lambda: s3.complete_multipart_upload(**kwargs), meter.stop)
    except bce.ClientError as exc:
        if not (_error_code(exc) == "NoSuchUpload" or _precondition_failed(exc)):
            raise
        # A retry (ours or botocore's) after a lost response may find the upload already
        # completed: if the object holds exactly our parts and checksum, it is ours.
        if expected and _is_our_object(s3, bucket, key, expected, crc32):
            return s3.head_object(Bucket=bucket, Key=key)
        if _precondition_failed(exc):
            raise _remote_changed(bucket, key) from None
        raise


# --------------------------------------------------------------------------- downloads


def _ranges(size: int) -> list[tuple[int, int]]:
    """Few large ranges: about one per worker, between MIN_ and DOWNLOAD_RANGE bytes."""
    if size == 0:
        return []
    step = -(-size // DOWNLOAD_WORKERS)
    step = max(MIN_DOWNLOAD_RANGE, min(DOWNLOAD_RANGE, step))
    return [(start, min(start + step, size)) for start in range(0, size, step)]


class _DownloadState:
    """Which bytes of each range are on disk, saved now and then (and on interruption).

    Workers only note their progress in memory (`advance`); a checkpointer thread (see
    `_checkpointer`) makes it durable off the data path: fsync first, then the record of what was
    on disk before the fsync, so the record never claims bytes a reboot could lose and no worker
    waits for the disk."""

    def __init__(self, path: Path | None, base: dict, done: dict[int, int], fd: int) -> None:
        self.path = path
        self.base = base
        self.done = done
        self.fd = fd
        self.lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._saved: dict[int, int] | None = None
        self.wake = threading.Event()

    def advance(self, start: int, nbytes: int) -> None:
        with self.lock:
            self.done[start] = max(self.done.get(start, 0), nbytes)

    def save(self) -> None:
        if self.path is None:
            return
        with self._save_lock:
            with self.lock:
                snapshot = dict(self.done)
            if snapshot == self._saved:
                return
            os.fsync(self.fd)  # the record must never claim bytes a reboot could lose
            done = {str(k): v for k, v in snapshot.items()}
            _write_record(self.path, {**self.base, "done": done})
            self._saved = snapshot


class _EtagFollower:
    """The object's ETag, computed from the downloaded bytes in file order while ranges are still
    arriving: the MD5 of the whole file, or S3's MD5 of the part MD5s for a multipart object.

    For objects that carry no CRC32 (uploaded by another tool to a server that keeps no
    checksums) the ETag is the only evidence; hashing behind the download, on its own thread
    (hashlib releases the GIL), saves reading the whole file again once it is complete."""

    STEP = 8 * MiB

    def __init__(
        self, fd: int, size: int, ranges: list[tuple[int, int]], state: _DownloadState,
        part_size: int | None,
    ) -> None:  # fmt: skip
        self.fd, self.size, self.ranges, self.state = fd, size, ranges, state
        self.part_size = part_size
        self.position = 0
        self.halt = threading.Event()
        self.error: BaseException | None = None
        self._whole = hashlib.md5()
        self._part = hashlib.md5()
        self._part_left = part_size or 0
        self._digests = bytearray()
        self._parts = 0
        self._thread = threading.Thread(target=self._run, name="vam-etag", daemon=True)

    def start(self) -> _EtagFollower:
        self._thread.start()
        return self

    def _contiguous(self) -> int:
        """How far the bytes on disk reach from the start of the file without a gap."""
        with self.state.lock:
            done = dict(self.state.done)
        reach = 0
        for start, end in self.ranges:
            if start > reach:
                break
            reach = start + min(done.get(start, 0), end - start)
            if reach < end:
                break
        return reach

    def _update(self, data: memoryview) -> None:
        if self.part_size is None:
            self._whole.update(data)
            return
        self._part.update(data)
        self._part_left -= len(data)
        if self._part_left == 0:
            self._end_part()

    def _end_part(self) -> None:
        self._digests += self._part.digest()
        self._parts += 1
        self._part = hashlib.md5()
        self._part_left = self.part_size or 0

    def _run(self) -> None:
        buffer = memoryview(bytearray(self.STEP))
        try:
            while self.position < self.size and not self.halt.is_set():
                reach = self._contiguous()
                if reach <= self.position:
                    self.halt.wait(0.005)
                    continue
                while self.position < reach and not self.halt.is_set():
                    step = min(self.STEP, reach - self.position)
                    if self.part_size is not None:
                        step = min(step, self._part_left)
                    got = read_into(self.fd, buffer[:step], self.position)
                    if got != step:
                        raise OSError(f"the partial download shrank at byte {self.position}")
                    self._update(buffer[:got])
                    self.position += got
        except BaseException as exc:  # reported by result(), on the caller's thread
            self.error = exc

    def stop(self) -> None:
        self.halt.set()
        self._thread.join()

    def result(self) -> str:
        """The ETag of the bytes on disk (waits for the last bytes to be hashed)."""
        self._thread.join()
        if self.error is not None:
            raise self.error
        if self.position != self.size:
            raise AssertionError("the ETag follower stopped early")
        if self.part_size is None:
            return self._whole.hexdigest()
        if self._part_left != self.part_size or not self._parts:
            self._end_part()  # the last, shorter part (or the only one)
        return f"{hashlib.md5(bytes(self._digests)).hexdigest()}-{self._parts}"


def _checkpointer(state: _DownloadState, finished: threading.Event) -> None:
    """Save the download record every CHECKPOINT_SECONDS, or sooner when a worker asks."""
    while not finished.is_set():
        state.wake.wait(CHECKPOINT_SECONDS)
        state.wake.clear()
        if finished.is_set():
            return
        try:
            state.save()
        except OSError:
            return  # the disk is failing: the workers' own writes will say so


def download_file(
    s3: Any,
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
    cancel: threading.Event | None = None,
    publish: Callable[[Path, Path], Any] | None = None,
) -> Downloaded:
    """Download the version `etag` of `key` to `dest`, verified, via `<dest>.vam-part`.
    `cancel`, once set, stops the transfer within a chunk; the bytes on disk are kept.

    `publish(temp, dest)` gives the verified, durable file its name (default: a rename that
    waits while another program holds `dest`, vam.durable.replace); its return value is
    Downloaded.published. The sync core passes one that first checks the local file is still
    the version it planned to replace. A full disk raises DiskFull naming the partial file."""
    dest = Path(dest)
    etag = etag.strip('"')
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = dest.with_name(dest.name + PARTIAL_SUFFIX)
    record_path = _record_path(state_dir, "downloads", bucket, key, str(dest.absolute()))
    ranges = _ranges(size)
    base = {"bucket": bucket, "key": key, "dest": str(dest.absolute()), "etag": etag, "size": size,
            "ranges": [list(r) for r in ranges]}  # fmt: skip
    meter = _Meter(key, progress, limiter_for(max_rate), cancel)

    record = _read_record(record_path)
    done: dict[int, int] = {}
    if (
        record is not None
        and all(record.get(k) == v for k, v in base.items())
        and temp.exists()
        and temp.stat().st_size == size
    ):
        done = {int(k): int(v) for k, v in (record.get("done") or {}).items()}
    else:
        _drop_record(record_path)
        temp.unlink(missing_ok=True)

    progress.start_file(key, size)
    resumed = sum(done.values())
    if resumed:
        progress.resumed(key, resumed)
    ok = False
    keep_partial = record_path is not None
    try:
        details = None
        if crc32 is None:  # we will need the object's own checksum (or its ETag's part size)
            details = head_checksum(s3, bucket, key)
            if details.etag != etag:
                raise _moved(bucket, key)
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            if os.fstat(fd).st_size != size:
                os.ftruncate(fd, size)
            state = _DownloadState(record_path, base, done, fd)
            if ranges:  # written before the first byte arrives, so even kill -9 can resume
                state.advance(ranges[0][0], done.get(ranges[0][0], 0))
                state.save()
            follower = _etag_follower(fd, size, ranges, state, etag, crc32, details)
            try:
                crc, version_id = _fetch_ranges(s3, bucket, key, etag, fd, ranges, state, meter)
                computed_etag = follower.result() if follower else None
            finally:
                if follower:
                    follower.stop()
            durable.flush(fd)  # on the disk before it can take a name (F_FULLFSYNC on macOS)
        finally:
            os.close(fd)
        _verify(temp, bucket, key, size, etag, crc, crc32, details, computed_etag)
        if mtime_ns is not None:
            os.utime(temp, ns=(mtime_ns, mtime_ns))
        try:
            published = publish(temp, dest) if publish is not None else durable.replace(temp, dest)
        except durable.FileBusy:
            # complete, verified and on the disk: the next run only gives it its name
            _write_record(record_path, {**base, "done": {str(a): b - a for a, b in ranges}})
            raise
        _drop_record(record_path)
        ok = True
        if version_id is None and details is not None:
            version_id = details.version_id
        return Downloaded(
            path=dest,
            size=size,
            etag=etag,
            crc32=crc,
            version_id=version_id,
            resumed_bytes=resumed,
            published=published,
        )
    except (IntegrityError, RemoteChanged, NotFoundError, NotPublished):
        keep_partial = False  # these bytes will never become that file: start clean next time
        raise
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        raise disk_full(dest, size, resumable_bytes(record_path)) from None
    finally:
        if not ok and not keep_partial:
            temp.unlink(missing_ok=True)
            _drop_record(record_path)
        progress.end_file(key, ok)


def _etag_follower(
    fd: int,
    size: int,
    ranges: list[tuple[int, int]],
    state: _DownloadState,
    etag: str,
    crc32: int | None,
    details: RemoteDetails | None,
) -> _EtagFollower | None:
    """A running _EtagFollower when the ETag will be the evidence (_verify's order), else None."""
    if not ranges or crc32 is not None or details is None or details.crc32 is not None:
        return None
    if _MD5_ETAG.match(etag):
        return _EtagFollower(fd, size, ranges, state, None).start()
    if _MULTIPART_ETAG.match(etag) and details.part_size:
        return _EtagFollower(fd, size, ranges, state, details.part_size).start()
    return None


def _moved(bucket: str, key: str) -> RemoteChanged:
    return RemoteChanged(
        f"s3://{bucket}/{key} changed on S3 during the download (a new version was uploaded); "
        "nothing was written: run s3.status and download again"
    )


def _fetch_ranges(
    s3: Any,
    bucket: str,
    key: str,
    etag: str,
    fd: int,
    ranges: list[tuple[int, int]],
    state: _DownloadState,
    meter: _Meter,
) -> tuple[int, str | None]:
    """Fetch what is missing of every range; (CRC32 of the whole file, version id)."""
    if not ranges:  # an empty object: one GET still proves the version exists
        try:
            response = s3.get_object(Bucket=bucket, Key=key, IfMatch=_quoted(etag))
        except bce.ClientError as exc:
            if _precondition_failed(exc):
                raise _moved(bucket, key) from None
            raise
        response["Body"].read()
        return 0, response.get("VersionId")
    versions: list[str | None] = []

    def fetch(start: int, end: int) -> int:
        have = state.done.get(start, 0)
        crc = crc32_of_range(fd, start, have, lambda n: meter.progress.advance(meter.name, n))
        position = start + have
        saved = position
        failures = 0
        try:
            while position < end:
                try:
                    response = s3.get_object(
                        Bucket=bucket,
                        Key=key,
                        Range=f"bytes={position}-{end - 1}",
                        IfMatch=_quoted(etag),
                    )
                    versions.append(response.get("VersionId"))
                    body = response["Body"]
                    step = meter.limiter.chunk_size() if meter.limiter else DOWNLOAD_CHUNK
                    try:
                        while position < end:
                            if meter.stop.is_set():
                                raise _Stopped()
                            chunk = body.read(min(step, end - position))
                            if not chunk:
                                raise bce.ResponseStreamingError(error="connection closed early")
                            if meter.limiter is not None:
                                meter.limiter.acquire(len(chunk))
                            write_at(fd, chunk, position)
                            crc = zlib.crc32(chunk, crc)
                            position += len(chunk)
                            meter.progress.advance(meter.name, len(chunk))
                            state.advance(start, position - start)
                            if position - saved >= CHECKPOINT_BYTES:
                                state.wake.set()  # the checkpointer saves it, off this thread
                                saved = position
                                failures = 0
                    finally:
                        body.close()
                except bce.ClientError as exc:
                    if _precondition_failed(exc):
                        raise _moved(bucket, key) from None
                    if not _retryable(exc) or failures >= ATTEMPTS - 1:
                        raise
                    failures += 1
                except (bce.BotoCoreError, ConnectionError, TimeoutError):
                    # a dropped connection mid-body: go on from the bytes already written
                    if failures >= ATTEMPTS - 1:
                        raise
                    failures += 1
                if position < end:
                    time.sleep(BACKOFF_SECONDS * (2 ** (failures - 1)) * (0.5 + random.random()))
        except BaseException:
            state.advance(start, position - start)
            try:
                state.save()  # keep what arrived, for the next run
            except OSError:
                pass  # (a full disk) the record saved before stays: it never claims too much
            raise
        state.advance(start, end - start)
        return crc

    workers = min(DOWNLOAD_WORKERS, len(ranges))
    crcs: dict[int, int] = {}
    finished = threading.Event()
    checkpoints = threading.Thread(
        target=_checkpointer, args=(state, finished), name="vam-checkpoint", daemon=True
    )
    checkpoints.start()
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vam-down") as pool:
            futures = {pool.submit(fetch, s, e): (s, e) for s, e in ranges}
            try:
                for future in as_completed(futures):
                    crcs[futures[future][0]] = future.result()
            except BaseException:
                meter.stop.set()
                for future in futures:
                    future.cancel()
                raise
    finally:
        finished.set()
        state.wake.set()
        checkpoints.join()  # before the caller closes the descriptor it fsyncs
    whole = crc32_of_pieces([(crcs[s], e - s) for s, e in ranges])
    return whole, next((v for v in versions if v), None)


def _verify(
    temp: Path,
    bucket: str,
    key: str,
    size: int,
    etag: str,
    crc: int,
    crc32: int | None,
    details: RemoteDetails | None,
    computed_etag: str | None = None,
) -> None:
    """Check the downloaded bytes, strongest evidence first; IntegrityError if they differ.
    `computed_etag` is the ETag hashed while downloading (see _EtagFollower), if any."""
    if temp.stat().st_size != size:
        raise _corrupt(bucket, key, "size")
    if crc32 is not None:
        same, what = crc == crc32, "CRC32"
    elif details is not None and details.crc32 is not None:
        same, what = crc == details.crc32, "CRC32 stored on the object"
    elif _MD5_ETAG.match(etag):
        same, what = (computed_etag or file_md5(temp)) == etag, "MD5 (ETag)"
    elif _MULTIPART_ETAG.match(etag) and details is not None and details.part_size:
        computed = computed_etag or multipart_etag(temp, details.part_size)
        same, what = computed == etag, "multipart ETag"
    else:
        raise IntegrityError(
            f"s3://{bucket}/{key} has no checksum vam can verify (ETag {etag}); it was not "
            "written: re-upload it with vam (s3.up) so it carries a CRC32"
        )
    if not same:
        raise _corrupt(bucket, key, what)


def _corrupt(bucket: str, key: str, what: str) -> IntegrityError:
    return IntegrityError(
        f"s3://{bucket}/{key}: the downloaded bytes do not match the {what}; nothing was written "
        "and the partial download was removed: run the same command again"
    )
