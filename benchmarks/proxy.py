"""A counting TCP proxy on loopback: every tool talks to the server through it, so "bytes sent" is
measured the same way for all of them (on the wire, headers included), whatever each tool reports.

Plain threads and blocking sockets: two pumps per connection. It is only put in front of the server
for the cases that need wire bytes (resume, re-sync), so its own speed never limits a timed case.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

BUFFER = 256 * 1024


@dataclass(frozen=True)
class WireCount:
    sent: int  # client → server (uploads, request headers)
    received: int  # server → client (downloads, responses)
    connections: int


class CountingProxy:
    """Forward 127.0.0.1:<port> to `upstream` (host, port), counting bytes in each direction."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self._lock = threading.Lock()
        self._sent = 0
        self._received = 0
        self._connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._active = 0  # connections with a direction still flowing
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self) -> WireCount:
        with self._lock:
            return WireCount(self._sent, self._received, self._connections)

    def reset(self) -> WireCount:
        """Start counting from zero; returns what had been counted."""
        with self._lock:
            before = WireCount(self._sent, self._received, self._connections)
            self._sent = self._received = self._connections = 0
            return before

    def active(self) -> int:
        with self._lock:
            return self._active

    def wait_idle(self, timeout: float = 10.0, quiet: float = 0.1) -> bool:
        """Wait until every connection has closed and nothing moved for `quiet` seconds. After a
        client is killed, the bytes it had already handed to the kernel still drain through the
        proxy (and a connection may still sit in the accept backlog); they belong to that run."""
        deadline = time.monotonic() + timeout
        last, since = self.count(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.02)
            now = self.count()
            if now != last:
                last, since = now, time.monotonic()
            elif self.active() == 0 and time.monotonic() - since >= quiet:
                return True
        return False

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            socks = list(self._open)
        for s in socks:
            _close(s)

    # ------------------------------------------------------------------ internals

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._connections += 1
                self._active += 1
                self._open.update((client, server))
            pair = _Pair(client, server)
            threading.Thread(
                target=self._pump, args=(pair, client, server, True), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(pair, server, client, False), daemon=True
            ).start()

    def _pump(self, pair: _Pair, src: socket.socket, dst: socket.socket, outbound: bool) -> None:
        buf = memoryview(bytearray(BUFFER))
        try:
            while True:
                n = src.recv_into(buf)
                if n == 0:
                    break
                dst.sendall(buf[:n])
                with self._lock:
                    if outbound:
                        self._sent += n
                    else:
                        self._received += n
        except OSError:
            # a killed client resets its connection: tear down both sides, the other pump follows
            _close(src)
            _close(dst)
        else:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        finally:
            if pair.finished_one():
                _close(src)
                _close(dst)
                with self._lock:
                    self._open.discard(src)
                    self._open.discard(dst)
                    self._active -= 1


class _Pair:
    """The two sockets of one proxied connection; closed when both directions are done."""

    def __init__(self, client: socket.socket, server: socket.socket):
        self.sockets = (client, server)
        self._lock = threading.Lock()
        self._done = 0

    def finished_one(self) -> bool:
        with self._lock:
            self._done += 1
            return self._done == 2


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
