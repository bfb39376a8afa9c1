"""The object's ETag, computed from the downloaded bytes in file order while ranges are still
arriving: the MD5 of the whole file, or S3's MD5 of the part MD5s for a multipart object.

For objects that carry no CRC32 (uploaded by another tool to a server that keeps no checksums)
the ETag is the only evidence; hashing behind the download, on its own thread (hashlib releases
the GIL), saves reading the whole file again once it is complete.
"""

from __future__ import annotations

import bisect
import hashlib
import threading

from vam.core.posio import read_into
from vam.s3sync.transfer import tuning
from vam.s3sync.transfer.download_state import DownloadState
from vam.s3sync.transfer.etags import MD5_ETAG, MULTIPART_ETAG
from vam.s3sync.transfer.values import RemoteDetails


class EtagFollower:
    """Hashes the partial file from its start as far as the bytes on disk reach without a gap."""

    STEP = 8 * tuning.MiB  # one read of the partial file (a constant, not a tunable)

    def __init__(
        self,
        fd: int,
        size: int,
        ranges: list[tuple[int, int]],
        state: DownloadState,
        part_size: int | None,
    ) -> None:
        self.fd, self.size, self.ranges, self.state = fd, size, ranges, state
        self._starts = [start for start, _ in ranges]
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

    def start(self) -> EtagFollower:
        self._thread.start()
        return self

    def _contiguous(self) -> int:
        """How far the bytes on disk reach from the start of the file without a gap."""
        with self.state.lock:
            done = dict(self.state.done)
        # from the segment the hashing has reached: the grid can have thousands of segments
        first = max(0, bisect.bisect_right(self._starts, self.position) - 1)
        reach = self.ranges[first][0] if self.ranges else 0
        for start, end in self.ranges[first:]:
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


def follower_for(
    fd: int,
    size: int,
    ranges: list[tuple[int, int]],
    state: DownloadState,
    etag: str,
    crc32: int | None,
    details: RemoteDetails | None,
) -> EtagFollower | None:
    """A running EtagFollower when the ETag will be the evidence (verify's order), else None."""
    if not ranges or crc32 is not None or details is None or details.crc32 is not None:
        return None
    if MD5_ETAG.match(etag):
        return EtagFollower(fd, size, ranges, state, None).start()
    if MULTIPART_ETAG.match(etag) and details.part_size:
        return EtagFollower(fd, size, ranges, state, details.part_size).start()
    return None
