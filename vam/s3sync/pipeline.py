"""The one path of `s3.up` and `s3.down` (SPEC §4): scan -> plan -> bookkeeping -> transfers ->
record -> deletions -> re-check.

`sync()` runs it; a `Direction` (up.Upload, down.Download) is the part that differs: how to plan
the actions, how to move one file, how to book a finished transfer, how to carry out a deletion.
The sync record is written after every file that finished, so an interrupted run loses nothing it
did; the re-check scans again and names every file it moved or deleted that is not now settled.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vam.core.files import FileRules
from vam.s3sync.describe import row_message
from vam.s3sync.fingerprint import ChecksumCache, Hasher, Hold
from vam.s3sync.model import Action, ActionKind, BaseEntry, FileRow, FileState, Plan
from vam.s3sync.parallel import each_transfer
from vam.s3sync.remoteindex import RemoteIndex
from vam.s3sync.report import Outcome, SyncReport
from vam.s3sync.scan import scan_project
from vam.s3sync.syncrecord import load_record, save_record
from vam.s3sync.target import Target
from vam.s3sync.transfer import roundtrip
from vam.s3sync.transfer.progress import NO_PROGRESS, Progress, make_progress


@dataclass
class Run:
    """One run of the pipeline, as a direction's steps see it."""

    s3: Any
    target: Target
    user: str
    plan: Plan
    base: dict[str, BaseEntry]  # the sync record, written again after every file that finished
    cache: ChecksumCache
    hasher: Hasher
    max_rate: int | None = None
    progress: Progress = NO_PROGRESS
    cancel: threading.Event = field(default_factory=threading.Event)  # Ctrl-C or a failure:
    # the other files in flight stop too
    index: RemoteIndex | None = None  # vam's index in S3 as the scan read it (None: not read)

    def row(self, action: Action) -> FileRow:
        row = self.plan.row(action.rel)
        assert row is not None
        return row

    def save_record(self) -> None:
        save_record(self.target.state_dir, self.user, self.target.project_id, self.base)


class Direction(ABC):
    """What `s3.up` and `s3.down` do differently; one object serves one run (`start` sets up its
    state). `move` runs on worker threads, several files at once; `book` and `delete` run on the
    pipeline's thread, one at a time, so what they keep needs no lock."""

    name: str  # "up" | "down"
    transfer_kind: ActionKind  # the actions `move` carries out
    deletion_kind: ActionKind  # the actions `delete` carries out
    defer_new: bool = False  # the scan leaves new local files unread (see scan_project)

    @abstractmethod
    def actions(self, plan: Plan, *, force: bool, delete: bool) -> tuple[Action, ...]:
        """What the run does about each file of the plan."""

    def check(self, target: Target, plan: Plan, actions: Iterable[Action]) -> None:  # noqa: B027 - an optional hook
        """Before anything is written: raise when the run cannot go (no room for it, …)."""

    def start(self, run: Run) -> None:  # noqa: B027 - an optional hook
        """The run begins: the bookkeeping the plan asked for is recorded, no file moved yet."""

    @abstractmethod
    def move(self, run: Run, action: Action) -> Any:
        """Move one file; an Outcome when it did not happen (the other files go on)."""

    @abstractmethod
    def book(self, run: Run, action: Action, moved: Any) -> Outcome:
        """A file `move` finished: remember it (checksum cache, sync record, …)."""

    @abstractmethod
    def delete(self, run: Run, action: Action) -> Outcome:
        """Carry out one deletion, only of the exact version the plan showed."""

    def finish(self, run: Run, actions: Iterable[Action], deleted: set[str]) -> None:  # noqa: B027 - an optional hook
        """Every transfer and deletion is done (`deleted`: the files deleted). It runs beside
        the re-check's listing (one round trip less at the end of a run), so it writes only
        under the project's `.vam/`, which the listing leaves out, and does not change what
        `index_hint` returned."""

    def index_hint(self, run: Run) -> RemoteIndex | None:
        """What the index will know once `finish` has written it, for the re-check to spare HEADs
        with (taken before `finish` starts); None: the one the scan read serves."""
        return None


