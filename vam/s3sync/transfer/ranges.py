"""Fetching a download's ranges into its partial file, as many ranged GETs at once as the link
rewards (concurrency.py), each with If-Match on the ETag, streamed in chunks, continued from the
bytes already on disk after a dropped connection, with the CRC32 taken as the bytes stream.

The file is cut into a grid of segments (`ranges_for`: what the resume record counts bytes in).
A worker claims a run of consecutive untouched segments, up to DOWNLOAD_RANGE bytes and no more
than an equal share for the most workers there may be, and fetches it with one GET. When nothing
is left to claim, an idle worker takes the second half of the largest run still in flight (the
run's owner stops at the new end): the last bytes of a file arrive over several connections, not
one, which on a link that gives each connection 1 MB/s is the difference between seconds and a
minute at the end of every download.
"""

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
from vam.s3sync.transfer.concurrency import Parallelism, endpoint_key
from vam.s3sync.transfer.download_state import DownloadState, checkpointer
from vam.s3sync.transfer.etags import quoted
from vam.s3sync.transfer.metering import Meter, Stopped
from vam.s3sync.transfer.retries import backoff, keep_trying, precondition_failed
from vam.s3sync.transfer.roundtrip import long_link
from vam.s3sync.transfer.values import RemoteChanged

MAX_SEGMENTS = 2048  # the grid's segments double in size above this (the record stays small)


