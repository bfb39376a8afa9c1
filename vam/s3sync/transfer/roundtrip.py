"""The round trip of a client's small requests (HEAD, LIST, the index GET, a multipart create),
observed on the wire: what the engine knows of the link before a large file starts.

A part takes part_size / (one connection's rate) to send, and a dropped connection costs its
bytes again; on a long link (LONG_RTT or more) one connection's rate is loss-limited to about
1 MB/s, so parts are smaller there (tuning.LONG_LINK_PART_SIZE) and a reset or the last part's
tail costs seconds, not tens of seconds. On loopback and a LAN (under LOCAL_RTT) a large file
goes in larger parts (fewer requests; the server is the limit, and a lost part costs a fraction
of a second there).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from vam.s3sync.transfer import tuning

_SMALL = ("HeadObject", "ListObjectsV2", "CreateMultipartUpload", "GetObject", "HeadBucket")
_local = threading.local()
_lock = threading.Lock()
_best: dict[int, float] = {}  # id(client) -> shortest round trip seen


def _sent(**_: Any) -> None:
    _local.started = time.monotonic()


def _answered(http_response: Any = None, **_: Any) -> None:
    started = getattr(_local, "started", None)
    if started is None:
        return
    _local.started = None
    client = getattr(_local, "client", None)
    seconds = time.monotonic() - started
    if client is None:
        return
    with _lock:
        _best[client] = min(_best.get(client, seconds), seconds)


def observe(s3: Any) -> None:
    """Time this client's small requests from now on (once per client)."""
    events = s3.meta.events
    key = id(s3)

    def mark(**kwargs: Any) -> None:
        _local.client = key
        _sent(**kwargs)

    for op in _SMALL:
        events.register(f"before-send.s3.{op}", mark, unique_id=f"vam-rtt-send-{op}")
        events.register(f"after-call.s3.{op}", _answered, unique_id=f"vam-rtt-done-{op}")


def round_trip(s3: Any) -> float | None:
    """The shortest round trip seen on this client, seconds (None before any request)."""
    with _lock:
        return _best.get(id(s3))


def long_link(s3: Any) -> bool:
    rtt = round_trip(s3)
    return rtt is not None and rtt >= tuning.LONG_RTT


def local_link(s3: Any) -> bool:
    """Loopback or a LAN: the shortest round trip seen is under LOCAL_RTT (none seen yet: not
    local)."""
    rtt = round_trip(s3)
    return rtt is not None and rtt < tuning.LOCAL_RTT
