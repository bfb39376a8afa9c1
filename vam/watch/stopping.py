"""Stopping a watch cleanly: SIGTERM (a service manager, `kill`), SIGHUP (the terminal window
closed) and SIGBREAK (Ctrl-Break on Windows) raise `Terminated` in the main thread, just as
Ctrl-C raises KeyboardInterrupt, so the same path runs: the transfers in flight stop within a
chunk (the engine keeps the parts on S3 and the bytes on disk, checkpointed, and a partial file
never takes its real name), the locks are let go, the log says so."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
    """A signal asked the watch to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _raise(signum: int, _frame: object) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """While inside: SIGTERM, SIGHUP, SIGBREAK raise Terminated (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {}
    for name in ("SIGTERM", "SIGHUP", "SIGBREAK"):
        number = getattr(signal, name, None)
        if number is not None:
            saved[number] = signal.signal(number, _raise)
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
