"""`vam watch` running for one of the story people (tests/storykit.py) on a thread of the test
process, on moto's server on loopback: its events gathered, waited for, and the watch stopped
again. Short settle and poll times, the same code as `vam watch` runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vam.watch.events import Event
from vam.watch.project import Options
from vam.watch.start import Setup, watching

TIMEOUT = 60.0  # seconds a story waits for an event before it fails (a slow, busy machine)
REPO = Path(__file__).resolve().parent.parent
AD = ["--brand", "ad", "--project", "b65"]
WAIT = 90.0  # seconds to wait for a line or an exit of a subprocess


class Running:
    """A watch of `person`'s b65 on a thread; use as a context manager."""

    def __init__(
        self,
        person,
        *,
        settle: float = 1.0,
        interval: float = 0.3,
        rescan: float = 1.0,
        webhook_url: str | None = None,
        make_client: Callable | None = None,
        busy: Callable[[Path], str | None] | None = None,
        longest_backoff: float = 1.0,
        **extra,
    ) -> None:
        config, _root, s3, target = person.setup()
        self.target = target
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        setup = Setup(
            options=Options(
                user=person.name,
                rules=config.team.files,
                settle=settle,
                first_backoff=0.2,
                longest_backoff=longest_backoff,
            ),
            make_client=make_client or (lambda: s3),
            emit=self._emit,
            interval=interval,
            rescan=rescan,
            webhook_url=webhook_url,
            extra=extra,
        )
        self._context = watching([target], setup)
        self.watch = self._context.__enter__()
        if busy is not None:
            for project in self.watch.projects:
                project.settler.busy = busy
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _emit(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def _run(self) -> None:
        try:
            self.watch.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the test by stop()
            self.error = exc

    @property
    def project(self):
        return self.watch.projects[0]

    def of(self, kind: str, file: str | None = None) -> list[Event]:
        with self._lock:
            return [e for e in self.events if e.kind == kind and (file is None or e.file == file)]

    def wait_for(self, kind: str, file: str | None = None, *, count: int = 1) -> Event:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            found = self.of(kind, file)
            if len(found) >= count:
                return found[count - 1]
            if self.error is not None:
                raise self.error
            time.sleep(0.05)
        raise AssertionError(f"no {kind} event for {file!r} in {TIMEOUT:.0f} s: {self.texts()}")

    def wait_until(self, check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if check():
                return
            if self.error is not None:
                raise self.error
            time.sleep(0.05)
        raise AssertionError(f"{what} did not happen in {TIMEOUT:.0f} s: {self.texts()}")

    def cycles_later(self, n: int = 5) -> None:
        """Let the watch run `n` more loops (to show that nothing more happens)."""
        start = self.watch.cycles
        self.wait_until(lambda: self.watch.cycles >= start + n, f"{n} more cycles")

    def texts(self) -> list[str]:
        with self._lock:
            return [f"{e.kind}: {e.text}" for e in self.events]

    def stop(self) -> None:
        self.watch.halt()
        self._thread.join(timeout=30)
        self._context.__exit__(None, None, None)
        if self.error is not None:
            raise self.error

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_slowly(path: Path, chunks: int, size: int, pause: float) -> bytes:
    """A render written over `chunks * pause` seconds, flushed after every chunk."""
    data = b""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for i in range(chunks):
            chunk = os.urandom(size)
            fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
            data += chunk
            if i < chunks - 1:
                time.sleep(pause)
    return data


class Link:
    """The network between a person and S3: a TCP proxy on loopback in front of moto's server
    that can be cut (every open connection reset, new ones refused) and restored on the same
    port, as Wi-Fi drops and comes back."""

    def __init__(self, endpoint_url: str) -> None:
        import socket
        from urllib.parse import urlparse

        target = urlparse(endpoint_url)
        self._target = (target.hostname, target.port)
        self._socket = socket
        self._lock = threading.Lock()
        self._open: set = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._accepting()

    def _accepting(self) -> None:
        listener = self._listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = self._socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(self._socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        import struct

        self._listener.close()
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            try:
                sock.setsockopt(
                    self._socket.SOL_SOCKET, self._socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                sock.shutdown(self._socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def restore(self) -> None:
        self._listener = self._socket.create_server(("127.0.0.1", self.port))
        self._accepting()

    def close(self) -> None:
        self.cut()


# --------------------------------------------------------------------------- as a subprocess


def _env(person) -> dict[str, str]:
    """The person's environment; the watch's log under their test folder, whatever
    XDG_STATE_HOME the machine has."""
    state = person.settings.parent / "state"
    return {**person.env(), "PYTHONPATH": str(REPO), "XDG_STATE_HOME": str(state)}


def vam_watch(person, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vam", "watch", *AD, *args],
        cwd=REPO,
        env=_env(person),
        capture_output=True,
        text=True,
        timeout=WAIT * 2,
    )


class Watching:
    """`vam watch` running in a subprocess; its output lines read as they come. `args` replace
    the default `--brand ad --project b65` when they name --all."""

    def __init__(self, person, *args: str) -> None:
        where = [] if "--all" in args else AD
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vam", "watch", *where, *args],
            cwd=REPO,
            env=_env(person),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            found = [line for line in self.lines if text in line]
            if found:
                return found[0]
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r}: {self.lines}")

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=WAIT)
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT)
        self._reader.join(timeout=10)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def wait_until(check, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen in {WAIT:.0f} s")
