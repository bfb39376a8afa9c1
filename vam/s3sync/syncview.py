"""How sync results read: text lines for people, plain dicts for `--json`. Pure (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vam.core.units import format_size
from vam.s3sync.describe import describe_local, recommend, row_message, when
from vam.s3sync.model import ActionKind, FileRow, FileState, LocalEntry, Plan, RemoteEntry
from vam.s3sync.report import Outcome, ProjectStatus, SyncReport
from vam.s3sync.target import Target

_VERB = {"up": "upload", "down": "download"}
_DONE = {
    ActionKind.UPLOAD: "uploaded",
    ActionKind.DOWNLOAD: "downloaded",
    ActionKind.DELETE_REMOTE: "deleted in S3",
    ActionKind.DELETE_LOCAL: "removed here",
}


def _who_when(row: FileRow) -> tuple[str, str]:
    if row.remote is not None:
        return row.remote.uploaded_by or "(other tool)", when(row.remote.last_modified)
    if row.base is not None and row.base.uploaded_by:
        return row.base.uploaded_by, when(row.base.synced_at)
    return "-", "not in S3"


# which side's size a row shows: the bytes its next step moves (an upload sends the local file,
# a download fetches the S3 object, `up --delete` / `down --force` act on the S3 object of a file
# deleted here); a conflict moves nothing until the person chooses, so it shows both
_SIDES = {
    FileState.SYNCED: ("local",),
    FileState.UPLOAD: ("local",),
    FileState.DOWNLOAD: ("remote",),
    FileState.CONFLICT: ("local", "remote"),
    FileState.DELETED_HERE: ("remote",),
    FileState.DELETED_THERE: ("local",),
    FileState.REFUSED: ("remote",),
}


def _sizes(row: FileRow) -> list[int]:
    """The sizes a row shows (see _SIDES), falling back to whichever side exists."""
    sides = [getattr(row, side) for side in _SIDES.get(row.state, ("local", "remote"))]
    sizes = [entry.size for entry in sides if entry is not None]
    if sizes:
        return sizes
    entry = row.local or row.remote or row.base
    return [entry.size] if entry is not None else [0]


def _size_text(row: FileRow) -> str:
    """`30 B`, or for a conflict `30 B / 16 B` (here / in S3)."""
    return " / ".join(format_size(size) for size in _sizes(row))


def file_lines(plan: Plan) -> list[str]:
    rows = [r for r in plan.rows if r.state is not FileState.GONE]
    if not rows:
        return ["  (no staging files on either side)"]
    sizes = [_size_text(r) for r in rows]
    width = max(9, *(len(text) for text in sizes))
    lines = [f"  {'state':<14} {'size':>{width}}  {'uploaded by':<13} {'when':<21} file"]
    for row, size in zip(rows, sizes, strict=True):
        who, stamp = _who_when(row)
        lines.append(f"  {row.state.value:<14} {size:>{width}}  {who:<13} {stamp:<21} {row.rel}")
    return lines


def header(target: Target) -> str:
    return f"{target.brand_key} {target.project_id}  (s3://{target.bucket}/{target.prefix})"


def status_lines(status: ProjectStatus) -> list[str]:
    lines = [header(status.target), *file_lines(status.plan)]
    shown = {r.rel for r in status.plan.rows}
    for skipped in status.skipped:
        if skipped.rel not in shown:
            lines.append(f"  skipped {skipped.rel}: {skipped.reason}")
    for row in status.plan.with_state(FileState.SKIPPED):
        lines.append(f"  skipped {row.rel}: {row.reason}")
    for part in status.partials:
        rel = part.dest.relative_to(status.target.staging.absolute()).as_posix()
        lines.append(
            f"  partial download {rel}: {format_size(part.done)} of {format_size(part.size)} "
            f"kept in {part.temp.name}; `{status.target.command('down')}` resumes it, "
            f"`{status.target.command('cleanup', '--side', 'local')}` removes it"
        )
    for row in status.plan.with_state(FileState.CONFLICT, FileState.REFUSED, FileState.NAME_CLASH):
        lines.append(f"  ! {row_message(status.target, row)}")
    if status.first_expiry is not None:
        if status.last_expiry is None or when(status.first_expiry) == when(status.last_expiry):
            lines.append(f"  S3 staging expires {when(status.first_expiry)} (lifecycle)")
        else:
            lines.append(
                f"  S3 staging expires {when(status.first_expiry)} (oldest file) to "
                f"{when(status.last_expiry)} (newest) (lifecycle)"
            )
    if status.recommendations:
        for rec in status.recommendations:
            lines.append(f"  → {rec.command}    # {rec.why}")
    else:
        lines.append("  nothing to do: everything is synced")
    return lines


def outcome_line(outcome: Outcome) -> str:
    """`✓ uploaded 4.2 MB  raw.mp4  (resumed at 62%)`, `✓ deleted in S3  notes.md  (…)`, or
    `✗ what went wrong`."""
    if not outcome.ok:
        return f"  ✗ {outcome.message}"
    done = _DONE.get(outcome.kind, outcome.kind.value)
    moved = outcome.kind in (ActionKind.UPLOAD, ActionKind.DOWNLOAD)
    text = (
        f"  ✓ {done} {format_size(outcome.bytes)}  {outcome.rel}"
        if moved
        else (f"  ✓ {done}  {outcome.rel}")
    )
    notes = []
    if outcome.resumed and outcome.bytes:
        notes.append(f"resumed at {resumed_percent(outcome.resumed, outcome.bytes)}%")
    if outcome.message:
        notes.append(outcome.message.removeprefix(f"{done}; "))
    return text + (f"  ({'; '.join(notes)})" if notes else "")


def resumed_percent(done_bytes: int, total: int) -> int:
    """How far a resumed transfer had got, rounded down (99.9% is not 100%)."""
    return min(99, done_bytes * 100 // total) if total else 0


def _summary(report: SyncReport) -> str:
    """`2 uploaded (5.2 MB), 1 deleted in S3, 1 failed, 3 synced now`."""
    verb = _VERB[report.direction]
    ok = [o for o in report.outcomes if o.ok]
    moved = [o for o in ok if o.kind in (ActionKind.UPLOAD, ActionKind.DOWNLOAD)]
    parts = []
    deleted_s3 = sum(1 for o in ok if o.kind is ActionKind.DELETE_REMOTE)
    removed = sum(1 for o in ok if o.kind is ActionKind.DELETE_LOCAL)
    failed = len(report.outcomes) - len(ok)
    if moved or not (deleted_s3 or removed):
        parts.append(f"{len(moved)} {verb}ed ({format_size(report.bytes_transferred)})")
    if deleted_s3:
        parts.append(f"{deleted_s3} deleted in S3")
    if removed:
        parts.append(f"{removed} removed here (kept in .vam/backups/)")
    if failed:
        parts.append(f"{failed} failed")
    synced = len(report.after.with_state(FileState.SYNCED)) if report.after else 0
    return f"  {', '.join(parts)}, {synced} synced now"


def report_lines(report: SyncReport) -> list[str]:
    """The result of s3.up / s3.down. The project header is not part of it: the task prints it
    before the transfer starts (`header`)."""
    verb = _VERB[report.direction]
    lines: list[str] = []
    if report.dry_run:
        lines.append(f"  dry run: the plan of s3.{report.direction}, nothing transferred")
        for action in report.actions:
            if action.kind in (ActionKind.UPLOAD, ActionKind.DOWNLOAD):
                extra = " (local copy kept in .vam/backups/ first)" if action.backup else ""
                if action.if_match:
                    extra += f" (only over S3 version ETag {action.if_match})"
                lines.append(
                    f"  would {action.kind.value:<8} {format_size(action.size):>9}  "
                    f"{action.rel}  [{action.state.value}]{extra}"
                )
            elif action.kind is ActionKind.DELETE_REMOTE:
                lines.append(
                    f"  would delete in S3  {action.rel}  [deleted here; kept by bucket "
                    "versioning where it is on, else copied to .vam/backups/ in S3 first]"
                )
            elif action.kind is ActionKind.DELETE_LOCAL:
                lines.append(f"  would move to .vam/backups/  {action.rel}  [deleted in S3]")
            elif action.kind is ActionKind.RECORD:
                lines.append(f"  would record  {action.rel} as synced (same content, no transfer)")
        total = sum(a.size for a in report.transfers)
        synced = len(report.plan.with_state(FileState.SYNCED))
        parts = [f"{len(report.transfers)} to {verb} ({format_size(total)})"]
        deletions = {
            ActionKind.DELETE_REMOTE: "to delete in S3",
            ActionKind.DELETE_LOCAL: "to move to .vam/backups/",
        }
        for kind, words in deletions.items():
            count = sum(1 for a in report.actions if a.kind is kind)
            if count:
                parts.append(f"{count} {words}")
        lines.append(f"  {', '.join(parts)}, {synced} already synced")
    else:
        lines.extend(outcome_line(outcome) for outcome in report.outcomes)
        synced = len(report.after.with_state(FileState.SYNCED)) if report.after else 0
        if not report.outcomes:
            lines.append(f"  nothing to {verb}: {synced} file(s) synced")
        else:
            lines.append(_summary(report))
    for skipped in report.skipped:
        lines.append(f"  ! skipped {skipped.rel}: {skipped.reason}")
    for message in report.messages:
        lines.append(f"  ! {message}")
    if report.messages:
        lines.append(f"  {len(report.messages)} file(s) left as they are: see the lines marked !")
    for problem in report.unsettled:
        lines.append(f"  ✗ re-check: {problem}")
    # what is left to do afterwards (e.g. newer files in S3 after an upload), as exact commands
    own = report.target.command(report.direction)
    for rec in recommend(report.target, report.after or report.plan):
        if rec.command != own:
            lines.append(f"  → {rec.command}    # {rec.why}")
    return lines


def unsettled_files(report: SyncReport) -> list[str]:
    """What the run leaves not as it should be (SyncReport.problems), one `file: what` each."""
    return list(report.problems)


def failure_summary(reports: Iterable[SyncReport]) -> str | None:
    """The one line a failed run ends with, or None when every file is as it should be."""
    reports = list(reports)
    problems = sum(len(r.problems) for r in reports)
    if not problems:
        return None
    conflicts = sum(len(r.conflicts_left) for r in reports)
    clashes = sum(len(r.name_clashes) for r in reports)
    unread = sum(len(r.unreadable) for r in reports)
    failed = problems - conflicts - clashes - unread
    would = "would be " if reports and all(r.dry_run for r in reports) else ""
    parts = [f"{failed} file(s) not transferred"] if failed else []
    if conflicts:
        parts.append(f"{conflicts} conflict(s) {would}left untouched")
    if clashes:
        parts.append(f"{clashes} file name(s) clash (one file on Windows and macOS)")
    if unread:
        parts.append(f"{unread} file(s) could not be read")
    only_conflicts = conflicts == problems
    hint = "run one of the two commands shown" if only_conflicts else "see the lines above"
    return f"{' and '.join(parts)}; {hint}"


def _row_dict(row: FileRow) -> dict[str, Any]:
    who, _ = _who_when(row)
    return {
        "file": row.rel,
        "state": row.state.value,
        "reason": row.reason,
        "size": _sizes(row)[0],  # a conflict: yours; both are under local and remote
        "uploaded_by": row.remote.uploaded_by if row.remote else None,
        "uploaded_at": row.remote.last_modified.isoformat() if row.remote else None,
        "local": _local_dict(row.local) if row.local else None,
        "remote": _remote_dict(row.remote) if row.remote else None,
    }


def _crc(crc32: int | None) -> str | None:
    return f"{crc32:08x}" if crc32 is not None else None


def _local_dict(local: LocalEntry) -> dict[str, Any]:
    return {"size": local.size, "crc32": _crc(local.crc32), "described": describe_local(local)}


def _remote_dict(remote: RemoteEntry) -> dict[str, Any]:
    return {
        "key": remote.key,
        "size": remote.size,
        "etag": remote.etag,
        "crc32": _crc(remote.crc32),
    }


def status_dict(status: ProjectStatus) -> dict[str, Any]:
    t = status.target
    return {
        "brand": t.brand_key,
        "project": t.project_id,
        "bucket": t.bucket,
        "prefix": t.prefix,
        "counts": status.plan.counts(),
        "files": [_row_dict(r) for r in status.plan.rows],
        "recommendations": [{"command": r.command, "why": r.why} for r in status.recommendations],
        "expires_first": status.first_expiry.isoformat() if status.first_expiry else None,
        "expires_last": status.last_expiry.isoformat() if status.last_expiry else None,
    }


def report_dict(report: SyncReport) -> dict[str, Any]:
    t = report.target
    return {
        "command": f"s3.{report.direction}",
        "brand": t.brand_key,
        "project": t.project_id,
        "dry_run": report.dry_run,
        "ok": not unsettled_files(report),
        "actions": [
            {
                "action": a.kind.value,
                "file": a.rel,
                "state": a.state.value,
                "size": a.size,
                "backup": a.backup,
                "if_match": a.if_match,
            }
            for a in report.actions
            if a.kind is not ActionKind.SKIP
        ],
        "results": [
            {
                "file": o.rel,
                "action": o.kind.value,
                "ok": o.ok,
                "bytes": o.bytes,
                "resumed_bytes": o.resumed,
                "message": o.message,
            }
            for o in report.outcomes
        ],
        "messages": list(report.messages),
        "unsettled": unsettled_files(report),
        "bytes_transferred": report.bytes_transferred,
        "after": report.after.counts() if report.after else None,
    }
