"""What an S3 error means to the engine (refused condition, missing, worth another try) and the
engine's own retries of a part or a request, on top of botocore's."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import botocore.exceptions as bce

from vam.s3sync.transfer import tuning

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
    if isinstance(exc, (bce.ConnectionError, bce.HTTPClientError, ConnectionError, TimeoutError)):
        return True
    return error_code(exc) in _RETRYABLE_CODES


def backoff(attempt: int) -> None:
    """Sleep before try `attempt + 1`: exponential, with jitter so parallel workers spread out."""
    time.sleep(tuning.BACKOFF_SECONDS * (2**attempt) * (0.5 + random.random()))


def with_retries(call: Callable[[], T], stop: threading.Event) -> T:
    for attempt in range(tuning.ATTEMPTS):
        try:
            return call()
        except Exception as exc:
            if attempt == tuning.ATTEMPTS - 1 or stop.is_set() or not retryable(exc):
                raise
        backoff(attempt)
    raise AssertionError("unreachable")
