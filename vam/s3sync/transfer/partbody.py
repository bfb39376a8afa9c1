"""One part of a multipart upload as a request body: read from the file at its offset as the
HTTP layer sends it (no part-sized buffer in memory, so many parts can be in flight on a long
link), its CRC32 taken over the bytes actually sent, so a file changed between the checksum
(sent in the request's header) and the send is caught."""

from __future__ import annotations

import io
import threading
import zlib

from vam.core.posio import read_at, read_into
from vam.s3sync.transfer import tuning
from vam.s3sync.transfer.values import ChangedDuringUpload


class PartBody(io.RawIOBase):
    """Bytes [offset, offset + length) of `fd`, seekable (botocore rewinds a body to retry)."""

    def __init__(self, fd: int, offset: int, length: int) -> None:
        super().__init__()
        self._fd = fd
        self._offset = offset
        self._length = length
        self._position = 0
        self._crc = 0
        self._crc_upto = 0  # the CRC covers bytes [0, _crc_upto) read in order

    def __len__(self) -> int:
        return self._length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        left = self._length - self._position
        if left <= 0:
            return b""
        n = left if size is None or size < 0 else min(size, left)
        data = read_at(self._fd, n, self._offset + self._position)
        if len(data) < n:
            raise ChangedDuringUpload(
                "the local file shrank while it was being uploaded; nothing was recorded as "
                "uploaded: let the program writing it finish, then run again"
            )
        if self._position == self._crc_upto:
            self._crc = zlib.crc32(data, self._crc)
            self._crc_upto += len(data)
        self._position += len(data)
        return data

    def readinto(self, buffer) -> int:  # pragma: no cover - the HTTP layer uses read()
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            offset += self._length
        self._position = max(0, min(self._length, offset))
        if self._position == 0:
            self._crc, self._crc_upto = 0, 0
        return self._position

    def tell(self) -> int:
        return self._position

    def sent_crc(self) -> int | None:
        """The CRC32 of the whole part as it was read for sending (None if not read whole)."""
        return self._crc if self._crc_upto == self._length else None


_buffers = threading.local()


def part_crc32(fd: int, offset: int, length: int) -> int:
    """The CRC32 of a part before it is sent (it goes in the request's header), read through
    one PART_READ buffer per thread: memory stays a buffer per part in flight, not a part."""
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None or len(buffer) != tuning.PART_READ:
        buffer = _buffers.buffer = memoryview(bytearray(tuning.PART_READ))
    crc, position, end = 0, offset, offset + length
    while position < end:
        got = read_into(fd, buffer[: min(len(buffer), end - position)], position)
        if not got:
            raise ChangedDuringUpload(
                "the local file shrank while it was being uploaded; nothing was recorded as "
                "uploaded: let the program writing it finish, then run again"
            )
        crc = zlib.crc32(buffer[:got], crc)
        position += got
    return crc
