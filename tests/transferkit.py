"""Helpers shared by the transfer tests: an S3 client like vam's, byte counters on the wire, and
progress hooks that interrupt a transfer the way Ctrl-C or a dropped network would."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config as BotoConfig


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


class FlakyProxy:
    """A TCP proxy on loopback in front of the S3 server that cuts connections like a home
    network drops them: the first `cuts` connections that carry more than `after` bytes in the
    chosen direction ("up": request bodies, "down": response bodies) are reset mid-stream."""

    def __init__(self, endpoint_url: str, *, direction: str, after: int, cuts: int = 1) -> None:
        import socket
        from urllib.parse import urlparse

        target = urlparse(endpoint_url)
        self.target = (target.hostname, target.port)
        self.direction = direction
        self.after = after
        self.cuts = cuts
        self.cut = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            pair = (client, upstream)
            threading.Thread(
                target=self._pump, args=(client, upstream, "up", pair), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, "down", pair), daemon=True
            ).start()

    def _pump(self, src: Any, dst: Any, direction: str, pair: tuple) -> None:
        import socket
        import struct

        moved = 0
        try:
            while data := src.recv(65536):
                moved += len(data)
                if direction == self.direction and moved > self.after:
                    with self._lock:
                        cut = self.cut < self.cuts
                        self.cut += cut
                    if cut:  # drop both sides mid-stream, as a dropped Wi-Fi would
                        dst.sendall(data[: len(data) - (moved - self.after)])
                        for sock in pair:
                            linger = struct.pack("ii", 1, 0)  # reset, don't flush
                            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                            # shutdown first: it wakes the other pump blocked in recv()
                            sock.shutdown(socket.SHUT_RDWR)
                            sock.close()
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        self._listener.close()
