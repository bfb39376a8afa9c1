"""The one loopback TCP proxy of the benchmark and the tests: it counts the bytes on the wire the
same way for every tool, and can play a network link (issue 15) or a network fault.

    Proxy(upstream)                          counts bytes each way and connections (peak too)
    Proxy(upstream, link=PROFILES["long-haul"])
        one-way latency each way (half the RTT; a new connection's first bytes wait one RTT more,
        the TCP handshake), a rate cap each way shared by every connection (the uplink and the
        downlink), a rate cap per connection and direction (what one TCP connection carries on a
        lossy path: Mathis et al., rate ≈ MSS/RTT × 1.22/√loss), and a reset (RST) of the
        connection that carries byte N, 2N, 3N … of the traffic (both ways counted together)
    Proxy(upstream, cuts=Cuts("up", after=…, count=2))
        resets the first `count` connections that carry more than `after` bytes one way

Why user-space: this machine's kernel has no netem qdisc (tc cannot add latency; tbf works in a
network namespace for rate only), so the link is modelled here, between each tool and the
server, the same for all of them. Plain threads and blocking sockets: a reader per direction
that takes the rate tokens, and, when there is latency, a writer that delivers each chunk once
its one-way delay has passed. `Link("baseline")` (no caps, no latency) is the same code path,
run in the benchmark to show the proxy itself is not what limits a case.

Subclasses (tests/header_proxy.py) override `forward_requests` to read the client's HTTP
requests instead of pumping raw bytes; the listener, the upstream connections and the counts
stay here.
"""

from __future__ import annotations

import collections
import socket
import struct
import threading
import time
from dataclasses import dataclass

BUFFER = 256 * 1024
CHUNK_SHAPED = 64 * 1024  # read size on a shaped link: fine-grained pacing and resets
MAX_QUEUED = 32 * 1024 * 1024  # bytes waiting out their latency on one direction of a connection
SHAPED_RCVBUF = 128 * 1024  # receive buffer of the proxy's sockets on a shaped link


@dataclass(frozen=True)
class Link:
    """A network path between a tool and the server. Rates in bytes per second (None: no cap)."""

    name: str
    rtt: float = 0.0  # seconds, round trip; half of it each way
    up_rate: float | None = None  # client → server, shared by every connection
    down_rate: float | None = None  # server → client, shared by every connection
    per_connection: float | None = None  # each connection, each way
    reset_every: int | None = None  # bytes (both ways) between connection resets

    @property
    def shaped(self) -> bool:
        return bool(self.rtt or self.up_rate or self.down_rate or self.per_connection)

    def describe(self) -> str:
        if not self.shaped and not self.reset_every:
            return f"{self.name}: through the proxy, no latency, no caps"
        parts = [f"RTT {self.rtt * 1000:.0f} ms"]
        if self.up_rate:
            parts.append(f"up {_mbit(self.up_rate)}")
        if self.down_rate:
            parts.append(f"down {_mbit(self.down_rate)}")
        if self.per_connection:
            parts.append(f"{self.per_connection / 1e6:g} MB/s per connection")
        if self.reset_every:
            parts.append(f"a reset every {self.reset_every // (1024 * 1024)} MiB")
        return f"{self.name}: " + ", ".join(parts)

    def capacity(self, direction: str) -> float | None:
        """What the link can carry one way, bytes/s (the link cap; None when uncapped)."""
        return self.up_rate if direction == "up" else self.down_rate


def _mbit(rate: float) -> str:
    return f"{rate * 8 / 1e6:g} Mb/s"


MB = 1_000_000
PROFILES: dict[str, Link] = {
    link.name: link
    for link in (
        Link("baseline"),
        Link("long-haul", rtt=0.150, up_rate=12.5 * MB, down_rate=12.5 * MB, per_connection=MB),
        Link(
            "jan-home",
            rtt=0.150,
            up_rate=2.5 * MB,
            down_rate=12.5 * MB,
            per_connection=MB,
            reset_every=64 * 1024 * 1024,
        ),
    )
}


@dataclass(frozen=True)
class Cuts:
    """Reset the first `count` connections that carry more than `after` bytes in `direction`
    ("up": client → server, "down": server → client), as a dropped home network would."""

    direction: str
    after: int
    count: int = 1


@dataclass(frozen=True)
class WireCount:
    sent: int  # client → server (uploads, request headers)
    received: int  # server → client (downloads, responses)
    connections: int
    peak_connections: int = 0  # most connections open at once
    resets: int = 0  # connections the proxy reset (link resets and cuts)


