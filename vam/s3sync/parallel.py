"""Several files at once: small ones up to SMALL_WORKERS at a time within a byte budget, large
ones LARGE_WORKERS at a time; results come back on the caller's thread."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import TypeVar

from vam.s3sync.model import Action

# Small files go several at once (one request each: on a link with 150 ms of latency, 200 notes
# and stills one by one take a minute of waiting); large ones two at a time, their parts or
# ranges already in parallel. SMALL_BUDGET bounds the bytes of small files in flight (a single
# PUT holds its file in memory).
SMALL_FILE = 16 * 1024 * 1024
SMALL_WORKERS = 8
SMALL_BUDGET = 64 * 1024 * 1024
# Two large files at once: while one finishes (S3 assembles a multipart object, a download is
# flushed to disk) the other keeps the link busy. Each bounds its own memory (vam/s3sync/transfer/).
LARGE_WORKERS = 2

T = TypeVar("T")


class _ByteBudget:
    """At most `limit` bytes held at once (one item larger than the limit still goes, alone)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        with self._changed:
            while self.used and self.used + nbytes > self.limit:
                self._changed.wait()
            self.used += nbytes
        try:
            yield
        finally:
            with self._changed:
                self.used -= nbytes
                self._changed.notify_all()


def each_transfer(
    actions: list[Action], move: Callable[[Action], T], cancel: threading.Event | None = None
) -> Iterator[tuple[Action, T]]:
    """(action, move(action)) for every action: files below SMALL_FILE up to SMALL_WORKERS at a
    time, then the large ones LARGE_WORKERS at a time. Results come back on the caller's thread,
    so its bookkeeping needs no lock. The first exception (or Ctrl-C) stops what has not
    started, sets `cancel` so the transfers `move` started with it stop within a chunk, and is
    raised."""
    small = [a for a in actions if a.size < SMALL_FILE]
    large = [a for a in actions if a.size >= SMALL_FILE]
    budget = _ByteBudget(SMALL_BUDGET)

    def held(action: Action) -> T:
        with budget.hold(action.size):
            return move(action)

    yield from _pooled(small, held, SMALL_WORKERS, cancel)
    yield from _pooled(large, move, LARGE_WORKERS, cancel)


def _pooled(
    actions: list[Action],
    move: Callable[[Action], T],
    workers: int,
    cancel: threading.Event | None,
) -> Iterator[tuple[Action, T]]:
    if len(actions) < 2 or workers < 2:
        for action in actions:
            yield action, move(action)
        return
    order = {action.rel: i for i, action in enumerate(actions)}
    with ThreadPoolExecutor(min(workers, len(actions)), thread_name_prefix="vam-files") as pool:
        futures = {pool.submit(move, action): action for action in actions}
        pending = set(futures)
        try:
            while pending:
                # a bounded wait: a Ctrl-C that lands on another thread, or arrives while this
                # one waits on a lock, is seen within a quarter of a second
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: order[futures[f].rel]):
                    yield futures[future], future.result()
        except BaseException:
            if cancel is not None:
                cancel.set()
            for future in futures:
                future.cancel()
            raise
