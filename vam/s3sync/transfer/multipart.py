"""The multipart upload of a file from SINGLE_PUT_LIMIT up: recorded before the first part so a
later run resumes it (the parts already on S3 are re-read locally and kept only if equal), parts
streamed from the file, as many at once as the link rewards (concurrency.py), each retried for
as long as the transfer makes progress, and a conditional complete with the FULL_OBJECT CRC32
rebuilt from the parts' CRC32s."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions as bce

from vam.core.checksum import range_pieces
from vam.core.crc import crc32_b64, crc32_from_b64, crc32_of_pieces
from vam.core.files import Stamp
from vam.s3sync.transfer import tuning
from vam.s3sync.transfer.concurrency import Parallelism, endpoint_key
from vam.s3sync.transfer.conditions import (
    changed,
    check_precondition,
    conditional_args,
    is_our_object,
    remote_changed,
)
from vam.s3sync.transfer.etags import MD5_ETAG, etag_of_parts, quoted
from vam.s3sync.transfer.metering import Meter, Stopped, metered
from vam.s3sync.transfer.partbody import PartBody, part_crc32
from vam.s3sync.transfer.records import drop_record, read_record, record_path, write_record
from vam.s3sync.transfer.retries import error_code, precondition_failed, with_retries
from vam.s3sync.transfer.roundtrip import local_link, long_link
from vam.s3sync.transfer.values import (
    META_PART_SIZE,
    ChangedDuringUpload,
    RemoteChanged,
    Uploaded,
)


def part_size_for(size: int, long_link: bool = False, local_link: bool = False) -> int:
    """Smallest power-of-two multiple of the base part size that keeps the upload within
    MAX_PARTS. The base is MIN_PART_SIZE, or LONG_LINK_PART_SIZE on a long link (roundtrip.py),
    where a part takes seconds at one connection's rate and a reset costs its bytes again. On a
    local link a large file's base is size / LOCAL_PARTS (in whole MiB), up to LOCAL_PART_SIZE:
    there the server's cost per request is the limit, and a part takes a fraction of a second."""
    part = tuning.MIN_PART_SIZE
    if long_link:
        part = min(part, max(tuning.LONG_LINK_PART_SIZE, 5 * tuning.MiB))
    elif local_link:
        share = size // max(1, tuning.LOCAL_PARTS) // tuning.MiB * tuning.MiB
        part = max(part, min(tuning.LOCAL_PART_SIZE, share))
    while -(-size // part) > tuning.MAX_PARTS:
        part *= 2
    if long_link:
        part = _whole_waves(size, part)
    return part


def _whole_waves(size: int, part: int) -> int:
    """A part size near `part` that makes the part count a multiple of LONG_LINK_START: the
    parts in flight share the link and finish together, so the last wave is a full one rather
    than a few parts each held to one connection's rate while the rest of the line idles."""
    wave = tuning.LONG_LINK_START
    count = -(-size // part)
    if count <= wave:
        return part
    waves = count // wave  # round down: parts grow a little, never below the base size
    step = 64 * 1024
    bigger = -(-size // (waves * wave))
    return max(part, -(-bigger // step) * step)


def upload_workers(part_size: int, parts: int) -> int:
    """The most parts in flight at once: MAX_UPLOAD_WORKERS, within PART_MEMORY of read buffers
    (a part is streamed, so what it holds is its read buffer, not the part), and no more than
    there are parts."""
    buffer = min(part_size, tuning.PART_READ)
    return max(1, min(tuning.MAX_UPLOAD_WORKERS, tuning.PART_MEMORY // buffer, parts))


def start_workers(ceiling: int, long: bool = False) -> int:
    start = tuning.LONG_LINK_START if long else tuning.START_UPLOAD_WORKERS
    return max(1, min(ceiling, start))


@dataclass(frozen=True)
class _Part:
    number: int
    etag: str
    crc32: int
    size: int


def _part_bounds(number: int, part_size: int, size: int) -> tuple[int, int]:
    offset = (number - 1) * part_size
    return offset, min(part_size, size - offset)


def put_multipart(
    s3: Any,
    bucket: str,
    key: str,
    path: Path,
    stat: os.stat_result,
    crc32: int | None,
    meta: dict[str, str],
    if_match: str | None,
    if_none_match: bool,
    meter: Meter,
    state_dir: Path | None,
    placement: dict[str, str] | None = None,
    complete_checked: bool = False,
) -> Uploaded:
    """`placement`: extra arguments of the upload's creation (its StorageClass).
    `complete_checked`: the server refuses the complete step when its condition fails, so the
    key is not HEADed right before it (the refusal comes back as RemoteChanged all the same)."""
    placement = placement or {}
    size = stat.st_size
    record = record_path(state_dir, "uploads", bucket, key)
    identity = {
        "bucket": bucket,
        "key": key,
        "size": size,
        "mtime_ns": stat.st_mtime_ns,
        "crc32": crc32,
        # an upload begun in another storage class is not this one (a class is set at creation)
        "storage_class": placement.get("StorageClass"),
    }
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        upload_id, part_size, done = _checked_start(
            s3,
            bucket,
            key,
            record,
            lambda: check_precondition(s3, bucket, key, if_match, if_none_match),
            lambda: _resume_or_start(
                s3, bucket, key, fd, size, identity, meta, record, meter, placement
            ),
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
                raise changed(path, "it was modified during the upload")
            if crc32 is None:
                crc32 = sent_crc  # what the parts carried; S3 checks them against it on completion
            elif sent_crc != crc32:
                raise changed(path, "the bytes sent do not match the checksum taken before")
            if not complete_checked:
                check_precondition(s3, bucket, key, if_match, if_none_match)
            response = _complete(
                s3, bucket, key, upload_id, parts, crc32, if_match, if_none_match, meter
            )
        except (ChangedDuringUpload, RemoteChanged):
            # The parts are worthless (file changed) or unwanted (remote moved on): clean up.
            _abort_quietly(s3, bucket, key, upload_id)
            drop_record(record)
            raise
        except BaseException:
            if record is None:  # nowhere to resume from: don't leave parts behind
                _abort_quietly(s3, bucket, key, upload_id)
            raise
    finally:
        os.close(fd)
    drop_record(record)
    return Uploaded(
        key=key,
        size=size,
        etag=str(response["ETag"]).strip('"'),
        crc32=crc32,
        version_id=response.get("VersionId"),
        part_size=part_size,
        resumed_bytes=resumed,
    )


# --------------------------------------------------------------------------- resume


def _checked_start(
    s3: Any,
    bucket: str,
    key: str,
    record: Path | None,
    check: Callable[[], None],
    start: Callable[[], tuple[str, int, dict[int, _Part], bool]],
) -> tuple[str, int, dict[int, _Part]]:
    """`check` the precondition (don't send gigabytes that the complete step would refuse
    anyway), then `start`: the upload resumed or created (_resume_or_start). On a long link,
    where a round trip is 150 ms, the two go at once: an upload created beside a refused check is
    aborted and its `record` dropped."""
    if not long_link(s3):
        check()
        upload_id, part_size, done, _ = start()
        return upload_id, part_size, done
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vam-check") as pool:
        checked = pool.submit(check)
        try:
            upload_id, part_size, done, created = start()
        except BaseException:
            checked.result()  # a refused precondition is the clearer reason
            raise
        try:
            checked.result()
        except BaseException:
            if created:  # nothing of it is sent yet, and nothing else knows of it
                _abort_quietly(s3, bucket, key, upload_id)
                drop_record(record)
            raise
    return upload_id, part_size, done


def _resume_or_start(
    s3: Any,
    bucket: str,
    key: str,
    fd: int,
    size: int,
    identity: dict,
    meta: dict[str, str],
    path: Path | None,
    meter: Meter,
    placement: dict[str, str],
) -> tuple[str, int, dict[int, _Part], bool]:
    """(upload id, part size, parts already on S3 and verified, created now): a recorded upload
    of the same file version continues; a recorded upload of another version is aborted."""
    record = read_record(path)
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
                if error_code(exc) != "NoSuchUpload":
                    raise
                listed = None  # aborted meanwhile (lifecycle, s3.uploads): start over
            if listed is not None:
                verified = _verify_listed(fd, listed, part_size, size, meter)
                return upload_id, part_size, verified, False
        elif upload_id:
            _abort_quietly(s3, bucket, key, upload_id)
        drop_record(path)

    part_size = part_size_for(size, long_link(s3), local_link(s3))
    created = s3.create_multipart_upload(
        Bucket=bucket,
        Key=key,
        Metadata={**meta, META_PART_SIZE: str(part_size)},
        ChecksumAlgorithm="CRC32",
        ChecksumType="FULL_OBJECT",
        **placement,
    )
    upload_id = created["UploadId"]
    write_record(
        path,
        {**identity, "upload_id": upload_id, "part_size": part_size, "started": time.time()},
    )
    return upload_id, part_size, {}, True


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


def _verify_listed(
    fd: int, listed: list[dict], part_size: int, size: int, meter: Meter
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
        etag = str(item.get("ETag", "")).strip('"')
        md5 = hashlib.md5()
        by_md5 = not item.get("ChecksumCRC32") and MD5_ETAG.match(etag)
        crc = 0
        try:  # a piece at a time: a 64 MiB part is never held whole
            for piece in range_pieces(fd, offset, length):
                crc = zlib.crc32(piece, crc)
                if by_md5:
                    md5.update(piece)
        except OSError:
            continue  # the file is shorter than that part now: it is sent again
        if item.get("ChecksumCRC32"):
            same = crc32_from_b64(item["ChecksumCRC32"]) == crc
        elif by_md5:
            same = md5.hexdigest() == etag
        else:
            same = False  # cannot tell (e.g. SSE-KMS ETag without checksum): send it again
        if same:
            good[number] = _Part(number, etag, crc, length)
            meter.progress.advance(meter.name, length)
    return good


# --------------------------------------------------------------------------- parts and complete


def _send_parts(
    s3: Any,
    bucket: str,
    key: str,
    upload_id: str,
    fd: int,
    size: int,
    part_size: int,
    todo: list[int],
    meter: Meter,
) -> dict[int, _Part]:
    """Send the parts in `todo`, as many at once as the link rewards (concurrency.py): each
    part's CRC32 is taken first (its header), then the part is streamed from the file."""
    if not todo:
        return {}
    sent: dict[int, _Part] = {}
    ceiling = upload_workers(part_size, len(todo))
    long = long_link(s3)
    if part_size > tuning.MIN_PART_SIZE and local_link(s3):  # (never a long link too)
        ceiling = min(ceiling, tuning.LOCAL_PARTS_AT_ONCE)
    control = Parallelism(
        start_workers(ceiling, long),
        ceiling,
        key=endpoint_key(s3, "up") if len(todo) > 4 else None,
        short=not long,
        unit=part_size if long else None,  # on a long link a drop loses the parts in flight
    )
    meter.control = control
    # Staggered start of the first wave: part k of it begins once k/level of a part went out
    # (or k × 4 × STAGGER / level seconds passed), so the parts in flight are at different
    # stages and an interruption loses about half of them, not all of them sent in lockstep.
    base = meter.sent
    first = control.level
    first_done = threading.Event()
    stagger = {n: (base + i * part_size // first, i) for i, n in enumerate(todo[:first]) if i}
    order = iter(todo)
    order_lock = threading.Lock()

    def next_part() -> int | None:
        with order_lock:
            return next(order, None)

    def send(number: int) -> _Part:
        if number in stagger:
            threshold, k = stagger[number]
            meter.wait_sent(threshold, first_done, timeout=k * STAGGER * 4 / first)
        if meter.stop.is_set():
            raise Stopped()
        offset, length = _part_bounds(number, part_size, size)
        crc = part_crc32(fd, offset, length)

        def attempt() -> dict:
            body = PartBody(fd, offset, length)
            response = metered(
                meter,
                s3.upload_part,
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ContentLength=length,
                ChecksumAlgorithm="CRC32",
                ChecksumCRC32=crc32_b64(crc),
            )
            if body.sent_crc() not in (crc, None):
                raise changed_while_sent(key)
            return response

        began = control.part_started()
        response = with_retries(attempt, meter.stop, meter.live, key)
        control.part_confirmed(began, length)
        meter.live.touch()  # S3 has the part: progress no retry can take back
        first_done.set()  # a part finished: no reason left to hold anyone back
        return _Part(number, str(response["ETag"]).strip('"'), crc, length)

    def worker() -> list[_Part]:
        done: list[_Part] = []
        while not meter.stop.is_set():
            with control.slot(meter.stop.is_set):
                number = next_part()
                if number is None:
                    return done
                done.append(send(number))
        raise Stopped()

    with ThreadPoolExecutor(max_workers=ceiling, thread_name_prefix="vam-up") as pool:
        futures = [pool.submit(worker) for _ in range(ceiling)]
        try:
            for future in as_completed(futures):
                for part in future.result():
                    sent[part.number] = part
        except BaseException:
            meter.stop.set()
            for future in futures:
                future.cancel()
            raise
        finally:
            control.finish()
            meter.control = None
    return sent


# The first wave's staggered start takes at most 4 × STAGGER seconds in all (4 parts: 0.1 s
# apart; 16 on a long link: 0.025 s apart, where the line waits for every one of them)
STAGGER = 0.1


def changed_while_sent(key: str) -> ChangedDuringUpload:
    return ChangedDuringUpload(
        f"{key}: the local file changed while it was being uploaded; nothing was recorded as "
        "uploaded: let the program writing it finish, then run again"
    )


def _complete(
    s3: Any,
    bucket: str,
    key: str,
    upload_id: str,
    parts: list[_Part],
    crc32: int,
    if_match: str | None,
    if_none_match: bool,
    meter: Meter,
) -> dict:
    kwargs: dict[str, Any] = dict(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {
                    "PartNumber": p.number,
                    "ETag": quoted(p.etag),
                    "ChecksumCRC32": crc32_b64(p.crc32),
                }
                for p in parts
            ]
        },
        ChecksumCRC32=crc32_b64(crc32),
        ChecksumType="FULL_OBJECT",
        **conditional_args(if_match, if_none_match),
    )
    expected = etag_of_parts([p.etag for p in parts])
    try:
        return with_retries(lambda: s3.complete_multipart_upload(**kwargs), meter.stop)
    except bce.ClientError as exc:
        if not (error_code(exc) == "NoSuchUpload" or precondition_failed(exc)):
            raise
        # A retry (ours or botocore's) after a lost response may find the upload already
        # completed: if the object holds exactly our parts and checksum, it is ours.
        if expected and is_our_object(s3, bucket, key, expected, crc32):
            return s3.head_object(Bucket=bucket, Key=key)
        if precondition_failed(exc):
            raise remote_changed(bucket, key) from None
        raise