def sync(
    s3,
    target: Target,
    direction: Direction,
    *,
    user: str,
    rules: FileRules,
    force: bool = False,
    delete: bool = False,
    dry_run: bool = False,
    max_rate: int | None = None,
    show_progress: bool | None = None,
    hasher: Hasher | None = None,
    hold: Hold | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Scan, plan, carry out and re-check one project in one direction. A dry run stops after
    the plan, with the same report the real run starts from.

    `hold` (vam watch): local files not to read or move this time (scan_project), in both scans.
    `progress`: where the transfers report their bytes (default: tqdm bars, see show_progress)."""
    hasher = hasher or Hasher()
    scan = scan_project(
        s3,
        target,
        user=user,
        rules=rules,
        hasher=hasher,
        save_cache=not dry_run,
        defer_new=direction.defer_new,
        hold=hold,
    )
    plan = scan.plan
    actions = direction.actions(plan, force=force, delete=delete)
    messages = _skip_messages(target, plan, actions)
    if dry_run:
        return SyncReport(
            direction=direction.name,
            target=target,
            plan=plan,
            actions=actions,
            dry_run=True,
            messages=messages,
            bytes_read=hasher.bytes_read,
            skipped=scan.skipped,
        )
    direction.check(target, plan, actions)
    run = Run(
        s3,
        target,
        user,
        plan,
        base=load_record(target.state_dir, user),
        cache=scan.cache or ChecksumCache(target.state_dir),
        hasher=hasher,
        max_rate=max_rate,
        index=scan.index,
    )
    if _apply_bookkeeping(actions, plan, run.base):
        run.save_record()
    direction.start(run)
    outcomes: list[Outcome] = []
    moved = 0
    transfers = [a for a in actions if a.kind is direction.transfer_kind]
    bars = (
        contextlib.nullcontext(progress)
        if progress is not None
        else make_progress(sum(a.size for a in transfers), enabled=show_progress)
    )
    with bars as shown:
        run.progress = shown
        for action, result in each_transfer(
            transfers,
            lambda a: direction.move(run, a),
            run.cancel,
            long_link=roundtrip.long_link(s3),
        ):
            if isinstance(result, Outcome):
                outcomes.append(result)
                continue
            outcome = direction.book(run, action, result)
            moved += outcome.bytes
            outcomes.append(outcome)
    outcomes.sort(key=_in_order_of(transfers))
    deleted: set[str] = set()
    for action in (a for a in actions if a.kind is direction.deletion_kind):
        outcome = direction.delete(run, action)
        outcomes.append(outcome)
        if outcome.ok:
            deleted.add(action.rel)
            run.base.pop(action.rel, None)
            run.save_record()
    hint = direction.index_hint(run) or scan.index
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vam-index") as pool:
        # the index is written while the project is listed again: neither waits for the other
        writing = pool.submit(direction.finish, run, actions, deleted)
        after, unsettled = _recheck(
            s3, target, user, rules, hasher, outcomes, _idle(plan, actions), run.cache, hold, hint
        )
        writing.result()
    return SyncReport(
        direction=direction.name,
        target=target,
        plan=plan,
        actions=actions,
        dry_run=False,
        outcomes=tuple(outcomes),
        messages=messages,
        after=after,
        unsettled=unsettled,
        bytes_transferred=moved,
        bytes_read=hasher.bytes_read,
        skipped=scan.skipped,
    )


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
    hold: Hold | None = None,
    index: RemoteIndex | None = None,
) -> tuple[Plan, tuple[str, ...]]:
    """The project listed again after the run: each transfer must have left its file SYNCED,
    each deletion its file GONE. The listing is the truth; `index` (what this run read and
    wrote) only spares HEADs where it knows an object's ETag, like any index, so it is not read
    back from S3: one round trip less at the end of every run."""
    done = list(done)
    if not done and plan is not None:
        # nothing was done: nothing to confirm, and the scan just made is the state (a re-sync
        # with nothing changed stays one listing and one index GET)
        return plan, ()
    after = scan_project(
        s3, target, user=user, rules=rules, hasher=hasher, cache=cache, hold=hold, index=index
    ).plan
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


def unreadable(rel: str, exc: OSError) -> str:
    """One line for a file that could not be read or written (the others go on)."""
    why = exc.strerror or str(exc)
    return (
        f"cannot read or write {rel}: {why} ({exc.filename or 'the file'}); check its permissions "
        "or close the program holding it, then run the same command again (the other files "
        "went on)"
    )
