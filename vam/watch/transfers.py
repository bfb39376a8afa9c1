"""The engine's progress (transfer.progress.Progress) kept as what the live line shows: which
files are moving, which way, how far. Called from the engine's worker threads."""

from __future__ import annotations

import threading

from vam.watch.events import Moving


class Transfers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, list[int]] = {}  # key -> [done, total]
        self.direction = "up"  # set by the cycle before it starts a run

    # ---------------------------------------------------------------- Progress

    def start_file(self, name: str, total: int) -> None:
        with self._lock:
            self._files[name] = [0, total]

    def resumed(self, name: str, done_bytes: int) -> None:
        pass  # the bytes already there still arrive through advance, as they are re-checked

    def advance(self, name: str, nbytes: int) -> None:
        with self._lock:
            moving = self._files.get(name)
            if moving is not None:
                moving[0] = max(0, min(moving[1], moving[0] + nbytes))

    def end_file(self, name: str, ok: bool) -> None:
        with self._lock:
            self._files.pop(name, None)

    # ---------------------------------------------------------------- what the line shows

    def moving(self) -> tuple[Moving, ...]:
        with self._lock:
            return tuple(
                Moving(name.rsplit("/", 1)[-1], self.direction, done, total)
                for name, (done, total) in self._files.items()
            )