class _Bucket:
    """A token bucket in "theoretical arrival time" form, shared by the threads that use it."""

    def __init__(self, rate: float, burst: float = 0.02) -> None:
        self.rate = rate
        self.burst = burst
        self._tat = time.monotonic()
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> None:
        with self._lock:
            now = time.monotonic()
            self._tat = max(self._tat, now) + nbytes / self.rate
            wait = self._tat - now - self.burst
        if wait > 0:
            time.sleep(wait)


class Proxy:
    """Forward 127.0.0.1:<port> to `upstream` (host, port), counting (and shaping) the bytes."""

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        link: Link | None = None,
        cuts: Cuts | None = None,
    ) -> None:
        self.upstream = upstream
        self.link = link or Link("counting")
        self.cuts = cuts
        self._lock = threading.Lock()
        self._sent = self._received = self._connections = 0
        self._peak = self._resets = 0
        self._cut = 0
        self._traffic = 0  # both ways, for reset_every
        self._next_reset = self.link.reset_every or 0
        self._shared = {
            "up": _Bucket(self.link.up_rate) if self.link.up_rate else None,
            "down": _Bucket(self.link.down_rate) if self.link.down_rate else None,
        }
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.link.shaped:
            # A real path holds about a bandwidth-delay product in flight, not the megabytes a
            # loopback connection's buffers grow to: a small receive window (set before
            # listening, so the window scale follows) keeps each tool's bytes at the link's pace.
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SHAPED_RCVBUF)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._active = 0  # connections with a direction still flowing
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    endpoint_url = url

    def __enter__(self) -> Proxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Proxy:
        if not self._thread.is_alive():
            self._thread.start()
        return self

    def count(self) -> WireCount:
        with self._lock:
            return self._count()

    def _count(self) -> WireCount:
        return WireCount(self._sent, self._received, self._connections, self._peak, self._resets)

    def reset(self) -> WireCount:
        """Start counting from zero (the resets schedule too); returns what had been counted."""
        with self._lock:
            before = self._count()
            self._sent = self._received = self._connections = self._resets = 0
            self._peak = self._active
            self._traffic = 0
            self._next_reset = self.link.reset_every or 0
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
        _close(self._listener)
        with self._lock:
            socks = list(self._open)
        for s in socks:
            _close(s)

    # ------------------------------------------------------------------ for subclasses

    def forward_requests(self, conn: Connection) -> None:
        """Client → server. The default pumps raw bytes (shaped, counted)."""
        self._pump(conn, "up")

    def note_sent(self, nbytes: int) -> None:
        with self._lock:
            self._sent += nbytes

    # ------------------------------------------------------------------ internals

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = self._connect_upstream()
            except OSError:
                _close(client)
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            with self._lock:
                self._connections += 1
                self._active += 1
                self._peak = max(self._peak, self._active)
                self._open.update((client, server))
            conn = Connection(self, client, server)
            threading.Thread(target=self._run, args=(conn, "up"), daemon=True).start()
            threading.Thread(target=self._run, args=(conn, "down"), daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.link.shaped:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SHAPED_RCVBUF)
        server.settimeout(30)
        try:
            server.connect(self.upstream)
        except OSError:
            server.close()
            raise
        server.settimeout(None)
        return server

    def _run(self, conn: Connection, direction: str) -> None:
        try:
            if direction == "up":
                self.forward_requests(conn)
            else:
                self._pump(conn, "down")
        finally:
            if conn.finished_one():
                conn.close()
                with self._lock:
                    self._open.discard(conn.client)
                    self._open.discard(conn.server)
                    self._active -= 1

    def _pump(self, conn: Connection, direction: str) -> None:
        src, dst = (conn.client, conn.server) if direction == "up" else (conn.server, conn.client)
        out = conn.outlet(direction)
        size = CHUNK_SHAPED if self.link.shaped or self.link.reset_every or self.cuts else BUFFER
        buf = memoryview(bytearray(size))
        try:
            while True:
                n = src.recv_into(buf)
                if n == 0:
                    break
                data = bytes(buf[:n])
                cut = self._account(conn, direction, n)
                if cut is not None:
                    self._cut_after(conn, out, data[:cut])
                    return
                out.send(data)
        except OSError:
            # a killed client resets its connection: tear down both sides, the other pump follows
            conn.abort()
            return
        out.finish()

    def _account(self, conn: Connection, direction: str, n: int) -> int | None:
        """Count n bytes read one way and take their rate tokens. When the connection must be
        reset (a link reset, a cut), how many of the n bytes get through before it is."""
        cut: int | None = None
        with self._lock:
            if direction == "up":
                self._sent += n
            else:
                self._received += n
            before = conn.moved[direction]
            conn.moved[direction] += n
            self._traffic += n
            if self.link.reset_every and self._traffic >= self._next_reset:
                cut = max(0, n - (self._traffic - self._next_reset))
                self._next_reset += self.link.reset_every
            cuts = self.cuts
            if (
                cut is None
                and cuts is not None
                and direction == cuts.direction
                and conn.moved[direction] > cuts.after
                and self._cut < cuts.count
            ):
                self._cut += 1
                cut = max(0, cuts.after - before)
            if cut is not None:
                self._resets += 1
        if self.link.per_connection:
            conn.bucket(direction, self.link.per_connection).take(n if cut is None else cut)
        shared = self._shared[direction]
        if shared is not None:
            shared.take(n if cut is None else cut)
        return cut

    def _cut_after(self, conn: Connection, out: _Outlet, data: bytes) -> None:
        """Deliver `data` (the bytes before the cut), then reset the connection, as a link that
        drops mid-stream does: the other side has part of a request or response."""
        try:
            if data:
                out.send(data)
                out.drain()
        except OSError:
            pass
        conn.abort()


