"""Several files at once: small ones pipelined, as many at a time as the link rewards (up to
SMALL_WORKERS) within a byte budget, large ones LARGE_WORKERS at a time; results come back on the
caller's thread."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import TypeVar

from vam.s3sync.model import Action
from vam.s3sync.transfer.concurrency import Parallelism

# Small files go many at once, pipelined: one request each, and on a link with 150 ms of round
# trip 200 notes and stills one by one take a minute of waiting, eight at a time still seven
# seconds. How many is measured (vam/s3sync/transfer/concurrency.py): from SMALL_START, doubled
# while the files per second grow, up to SMALL_WORKERS. SMALL_BUDGET bounds the bytes of small
# files in flight (a single PUT holds its file in memory).
SMALL_FILE = 16 * 1024 * 1024
SMALL_START = 8
SMALL_LONG_LINK_START = 32  # on a long link (the engine's roundtrip.py): many from the start
SMALL_WORKERS = 64
SMALL_BUDGET = 64 * 1024 * 1024
REQUEST_COST = 64 * 1024  # what one request is worth, in bytes, when the rate of files is measured
# Two large files at once: while one finishes (S3 assembles a multipart object, a download is
# flushed to disk) the other keeps the link busy. Each bounds its own memory (vam/s3sync/transfer/)
# and finds its own number of parts or ranges in flight.
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
    actions: list[Action],
    move: Callable[[Action], T],
    cancel: threading.Event | None = None,
    *,
    long_link: bool = False,
) -> Iterator[tuple[Action, T]]:
    """(action, move(action)) for every action: files below SMALL_FILE up to SMALL_WORKERS at a
    time, then the large ones LARGE_WORKERS at a time. Results come back on the caller's thread,
    so its bookkeeping needs no lock. The first exception (or Ctrl-C) stops what has not
    started, sets `cancel` so the transfers `move` started with it stop within a chunk, and is
    raised. `long_link`: the round trip is long, start with many small files at once."""
    small = [a for a in actions if a.size < SMALL_FILE]
    large = [a for a in actions if a.size >= SMALL_FILE]
    budget = _ByteBudget(SMALL_BUDGET)

    def held(action: Action) -> T:
        with budget.hold(action.size):
            return move(action)

    start = SMALL_LONG_LINK_START if long_link else SMALL_START
    yield from _pooled(small, held, SMALL_WORKERS, cancel, start=start)
    yield from _pooled(large, move, LARGE_WORKERS, cancel)


def _pooled(
    actions: list[Action],
    move: Callable[[Action], T],
    workers: int,
    cancel: threading.Event | None,
    start: int | None = None,
) -> Iterator[tuple[Action, T]]:
    if len(actions) < 2 or workers < 2:
        for action in actions:
            yield action, move(action)
        return
    ceiling = min(workers, len(actions))
    control = Parallelism(start or ceiling, ceiling)
    halt = threading.Event()  # the first failure: what waits for a slot does not start

    def stopping() -> bool:
        return halt.is_set() or (cancel is not None and cancel.is_set())

    def paced(action: Action) -> T:
        with control.slot(stopping):
            if halt.is_set():
                raise _Halted()
            result = move(action)
        control.note(action.size + REQUEST_COST)
        return result

    order = {action.rel: i for i, action in enumerate(actions)}
    with ThreadPoolExecutor(ceiling, thread_name_prefix="vam-files") as pool:
        futures = {pool.submit(paced, action): action for action in actions}
        pending = set(futures)
        try:
            while pending:
                # a bounded wait: a Ctrl-C that lands on another thread, or arrives while this
                # one waits on a lock, is seen within a quarter of a second
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: order[futures[f].rel]):
                    yield futures[future], future.result()
        except BaseException:
            halt.set()
            if cancel is not None:
                cancel.set()
            for future in futures:
                future.cancel()
            raise


class _Halted(Exception):
    """A file that had not started when another one failed (never seen by the caller)."""
