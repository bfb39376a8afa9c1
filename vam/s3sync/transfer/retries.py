"""What an S3 error means to the engine (refused condition, missing, worth another try) and the
engine's own retries of a part or a request, on top of botocore's: exponential backoff, for as
long as the transfer makes progress, then one line (Stalled)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import botocore.exceptions as bce

from vam.s3sync.transfer import tuning
from vam.s3sync.transfer.values import Stalled

T = TypeVar("T")


def error_code(exc: BaseException) -> str:
    if isinstance(exc, bce.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _status(exc: BaseException) -> int | None:
    if isinstance(exc, bce.ClientError):
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def precondition_failed(exc: BaseException) -> bool:
    return error_code(exc) == "PreconditionFailed" or _status(exc) == 412


def not_found(exc: BaseException) -> bool:
    return error_code(exc) in ("404", "NoSuchKey", "NotFound") or _status(exc) == 404


_RETRYABLE_CODES = {
    "RequestTimeout",
    "InternalError",
    "SlowDown",
    "ServiceUnavailable",
    "500",
    "503",
}


def retryable(exc: BaseException) -> bool:
    """A dropped or timed-out connection, or S3 still busy after botocore's own retries."""
    dropped = (
        bce.ConnectionError,
        bce.HTTPClientError,
        bce.IncompleteReadError,  # a response body cut short
        bce.ResponseStreamingError,
        ConnectionError,
        TimeoutError,
    )
    if isinstance(exc, dropped):
        return True
    return error_code(exc) in _RETRYABLE_CODES


def backoff(attempt: int) -> None:
    """Sleep before try `attempt + 1`: exponential (capped), with jitter so parallel workers
    spread out."""
    delay = min(tuning.MAX_BACKOFF_SECONDS, tuning.BACKOFF_SECONDS * (2 ** min(attempt, 16)))
    time.sleep(delay * (0.5 + random.random()))


class Liveness:
    """When the transfer last moved a byte (any of its workers): a dropped connection is tried
    again for as long as the others, or the tries themselves, make progress."""

    def __init__(self) -> None:
        self.moved_at = time.monotonic()

    def touch(self) -> None:
        self.moved_at = time.monotonic()

    def stalled_for(self) -> float:
        return time.monotonic() - self.moved_at


def keep_trying(exc: BaseException, live: Liveness, what: str) -> None:
    """Raise unless `exc` is worth another try: a retryable error while the transfer still moves
    (within STALL_SECONDS of its last byte). A stalled one becomes Stalled: one line, and the
    caller keeps what arrived."""
    if not retryable(exc):
        raise exc
    idle = live.stalled_for()
    if idle >= tuning.STALL_SECONDS:
        raise Stalled(
            f"{what}: no progress for {_duration(idle)} (the connection keeps failing: "
            f"{_cause(exc)}); what was transferred is kept: run the same command again to "
            "resume once the network is back"
        ) from exc


def _cause(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


def _duration(seconds: float) -> str:
    if seconds >= 90:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def with_retries(
    call: Callable[[], T], stop: threading.Event, live: Liveness | None = None, what: str = ""
) -> T:
    """`call()` until it succeeds. Without `live`: ATTEMPTS tries of a retryable error. With it:
    as long as the transfer makes progress (keep_trying), backing off exponentially between
    consecutive failures."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            if stop.is_set():
                raise
            if live is None:
                if attempt >= tuning.ATTEMPTS - 1 or not retryable(exc):
                    raise
            else:
                keep_trying(exc, live, what)
        backoff(attempt)
        attempt += 1
