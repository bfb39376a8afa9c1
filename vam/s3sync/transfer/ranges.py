"""Fetching a download's ranges into its partial file: a few large ranged GETs in parallel, each
with If-Match on the ETag, streamed in chunks, continued from the bytes already on disk after a
dropped connection, with the CRC32 of each range taken as it streams."""

from __future__ import annotations

import threading
import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import botocore.exceptions as bce

from vam.core.checksum import crc32_of_range
from vam.core.crc import crc32_of_pieces
from vam.core.posio import write_at
from vam.s3sync.transfer import tuning
from vam.s3sync.transfer.download_state import DownloadState, checkpointer
from vam.s3sync.transfer.etags import quoted
from vam.s3sync.transfer.metering import Meter, Stopped
from vam.s3sync.transfer.retries import backoff, precondition_failed, retryable
from vam.s3sync.transfer.values import RemoteChanged


def ranges_for(size: int) -> list[tuple[int, int]]:
    """Few large ranges: about one per worker, between MIN_ and DOWNLOAD_RANGE bytes."""
    if size == 0:
        return []
    step = -(-size // tuning.DOWNLOAD_WORKERS)
    step = max(tuning.MIN_DOWNLOAD_RANGE, min(tuning.DOWNLOAD_RANGE, step))
    return [(start, min(start + step, size)) for start in range(0, size, step)]


def moved(bucket: str, key: str) -> RemoteChanged:
    return RemoteChanged(
        f"s3://{bucket}/{key} changed on S3 during the download (a new version was uploaded); "
        "nothing was written: run s3.status and download again"
    )


def fetch_ranges(
    s3: Any,
    bucket: str,
    key: str,
    etag: str,
    fd: int,
    ranges: list[tuple[int, int]],
    state: DownloadState,
    meter: Meter,
) -> tuple[int, str | None]:
    """Fetch what is missing of every range; (CRC32 of the whole file, version id)."""
    if not ranges:  # an empty object: one GET still proves the version exists
        try:
            response = s3.get_object(Bucket=bucket, Key=key, IfMatch=quoted(etag))
        except bce.ClientError as exc:
            if precondition_failed(exc):
                raise moved(bucket, key) from None
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
                        IfMatch=quoted(etag),
                    )
                    versions.append(response.get("VersionId"))
                    body = response["Body"]
                    step = meter.limiter.chunk_size() if meter.limiter else tuning.DOWNLOAD_CHUNK
                    try:
                        while position < end:
                            if meter.stop.is_set():
                                raise Stopped()
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
                            if position - saved >= tuning.CHECKPOINT_BYTES:
                                state.wake.set()  # the checkpointer saves it, off this thread
                                saved = position
                                failures = 0
                    finally:
                        body.close()
                except bce.ClientError as exc:
                    if precondition_failed(exc):
                        raise moved(bucket, key) from None
                    if not retryable(exc) or failures >= tuning.ATTEMPTS - 1:
                        raise
                    failures += 1
                except (bce.BotoCoreError, ConnectionError, TimeoutError):
                    # a dropped connection mid-body: go on from the bytes already written
                    if failures >= tuning.ATTEMPTS - 1:
                        raise
                    failures += 1
                if position < end:
                    backoff(failures - 1)
        except BaseException:
            state.advance(start, position - start)
            try:
                state.save()  # keep what arrived, for the next run
            except OSError:
                pass  # (a full disk) the record saved before stays: it never claims too much
            raise
        state.advance(start, end - start)
        return crc

    workers = min(tuning.DOWNLOAD_WORKERS, len(ranges))
    crcs: dict[int, int] = {}
    finished = threading.Event()
    checkpoints = threading.Thread(
        target=checkpointer, args=(state, finished), name="vam-checkpoint", daemon=True
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
