"""What s3.up and s3.down share: the bookkeeping the plan asks for, the one-line messages about
files left alone, and the re-check after the run."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from vam.core.files import FileRules
from vam.s3sync.describe import row_message
from vam.s3sync.fingerprint import ChecksumCache, Hasher
from vam.s3sync.model import Action, ActionKind, BaseEntry, FileRow, FileState, Plan
from vam.s3sync.report import Outcome
from vam.s3sync.scan import scan_project
from vam.s3sync.target import Target


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _base_from(row: FileRow) -> BaseEntry:
    """The base for a file both sides hold with equal content."""
    assert row.local is not None and row.remote is not None
    return BaseEntry(
        rel=row.rel,
        size=row.local.size,
        crc32=row.local.crc32,
        etag=row.remote.etag,
        version_id=row.remote.version_id,
        mtime_ns=row.local.mtime_ns,
        synced_at=now_iso(),
        uploaded_by=row.remote.uploaded_by,
    )


def _apply_bookkeeping(actions: Iterable[Action], plan: Plan, base: dict[str, BaseEntry]) -> bool:
    changed = False
    for action in actions:
        row = plan.row(action.rel)
        if action.kind is ActionKind.RECORD and row is not None:
            base[action.rel] = _base_from(row)
            changed = True
        elif action.kind is ActionKind.FORGET:
            changed = base.pop(action.rel, None) is not None or changed
    return changed


def _skip_messages(target: Target, plan: Plan, actions: Iterable[Action]) -> tuple[str, ...]:
    return tuple(
        row_message(target, plan.row(a.rel))  # type: ignore[arg-type]
        for a in actions
        if a.kind is ActionKind.SKIP and a.state is not FileState.SYNCED
    )


def _idle(plan: Plan, actions: Iterable[Action]) -> Plan | None:
    """The plan, when it asked for nothing at all (no transfer, deletion or bookkeeping)."""
    return plan if all(a.kind is ActionKind.SKIP for a in actions) else None


def _recheck(
    s3,
    target: Target,
    user: str,
    rules: FileRules,
    hasher: Hasher,
    done: Iterable[Outcome],
    plan: Plan | None = None,
    cache: ChecksumCache | None = None,
) -> tuple[Plan, tuple[str, ...]]:
    done = list(done)
    if not done and plan is not None:
        # nothing was done: nothing to confirm, and the scan just made is the state (a re-sync
        # with nothing changed stays one listing and one index GET)
        return plan, ()
    after = scan_project(s3, target, user=user, rules=rules, hasher=hasher, cache=cache).plan
    unsettled = []
    for outcome in done:
        if outcome.ok and outcome.kind in (ActionKind.UPLOAD, ActionKind.DOWNLOAD):
            row = after.row(outcome.rel)
            if row is None or row.state is not FileState.SYNCED:
                state = row.state.value if row else "missing"
                unsettled.append(f"{outcome.rel}: {state} after the transfer")
        if outcome.ok and outcome.kind in (ActionKind.DELETE_REMOTE, ActionKind.DELETE_LOCAL):
            row = after.row(outcome.rel)
            if row is not None and row.state is not FileState.GONE:
                unsettled.append(f"{outcome.rel}: {row.state.value} after the deletion")
    return after, tuple(unsettled)


def _in_order_of(actions: list[Action]) -> Callable[[Outcome], int]:
    """Sort key: outcomes in the plan's order, however the transfers finished."""
    order = {a.rel: i for i, a in enumerate(actions)}
    return lambda outcome: order.get(outcome.rel, len(order))


def _unreadable(rel: str, exc: OSError) -> str:
    """One line for a file that could not be read or written (the others go on)."""
    why = exc.strerror or str(exc)
    return (
        f"cannot read or write {rel}: {why} ({exc.filename or 'the file'}); check its permissions "
        "or close the program holding it, then run the same command again (the other files "
        "went on)"
    )