class _Outlet:
    """One direction's way out: straight to the socket, or through the latency queue."""

    def __init__(self, conn: Connection, dst: socket.socket, delay: float, first: float):
        self.conn = conn
        self.dst = dst
        self.delay = delay
        self.first = first  # extra delay of the connection's first bytes (the handshake)
        self._queue: collections.deque[tuple[float, bytes | None]] = collections.deque()
        self._queued = 0
        self._changed = threading.Condition()
        self._writer: threading.Thread | None = None
        if delay or first:
            self._writer = threading.Thread(target=self._write, daemon=True)
            self._writer.start()

    def send(self, data: bytes) -> None:
        if self._writer is None:
            self.dst.sendall(data)
            return
        with self._changed:
            while self._queued > MAX_QUEUED and not self.conn.dead:
                self._changed.wait(0.1)
            due = time.monotonic() + self.delay + self.first
            self.first = 0.0
            self._queue.append((due, data))
            self._queued += len(data)
            self._changed.notify_all()

    def finish(self) -> None:
        """The source closed: shut the destination's write side once the queue has drained."""
        if self._writer is None:
            _shutdown_write(self.dst)
            return
        with self._changed:
            self._queue.append((time.monotonic() + self.delay, None))
            self._changed.notify_all()
        self._writer.join()

    def _write(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self.conn.dead:
                    self._changed.wait(0.1)
                if self.conn.dead:
                    return
                due, data = self._queue.popleft()
                self._queued -= len(data or b"")
                self._changed.notify_all()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if data is None:
                _shutdown_write(self.dst)
                return
            try:
                self.dst.sendall(data)
            except OSError:
                self.conn.abort()
                return

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until what is queued has been written (before a cut)."""
        if self._writer is None:
            return
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._queue and not self.conn.dead and time.monotonic() < deadline:
                self._changed.wait(0.05)

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()


class Connection:
    """One proxied connection: its two sockets, its per-direction buckets and outlets."""

    def __init__(self, proxy: Proxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.moved = {"up": 0, "down": 0}
        self.dead = False
        self._lock = threading.Lock()
        self._done = 0
        self._buckets: dict[str, _Bucket] = {}
        half = proxy.link.rtt / 2
        # the first request waits out the handshake's round trip before it leaves
        self._outlets = {
            "up": _Outlet(self, server, half, proxy.link.rtt),
            "down": _Outlet(self, client, half, 0.0),
        }

    def outlet(self, direction: str) -> _Outlet:
        return self._outlets[direction]

    def bucket(self, direction: str, rate: float) -> _Bucket:
        with self._lock:
            bucket = self._buckets.get(direction)
            if bucket is None:
                bucket = self._buckets[direction] = _Bucket(rate)
            return bucket

    def sendall_up(self, data: bytes) -> None:
        """For subclasses that parse requests: forward bytes to the server, shaped and counted."""
        cut = self.proxy._account(self, "up", len(data))
        if cut is not None:
            self.proxy._cut_after(self, self._outlets["up"], data[:cut])
            raise OSError("connection reset by the link")
        self._outlets["up"].send(data)

    def finish_up(self) -> None:
        self._outlets["up"].finish()

    def finished_one(self) -> bool:
        with self._lock:
            self._done += 1
            return self._done == 2

    def abort(self) -> None:
        """Reset both sides at once (RST, not a clean close), as a dropped link does."""
        self.dead = True
        for sock in (self.client, self.server):
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            _close(sock)
        for outlet in self._outlets.values():
            outlet.wake()

    def close(self) -> None:
        _close(self.client)
        _close(self.server)


def _shutdown_write(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


# The name the counting cases (resume, re-sync) and their tests have always used.
CountingProxy = Proxy
