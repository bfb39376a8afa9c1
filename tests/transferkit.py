"""Helpers shared by the transfer tests: an S3 client like vam's, byte counters on the wire, and
progress hooks that interrupt a transfer the way Ctrl-C or a dropped network would, and the
loopback proxy (benchmarks/proxy.py) that drops connections."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config as BotoConfig

from benchmarks.proxy import Cuts, Proxy


def make_client(endpoint_url: str | None = None):
    """An S3 client configured like vam's own (awsclient.Aws.client), on the moto server."""
    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        config=BotoConfig(
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=16,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"},
        ),
    )


class Wire:
    """Counts the bytes that really travel: request bodies of uploads, response bodies of GETs."""

    def __init__(self, client: Any) -> None:
        self.sent = 0
        self.received = 0
        self.requests: dict[str, int] = {}
        self._lock = threading.Lock()
        events = client.meta.events
        for op in ("PutObject", "UploadPart"):
            events.register(f"before-send.s3.{op}", self._on_send, unique_id=f"wire-send-{op}")
        events.register("after-call.s3.GetObject", self._on_get, unique_id="wire-get")
        events.register("before-call.s3", self._on_call, unique_id="wire-call")

    def _on_call(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.requests[model.name] = self.requests.get(model.name, 0) + 1

    def _on_send(self, request: Any, **_: Any) -> None:
        with self._lock:
            self.sent += int(request.headers.get("Content-Length", 0))

    def _on_get(self, parsed: Any, **_: Any) -> None:
        with self._lock:
            self.received += int(parsed.get("ContentLength", 0))

    def reset(self) -> None:
        with self._lock:
            self.sent = self.received = 0
            self.requests.clear()


class Interrupted(Exception):
    """Stands for Ctrl-C / a dropped network in the middle of a transfer."""


class StopAfter:
    """A Progress that interrupts the transfer once `limit` bytes have gone through."""

    def __init__(self, limit: int, action: Any = None) -> None:
        self.limit = limit
        self.seen = 0
        self.action = action
        self.fired = False
        self._lock = threading.Lock()

    def start_file(self, name: str, total: int) -> None:
        pass

    def advance(self, name: str, nbytes: int) -> None:
        with self._lock:
            self.seen += nbytes
            over = nbytes > 0 and self.seen >= self.limit and not self.fired
            if over and self.action is not None:
                self.fired = True  # an action happens once; an interruption every time
        if over:
            if self.action is not None:
                self.action()
            else:
                raise Interrupted(f"interrupted after {self.seen} bytes")

    def end_file(self, name: str, ok: bool) -> None:
        pass


class Recorder:
    """A Progress that remembers every call (and checks the protocol's thread-safety needs)."""

    def __init__(self) -> None:
        self.total = 0
        self.started: dict[str, int] = {}
        self.ended: dict[str, bool] = {}
        self.negative = 0
        self._lock = threading.Lock()

    def start_file(self, name: str, total: int) -> None:
        self.started[name] = total

    def advance(self, name: str, nbytes: int) -> None:
        with self._lock:
            self.total += nbytes
            if nbytes < 0:
                self.negative += nbytes

    def end_file(self, name: str, ok: bool) -> None:
        self.ended[name] = ok


def flaky_proxy(endpoint_url: str, *, direction: str, after: int, cuts: int = 1) -> Proxy:
    """A TCP proxy on loopback in front of the S3 server that cuts connections like a home
    network drops them: the first `cuts` connections that carry more than `after` bytes in the
    chosen direction ("up": request bodies, "down": response bodies) are reset mid-stream.
    The benchmark's proxy (benchmarks/proxy.py), which also counts what went through."""
    target = urlsplit(endpoint_url)
    upstream = (target.hostname or "127.0.0.1", target.port or 80)
    return Proxy(upstream, cuts=Cuts(direction, after, cuts)).start()
