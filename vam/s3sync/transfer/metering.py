"""Counting (and rate-capping) the bytes of one transfer where they actually leave, and stopping
its worker threads together.

botocore hands the request body to urllib3 after signing; a `before-send` hook wraps it so every
read by the HTTP layer is paced and reported. A retry rewinds the body, which takes the reported
bytes back; a request that fails takes back all it reported.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from vam.s3sync.transfer.progress import Progress
from vam.s3sync.transfer.ratelimit import RateLimiter
from vam.s3sync.transfer.retries import Liveness

T = TypeVar("T")


class Stopped(BaseException):
    """Another worker failed or the user interrupted: stop sending as soon as possible.

    A BaseException on purpose: botocore wraps any Exception raised while the body is being sent
    into a retryable HTTPClientError and would retry it; this one passes through untouched."""


class _BodyFailed(BaseException):
    """Carries an exception from our own code (progress, rate limiter) out of the HTTP stack."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class StopFlag:
    """Set when this transfer must stop: by its own workers (one failed), or from outside through
    the caller's `cancel` event (the user pressed Ctrl-C while several files were moving)."""

    def __init__(self, cancel: threading.Event | None) -> None:
        self._own = threading.Event()
        self._cancel = cancel

    def set(self) -> None:
        self._own.set()

    def is_set(self) -> bool:
        return self._own.is_set() or (self._cancel is not None and self._cancel.is_set())


class Meter:
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
        self.stop = StopFlag(cancel)
        self.sent = 0  # request body bytes handed to the HTTP layer (retries taken back)
        self._sent_changed = threading.Condition()
        # when the transfer last made progress that a retry cannot take back (a part S3
        # confirmed, bytes written to the partial file): retries go on while it is recent
        self.live = Liveness()
        self.control: Any = None  # the transfer's Parallelism, fed with every byte moved

    def note_sent(self, nbytes: int) -> None:
        with self._sent_changed:
            self.sent += nbytes
            self._sent_changed.notify_all()
        if nbytes > 0:
            self.moved(nbytes)

    def moved(self, nbytes: int) -> None:
        """Bytes that went out or came in: the level learns the rate."""
        control = self.control
        if control is not None:
            control.note(nbytes)

    def wait_sent(
        self, threshold: int, give_up: threading.Event, timeout: float | None = None
    ) -> None:
        """Block until `threshold` bytes went out, the transfer stops, `give_up` is set, or
        `timeout` seconds passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._sent_changed:
            while self.sent < threshold and not self.stop.is_set() and not give_up.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    return
                self._sent_changed.wait(0.05)


class _Call:
    """Bytes reported during one request (taken back if the request fails)."""

    def __init__(self, meter: Meter) -> None:
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
            raise Stopped()
        if meter.limiter is not None:
            step = meter.limiter.chunk_size()
            size = step if size is None or size < 0 else min(size, step)
        try:
            data = self._raw.read(size)  # a part streamed from its file may find it changed
        except Exception as exc:
            raise _BodyFailed(exc) from exc
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


def install_meter(s3: Any) -> None:
    """Wrap the body of every PutObject and UploadPart this client sends (once per client)."""
    for operation in ("PutObject", "UploadPart"):
        s3.meta.events.register(
            f"before-send.s3.{operation}", _meter_body, unique_id=f"vam-meter-{operation}"
        )


def metered(meter: Meter, fn: Callable[..., T], **kwargs: Any) -> T:
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
