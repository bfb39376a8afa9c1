"""An HTTP proxy on loopback that gives moto's server the restore timing of real S3 Glacier.

moto completes a RestoreObject at once; S3 takes hours (Deep Archive bulk: up to 48). This proxy
forwards every request to moto unchanged, except that a restore request is answered the way S3
answers it at first (202 Accepted, and 409 RestoreAlreadyInProgress for a second one) and held
back, and a HEAD of an object being restored gets S3's `x-amz-restore: ongoing-request="true"`
added to moto's answer. A GET of such an object reaches moto, which still refuses it with
InvalidObjectState, as S3 does. `finish()` sends the held requests on: the restores are done.

Requests are read whole (Content-Length or chunked) and forwarded over a connection of its own;
responses go back whole. Enough for botocore's urllib3 and small test objects.
"""

from __future__ import annotations

import http.client
import http.server
import threading
from urllib.parse import parse_qs, urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def _error(code: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{code} (a restore is already in progress)</Message></Error>"
    ).encode()


class GlacierProxy:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._lock = threading.Lock()
        self.held: dict[str, tuple[str, dict[str, str], bytes]] = {}  # path -> the request
        self.seen: list[tuple[str, str, int]] = []  # (method, path?query, status answered)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    raw = b""
                    while True:
                        size_line = self.rfile.readline()
                        raw += size_line
                        size = int(size_line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while True:  # trailers, up to the empty line
                                line = self.rfile.readline()
                                raw += line
                                if line in (b"\r\n", b"\n", b""):
                                    return raw
                        raw += self.rfile.read(size + 2)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, headers: dict[str, str], body: bytes, head=False):
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in _HOP:
                        self.send_header(name, value)
                given = {k.lower(): v for k, v in headers.items()}.get("content-length")
                length = given if head else str(len(body))
                self.send_header("Content-Length", length or "0")
                self.end_headers()
                if not head and body:
                    self.wfile.write(body)
                with proxy._lock:
                    proxy.seen.append((self.command, self.path, status))

            def _handle(self):
                body = self._body()
                headers = {k: v for k, v in self.headers.items()}
                path, _, query = self.path.partition("?")
                if self.command == "POST" and "restore" in parse_qs(query, keep_blank_values=True):
                    with proxy._lock:
                        again = path in proxy.held
                        if not again:
                            proxy.held[path] = (self.path, headers, body)
                    if again:
                        error = _error("RestoreAlreadyInProgress")
                        return self._answer(409, {"Content-Type": "application/xml"}, error)
                    return self._answer(202, {}, b"")
                status, reply, data = proxy.forward(self.command, self.path, headers, body)
                if self.command == "HEAD" and status == 200:
                    with proxy._lock:
                        restoring = path in proxy.held
                    if restoring:
                        reply = {**reply, "x-amz-restore": 'ongoing-request="true"'}
                self._answer(status, reply, data, head=self.command == "HEAD")

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle  # noqa: N815

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def forward(self, method: str, target: str, headers: dict[str, str], body: bytes):
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            if body:
                conn.send(body)
            resp = conn.getresponse()
            data = b"" if method == "HEAD" else resp.read()
            return resp.status, dict(resp.getheaders()), data
        finally:
            conn.close()

    def restoring(self) -> list[str]:
        with self._lock:
            return sorted(self.held)

    def finish(self) -> int:
        """The held restores reach moto (which completes them): S3's hours are over."""
        with self._lock:
            held, self.held = list(self.held.values()), {}
        for target, headers, body in held:
            status, _reply, _data = self.forward("POST", target, headers, body)
            assert status in (200, 202), status
        return len(held)

    def __enter__(self) -> GlacierProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
