"""What a cycle's reports mean to the people watching, said once per change: every transfer,
each conflict (with the team's webhook told), each file left as it is for another reason. A
conflict stays reported while it lasts; when it is resolved and comes back, or either side
changes again, it is reported again.

The words are s3.up's and s3.down's own (describe.row_message): a conflict names both versions
and the two ways out, and is never resolved here.

Which conflicts the team's webhook has heard of is kept in the project's `.vam/watch-told.json`,
so a watch started again, or `--once` from cron every five minutes, does not post the same
conflict again; the terminal and the log of each new run still say it once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from vam.core.atomicfile import write_text_atomic
from vam.core.units import format_size
from vam.s3sync.describe import row_message
from vam.s3sync.model import ActionKind, FileRow, FileState
from vam.s3sync.report import SyncReport
from vam.s3sync.syncview import resumed_percent
from vam.s3sync.target import Target
from vam.watch import events as ev

Emit = Callable[..., None]  # emit(kind, text, file=…, size=…, **details)
Notify = Callable[[str], str | None]  # tell the team; returns why it failed, or None


TOLD_FILE = "watch-told.json"


def _conflict_key(row: FileRow) -> list:
    """The two versions in conflict (as JSON keeps them: lists, not tuples)."""
    local, remote = row.local, row.remote
    return [
        [local.size, local.crc32, local.mtime_ns] if local else None,
        remote.etag if remote else None,
    ]


_NOTICES = (FileState.DELETED_HERE, FileState.DELETED_THERE)
_PROBLEMS = (FileState.NAME_CLASH, FileState.REFUSED)


class Findings:
    """One project's reported conflicts, problems and notices, so each is said once."""

    def __init__(
        self, target: Target, emit: Emit, notify: Notify | None = None, *, remember: bool = True
    ) -> None:
        self.target = target
        self.emit = emit
        self.notify = notify
        self.conflicts: dict[str, list] = {}  # rel -> the versions reported
        # rel -> the versions the webhook heard of (kept on disk unless a dry run)
        self._told_path: Path | None = Path(target.state_dir) / TOLD_FILE if remember else None
        self._told: dict[str, list] = self._read_told()
        self._problems: dict[str, set[str]] = {}  # direction -> texts still standing
        self._notices: set[tuple[str, str]] = set()
        self._notify_failed: str | None = None

    def saw(self, report: SyncReport, held: Iterable[str] = ()) -> None:
        """Everything worth saying about one run of s3.up / s3.down. `held`: files the run held
        back (saved again meanwhile): waiting, not a problem."""
        plan = report.after or report.plan
        if report.dry_run:
            self._plan(report)
        for outcome in report.outcomes:
            if not outcome.ok:
                continue
            if outcome.kind is ActionKind.UPLOAD:
                self.emit(
                    ev.UPLOADED, _moved("uploaded", outcome), file=outcome.rel, size=outcome.bytes
                )
            elif outcome.kind is ActionKind.DOWNLOAD:
                row = report.plan.row(outcome.rel)
                who = row.remote.uploaded_by if row and row.remote else None
                text = _moved("downloaded", outcome) + (f"  (from {who})" if who else "")
                self.emit(
                    ev.DOWNLOADED, text, file=outcome.rel, size=outcome.bytes, uploaded_by=who
                )
        self._conflicts(plan.with_state(FileState.CONFLICT))
        problems = [f"✗ {o.message}" for o in report.outcomes if not o.ok]
        problems += [f"✗ re-check: {line}" for line in _not_held(report.unsettled, held)]
        problems += [f"! {row_message(self.target, row)}" for row in plan.with_state(*_PROBLEMS)]
        problems += [f"! cannot use {s.rel}: {s.reason}" for s in report.unreadable]
        self._problems_now(report.direction, problems)
        for row in plan.with_state(*_NOTICES):
            key = (row.rel, row.state.value)
            if key not in self._notices:
                self._notices.add(key)
                self.emit(ev.NOTICE, row_message(self.target, row), file=row.rel)
        self._notices &= {(r.rel, r.state.value) for r in plan.with_state(*_NOTICES)}

    def _plan(self, report: SyncReport) -> None:
        for action in report.transfers:
            self.emit(
                ev.PLAN,
                f"would {action.kind.value} {format_size(action.size)}  {action.rel}",
                file=action.rel,
                size=action.size,
            )

    def _conflicts(self, rows: Iterable[FileRow]) -> None:
        now = {row.rel: (_conflict_key(row), row) for row in rows}
        for rel, (key, row) in now.items():
            if self.conflicts.get(rel) == key:
                continue
            text = row_message(self.target, row)
            told = self._tell(rel, key, text)
            self.emit(ev.CONFLICT, f"! {text}", file=rel, notified=told)
        self.conflicts = {rel: key for rel, (key, _row) in now.items()}
        told = {rel: key for rel, key in self._told.items() if rel in self.conflicts}
        if told != self._told:  # a conflict resolved: if it comes back, the team hears again
            self._told = told
            self._write_told()

    def _tell(self, rel: str, key: list, text: str) -> bool | str | None:
        """The team's webhook hears of a conflict: True, "before" (it already heard of these very
        versions), False (it failed) or None (no webhook, or a dry run)."""
        if self.notify is None or self._told_path is None:
            return None
        if self._told.get(rel) == key:
            return "before"
        why = self.notify(f"{self.target.brand_key} {self.target.project_id}: {text}")
        if why is None:
            self._notify_failed = None
            self._told[rel] = key
            self._write_told()
            return True
        if why != self._notify_failed:
            self._notify_failed = why
            self.emit(ev.NOTICE, f"! the team's webhook was not told of the conflict: {why}")
        return False

    def _read_told(self) -> dict[str, list]:
        if self._told_path is None:
            return {}
        try:
            data = json.loads(self._told_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # missing or damaged: at worst the team hears of a conflict twice
        return (
            {str(k): v for k, v in data.items() if isinstance(v, list)}
            if isinstance(data, dict)
            else {}
        )

    def _write_told(self) -> None:
        if self._told_path is None or not (self._told or self._told_path.exists()):
            return
        try:
            write_text_atomic(self._told_path, json.dumps(self._told, sort_keys=True))
        except OSError:
            pass  # at worst the team hears of a conflict twice

    def _problems_now(self, direction: str, texts: list[str]) -> None:
        before = self._problems.get(direction, set())
        for text in texts:
            if text not in before:
                self.emit(ev.PROBLEM, text)
        self._problems[direction] = set(texts)


def _not_held(lines: Iterable[str], held: Iterable[str]) -> list[str]:
    """Problem lines (`file: what`) of files that are not merely held back."""
    held = set(held)
    return [line for line in lines if line.partition(": ")[0] not in held]


def _moved(verb: str, outcome) -> str:
    text = f"✓ {verb} {format_size(outcome.bytes)}  {outcome.rel}"
    if outcome.resumed and outcome.bytes:
        text += f"  (resumed at {resumed_percent(outcome.resumed, outcome.bytes)}%)"
    return text


def left_undone(
    reports: Iterable[SyncReport], waiting: Iterable[str], offline: Iterable[str]
) -> str | None:
    """The one line a `--once` cycle ends with when it leaves something undone (exit 1), as
    s3.up and s3.down would end: a conflict is counted once though both runs saw it."""
    offline = list(offline)
    if offline:
        return f"{offline[0]}; nothing more was done this time"
    reports = list(reports)
    waiting = sorted(set(waiting))
    conflicts = {a.rel for r in reports for a in r.conflicts_left}
    lines = set(_not_held((line for r in reports for line in r.problems), waiting))
    others = {line for line in lines if line.partition(":")[0] not in conflicts}
    if not (conflicts or others or waiting):
        return None
    would = "would be " if reports and all(r.dry_run for r in reports) else ""
    parts = [f"{len(conflicts)} conflict(s) {would}left untouched"] if conflicts else []
    if others:
        parts.append(f"{len(others)} file(s) not transferred or not readable")
    if waiting:
        parts.append(f"{len(waiting)} file(s) still being written, left for the next run")
    hint = "run one of the two commands shown" if not (others or waiting) else "see the lines above"
    return f"{' and '.join(parts)}; {hint}"
