"""How a watch shows itself: in a terminal, each event as a line above one live status line
(last sync, pending, transferring, conflicts) redrawn every second; not in a terminal, the event
lines only; with `--json`, one JSON object per line per event. The log (log.py) gets every
event whichever is chosen.

`status_text` is pure, so what the line says is tested without a terminal.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from vam.core.units import format_size
from vam.watch.events import Event, Status


def short_id(project: str) -> str:
    """`b65` for `b65-guy-monroe-marketing-plan` (FliVideo and legacy ids); a storyline
    project's free-form name stays whole."""
    match = _SHORT.match(project)
    return match.group(1) if match else project


_SHORT = re.compile(r"^([a-z]\d{2}|\d{3})-")


def local_time(when: datetime) -> str:
    return when.astimezone().strftime("%H:%M:%S")


def event_line(event: Event, *, several: bool) -> str:
    """`14:02:11  ✓ uploaded 4.2 MB  raw.mp4`, with the project when watching several."""
    where = f"{short_id(event.project)}  " if several and event.project else ""
    return f"{local_time(event.at)}  {where}{event.text}"


def _percent(done: int, total: int) -> str:
    return f"{min(100, done * 100 // total)}%" if total else "…"


def status_text(status: Status) -> str:
    """The live line: `b65 · 3 synced · 1 pending · ↑ raw.mp4 42% · 1 conflict · last sync
    14:02:55 · S3 again in 12 s`."""
    projects = status.projects
    parts = [short_id(projects[0].project) if len(projects) == 1 else f"{len(projects)} projects"]
    offline = [p for p in projects if p.offline]
    if offline:
        first = offline[0]
        retry = f", again in {first.retry_in:.0f} s" if first.retry_in is not None else ""
        label = "offline" if first.offline_s3 else "waiting"
        parts.append(f"{label} ({first.offline.split(';')[0]}{retry})")
    parts.append(f"{sum(p.synced for p in projects)} synced")
    pending = sum(p.pending for p in projects)
    if pending:
        parts.append(f"{pending} pending")
    for moving in status.moving[:2]:
        arrow = "↑" if moving.direction == "up" else "↓"
        size = format_size(moving.total)
        parts.append(f"{arrow} {moving.name} {size} {_percent(moving.done, moving.total)}")
    if len(status.moving) > 2:
        parts.append(f"+{len(status.moving) - 2} more moving")
    if not status.moving and not offline:
        parts.append("idle")
    conflicts = sum(p.conflicts for p in projects)
    parts.append(f"{conflicts} conflict{'s' if conflicts != 1 else ''}")
    syncs = [p.last_sync for p in projects if p.last_sync is not None]
    parts.append(f"last sync {local_time(max(syncs))}" if syncs else "not synced yet")
    if status.next_look is not None and not offline:
        parts.append(f"S3 again in {status.next_look:.0f} s")
    return " · ".join(parts)


class LinesOutput:
    """One line per event (not a terminal: no live line)."""

    def __init__(self, stream: TextIO, *, several: bool = False) -> None:
        self.stream = stream
        self.several = several
        self._lock = threading.Lock()

    def event(self, event: Event) -> None:
        self.line(event_line(event, several=self.several))

    def line(self, text: str) -> None:
        with self._lock:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        pass


class JsonOutput:
    """One JSON object per line per event (`--json`)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def event(self, event: Event) -> None:
        with self._lock:
            print(json.dumps(event.as_dict(), ensure_ascii=False), file=self.stream, flush=True)

    def line(self, text: str) -> None:
        pass  # words for people: the events carry the facts

    def close(self) -> None:
        pass


class TerminalOutput:
    """Event lines above one live status line, redrawn every `tick` seconds by a thread."""

    def __init__(
        self,
        stream: TextIO,
        status: Callable[[], Status],
        *,
        several: bool = False,
        tick: float = 1.0,
    ) -> None:
        self.stream = stream
        self.status = status
        self.several = several
        self.tick = tick
        self._lock = threading.Lock()
        self._shown = 0  # characters of the live line on screen
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TerminalOutput:
        self._thread = threading.Thread(target=self._ticks, name="vam-watch-line", daemon=True)
        self._thread.start()
        return self

    def event(self, event: Event) -> None:
        self.line(event_line(event, several=self.several))

    def line(self, text: str) -> None:
        with self._lock:
            self._clear()
            print(text, file=self.stream, flush=True)
            self._draw()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            self._clear()
            self.stream.flush()

    def _ticks(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                self._draw()

    def _clear(self) -> None:
        # spaces, not an ANSI erase: Windows' classic console shows escape codes as text
        if self._shown:  # two more: the terminal's echo of a ^C after the line
            self.stream.write("\r" + " " * (self._shown + 2) + "\r")
            self._shown = 0

    def _draw(self) -> None:
        try:
            text = status_text(self.status())
        except Exception:  # a status read mid-change is skipped, never fatal
            return
        width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        if len(text) > width:
            text = text[: width - 1] + "…"
        self.stream.write("\r" + text + " " * max(0, self._shown - len(text)))
        self.stream.flush()
        self._shown = len(text)