def ranges_for(size: int) -> list[tuple[int, int]]:
    """The grid: segments of DOWNLOAD_GRID bytes (doubled until there are at most MAX_SEGMENTS),
    the last one shorter. Fine-grained so the last bytes can be shared out (a segment is what
    one connection may still owe at the very end)."""
    if size == 0:
        return []
    step = min(tuning.DOWNLOAD_GRID, tuning.MIN_DOWNLOAD_RANGE)
    while -(-size // step) > MAX_SEGMENTS:
        step *= 2
    return [(start, min(start + step, size)) for start in range(0, size, step)]


def moved(bucket: str, key: str) -> RemoteChanged:
    return RemoteChanged(
        f"s3://{bucket}/{key} changed on S3 during the download (a new version was uploaded); "
        "nothing was written: run s3.status and download again"
    )


class _Run:
    """Segments [first, last) of the grid, fetched by one worker; `last` may be lowered by a
    worker that takes over the run's second half."""

    def __init__(self, first: int, last: int) -> None:
        self.first = first
        self.last = last
        self.current = first  # the segment being written


class _Plan:
    """Which segments are claimed, by which run; claims and steals under one lock."""

    def __init__(self, ranges: list[tuple[int, int]], state: DownloadState, ceiling: int):
        self.ranges = ranges
        self.state = state
        self.lock = threading.Lock()
        self.next = 0  # first segment nobody has claimed
        self.running: list[_Run] = []
        left = sum(e - s - state.done.get(s, 0) for s, e in ranges)
        share = left // max(1, ceiling)  # an equal share for the most workers there may be
        self.run_bytes = max(tuning.MIN_DOWNLOAD_RANGE, min(tuning.DOWNLOAD_RANGE, share))

    def _partial(self, index: int) -> bool:
        return self.state.done.get(self.ranges[index][0], 0) > 0

    def _missing(self, index: int) -> bool:
        start, end = self.ranges[index]
        return self.state.done.get(start, 0) < end - start

    def claim(self) -> _Run | None:
        with self.lock:
            while self.next < len(self.ranges) and not self._missing(self.next):
                self.next += 1
            if self.next < len(self.ranges):
                first = self.next
                last, nbytes = first, 0
                while last < len(self.ranges) and nbytes < self.run_bytes:
                    # a run continues a partial segment only as its first (read back on resume)
                    if last > first and (not self._missing(last) or self._partial(last)):
                        break
                    start, end = self.ranges[last]
                    nbytes += end - start
                    last += 1
                self.next = last
                run = _Run(first, last)
                self.running.append(run)
                return run
            # nothing left to claim: take the second half of the largest run in flight
            victim = max(self.running, key=lambda r: r.last - r.current, default=None)
            if victim is None or victim.last - victim.current < 2:
                return None
            middle = victim.current + 1 + (victim.last - victim.current - 1) // 2
            run = _Run(middle, victim.last)
            victim.last = middle
            self.running.append(run)
            return run

    def done(self, run: _Run) -> None:
        with self.lock:
            self.running.remove(run)


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
    """Fetch what is missing of every segment; (CRC32 of the whole file, version id)."""
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
    crcs: dict[int, int] = {}  # segment start -> CRC32 of its bytes
    ceiling = max(1, min(tuning.DOWNLOAD_WORKERS, len(ranges)))
    long = long_link(s3)
    start_level = min(ceiling, tuning.LONG_LINK_START if long else tuning.START_DOWNLOAD_WORKERS)
    control = Parallelism(
        start_level,
        ceiling,
        key=endpoint_key(s3, "down") if len(ranges) > 4 else None,
        short=not long,
    )
    meter.control = control
    plan = _Plan(ranges, state, ceiling)
    # on a long link a connection brings ~1 MB/s: read less at a time, so the level measures
    # a steady rate (and Ctrl-C is seen within a fraction of a second)
    read_size = tuning.LONG_LINK_CHUNK if long else tuning.DOWNLOAD_CHUNK

    def on_disk(index: int) -> tuple[int, int]:
        """(bytes of segment `index` already on disk, their CRC32), read back on a resume."""
        start, end = ranges[index]
        have = min(state.done.get(start, 0), end - start)
        crc = crc32_of_range(fd, start, have, lambda n: meter.progress.advance(meter.name, n))
        return have, crc

    def fetch(run: _Run) -> None:
        index = run.current
        have, crc = on_disk(index)
        position = ranges[index][0] + have
        saved = position
        attempt = 0
        try:
            while True:
                with plan.lock:
                    last = run.last
                if index >= last:
                    return
                end = ranges[last - 1][1]
                if position >= end:
                    return
                carried = False  # whether this try brought bytes before it failed
                try:
                    response = s3.get_object(
                        Bucket=bucket,
                        Key=key,
                        Range=f"bytes={position}-{end - 1}",
                        IfMatch=quoted(etag),
                    )
                    versions.append(response.get("VersionId"))
                    body = response["Body"]
                    step = meter.limiter.chunk_size() if meter.limiter else read_size
                    try:
                        while True:
                            seg_start, seg_end = ranges[index]
                            if position >= seg_end:  # the segment is complete
                                crcs[seg_start] = crc
                                state.advance(seg_start, seg_end - seg_start)
                                with plan.lock:
                                    index += 1
                                    run.current = index
                                    last = run.last
                                if index >= last:
                                    return  # the run ends here (maybe taken over: stop early)
                                have, crc = 0, 0
                                continue
                            if meter.stop.is_set():
                                raise Stopped()
                            chunk = body.read(min(step, seg_end - position))
                            if not chunk:
                                raise bce.ResponseStreamingError(error="connection closed early")
                            if meter.limiter is not None:
                                meter.limiter.acquire(len(chunk))
                            write_at(fd, chunk, position)
                            crc = zlib.crc32(chunk, crc)
                            position += len(chunk)
                            meter.progress.advance(meter.name, len(chunk))
                            meter.moved(len(chunk))
                            meter.live.touch()  # on disk: a retry continues from here
                            state.advance(seg_start, position - seg_start)
                            attempt = 0  # the connection carried bytes: back off from scratch
                            carried = True
                            if position - saved >= tuning.CHECKPOINT_BYTES:
                                state.wake.set()  # the checkpointer saves it, off this thread
                                saved = position
                    finally:
                        body.close()
                except bce.ClientError as exc:
                    if precondition_failed(exc):
                        raise moved(bucket, key) from None
                    if meter.stop.is_set():
                        raise
                    keep_trying(exc, meter.live, key)
                except (bce.BotoCoreError, ConnectionError, TimeoutError) as exc:
                    # a dropped connection mid-body: go on from the bytes already written
                    if meter.stop.is_set():
                        raise
                    keep_trying(exc, meter.live, key)
                if not carried:  # a connection reset while it carried bytes: again at once
                    backoff(attempt)
                    attempt += 1
        except BaseException:
            if index < len(ranges) and position > ranges[index][0]:
                state.advance(ranges[index][0], position - ranges[index][0])  # written already
            try:
                state.save()  # keep what arrived, for the next run
            except OSError:
                pass  # (a full disk) the record saved before stays: it never claims too much
            raise

    def worker() -> None:
        while not meter.stop.is_set():
            with control.slot(meter.stop.is_set):
                run = plan.claim()
                if run is None:
                    return
                try:
                    fetch(run)
                finally:
                    plan.done(run)
        raise Stopped()

    finished = threading.Event()
    checkpoints = threading.Thread(
        target=checkpointer, args=(state, finished), name="vam-checkpoint", daemon=True
    )
    checkpoints.start()
    try:
        with ThreadPoolExecutor(max_workers=ceiling, thread_name_prefix="vam-down") as pool:
            futures = [pool.submit(worker) for _ in range(ceiling)]
            try:
                for future in as_completed(futures):
                    future.result()
            except BaseException:
                meter.stop.set()
                for future in futures:
                    future.cancel()
                raise
            finally:
                control.finish()
                meter.control = None
    finally:
        finished.set()
        state.wake.set()
        checkpoints.join()  # before the caller closes the descriptor it fsyncs
    for start, end in ranges:
        if start not in crcs:  # complete on disk before this run (a resumed download)
            crcs[start] = crc32_of_range(
                fd, start, end - start, lambda n: meter.progress.advance(meter.name, n)
            )
    whole = crc32_of_pieces([(crcs[s], e - s) for s, e in ranges])
    return whole, next((v for v in versions if v), None)
