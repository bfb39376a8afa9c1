"""The watch's log: every event and failure, with its date, in the folder each OS keeps for a
program's logs (platformdirs: ~/Library/Logs/vam on macOS, %LOCALAPPDATA%\\vam\\Logs on
Windows, ~/.local/state/vam/log on Linux), one file per brand and project, rotated at 1 MB
(three old files kept), so hours or weeks of watching stay a few MB.

A log that cannot be written (a read-only home) is said once and the watch goes on without it.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import platformdirs

from vam.watch.events import Event

MAX_BYTES = 1_000_000
BACKUPS = 3


def log_folder() -> Path:
    return platformdirs.user_log_path("vam", appauthor=False)


class _QuietHandler(logging.handlers.RotatingFileHandler):
    """A rotating file that never prints a traceback when a write fails (it only stops)."""

    failed: str | None = None

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        import sys

        exc = sys.exc_info()[1]
        self.failed = f"{type(exc).__name__}: {exc}" if exc else "unknown error"


class WatchLog:
    """The log of one watch (a Sink)."""

    def __init__(self, name: str, folder: Path | None = None) -> None:
        folder = folder or log_folder()
        self.path = folder / f"{name}.log"
        self.failed: str | None = None
        self._logger = logging.getLogger(f"vam.watch.log.{name}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._handler: _QuietHandler | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handler = _QuietHandler(
                self.path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        except OSError as exc:
            self.failed = f"{exc.strerror or exc} ({exc.filename or folder})"
            return
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z")
        )
        for old in list(self._logger.handlers):
            self._logger.removeHandler(old)
            old.close()
        self._logger.addHandler(handler)
        self._handler = handler

    def event(self, event: Event) -> None:
        where = f"{event.brand} {event.project}" if event.project else "-"
        self.line(f"{event.kind:<10} {where}  {event.text}")

    def line(self, text: str) -> None:
        if self._handler is not None:
            self._logger.info(text)

    def close(self) -> None:
        if self._handler is not None:
            self._logger.removeHandler(self._handler)
            self._handler.close()
            self._handler = None
