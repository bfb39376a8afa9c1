"""An HTTP proxy on loopback that plays a weaker S3-compatible server in front of moto's.

Some S3-compatible servers accept If-Match / If-None-Match (and the copy-source conditions) and
ignore them. This proxy reproduces that for real, on the wire: it forwards every request to the
upstream server with those headers removed, so vam talks to a server that "accepts" conditional
writes and never refuses one. It also logs every request (method, target, which conditional
headers it carried), can answer a request itself (e.g. 403 to GetBucketVersioning, as for an
editor's least-privilege key), and can call back before forwarding a request, so a test can let
"Jan" upload at an exact moment of David's run.

Requests are parsed (head, then a body by Content-Length or chunked); responses are pumped back
as raw bytes, which is enough for HTTP/1.1 clients that do not pipeline (botocore's urllib3).
It is benchmarks/proxy.py's proxy (listener, upstream connections, counts) with its
client-to-server direction replaced by the request reader below.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from benchmarks.proxy import Connection, Proxy

CONDITIONAL = (
    "if-match",
    "if-none-match",
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-none-match",
)


@dataclass(frozen=True)
class Seen:
    method: str
    target: str  # path and query, as sent
    conditions: tuple[str, ...]  # the conditional headers the client sent (lower case)
    expect: bool = False  # it asked for "100 Continue" before sending its body


# (method, target) -> (status, S3 error code) to answer instead of forwarding, or None
Refuse = Callable[[str, str], tuple[int, str] | None]
# (method, target) -> None, run before the request is forwarded
Before = Callable[[str, str], None]


class HeaderProxy(Proxy):
    """benchmarks/proxy.py's proxy, reading the client's requests instead of pumping raw bytes
    (responses are pumped back as they come)."""

    def __init__(
        self,
        upstream_url: str,
        *,
        strip: tuple[str, ...] = CONDITIONAL,
        refuse: Refuse | None = None,
        before: Before | None = None,
    ) -> None:
        parts = urlsplit(upstream_url)
        super().__init__((parts.hostname or "127.0.0.1", parts.port or 80))
        self.strip = tuple(h.lower() for h in strip)
        self.refuse = refuse
        self.before = before
        self.seen: list[Seen] = []

    def requests(self, method: str | None = None, contains: str = "") -> list[Seen]:
        with self._lock:
            seen = list(self.seen)
        return [s for s in seen if (method is None or s.method == method) and contains in s.target]

    def clear(self) -> None:
        with self._lock:
            self.seen.clear()

    def forward_requests(self, conn: Connection) -> None:
        reader = _Reader(conn.client)
        send = conn.sendall_up
        try:
            while True:
                head = reader.until(b"\r\n\r\n")
                if head is None:
                    break
                request_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
                method, target, _version = request_line.split(" ", 2)
                kept, conditions, length, chunked, expect = [], [], 0, False, False
                for line in header_lines:
                    name, _, value = line.partition(":")
                    low = name.strip().lower()
                    if low in CONDITIONAL:
                        conditions.append(low)
                    if low in self.strip:
                        continue
                    if low == "content-length":
                        length = int(value.strip())
                    if low == "transfer-encoding" and "chunked" in value.lower():
                        chunked = True
                    if low == "expect" and "100-continue" in value.lower():
                        expect = True
                    kept.append(line)
                with self._lock:
                    self.seen.append(Seen(method, target, tuple(conditions), expect))
                refused = self.refuse(method, target) if self.refuse else None
                if refused is not None:
                    # answered here, and the connection closed after it (a body the client may
                    # still send is never read); clients do not pipeline, so no response of the
                    # server is on its way on this connection
                    conn.client.sendall(_error_response(*refused))
                    conn.abort()
                    return
                if self.before is not None:
                    self.before(method, target)
                send(("\r\n".join([request_line, *kept]) + "\r\n\r\n").encode("latin-1"))
                if chunked:
                    while True:
                        size_line = reader.until(b"\r\n")
                        if size_line is None:
                            return
                        send(size_line)
                        size = int(size_line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            trailer = reader.until(b"\r\n\r\n", after_crlf=True)
                            send(trailer or b"\r\n")
                            break
                        send(reader.exactly(size + 2))
                else:
                    remaining = length
                    while remaining:
                        piece = reader.some(min(remaining, 65536))
                        if not piece:
                            return
                        send(piece)
                        remaining -= len(piece)
        except (OSError, ValueError):
            pass
        finally:
            conn.finish_up()


class _Reader:
    """Buffered reads from a socket: up to a delimiter, exactly n bytes, or what is there."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def until(self, delimiter: bytes, *, after_crlf: bool = False) -> bytes | None:
        """Bytes up to and including `delimiter`. `after_crlf`: the preceding CRLF was already
        consumed (chunked trailers), so a lone CRLF ends it too."""
        while True:
            if after_crlf and self.buf.startswith(b"\r\n"):
                out, self.buf = self.buf[:2], self.buf[2:]
                return out
            at = self.buf.find(delimiter)
            if at >= 0:
                end = at + len(delimiter)
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            if not self._fill():
                return None

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise OSError("connection closed mid-body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def some(self, n: int) -> bytes:
        if not self.buf and not self._fill():
            return b""
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def _error_response(status: int, code: str) -> bytes:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{code} (from the test proxy)</Message></Error>"
    ).encode()
    reason = {403: "Forbidden", 501: "Not Implemented"}.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body
