"""A handoff and its pickup (SPEC §5) once the files have moved: whether the handoff may leave its
note (only when every file is in S3 as it is here), the note with its download links, stored with
the project in S3, the team's notification, and on the receiving side the project's state with
the latest note addressed to the receiver.

Plain functions returning values; `vam handoff` and `vam receive` (vam/tasks/handoff.py) run the
upload or download, print what these return and turn a stop into an exit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vam.core.errors import UsageError
from vam.handoff.note import (
    HandoffNote,
    latest_note,
    note_from_scan,
    received,
    slack_payload,
    store_note,
)
from vam.handoff.notify import Notified, post_webhook
from vam.s3sync.model import FileState
from vam.s3sync.remote import list_project
from vam.s3sync.share import share_links
from vam.s3sync.status import status

if TYPE_CHECKING:
    from vam.core.files import FileRules
    from vam.s3sync.report import ProjectStatus, SyncReport
    from vam.s3sync.target import Target

# states that leave a file not in S3 as it is here after a real upload (a dry run's UPLOAD rows
# are the files the real run would send)
_NOT_SENT = (FileState.CONFLICT, FileState.REFUSED, FileState.NAME_CLASH)


def stop_before_note(report: SyncReport, *, dry_run: bool) -> str | None:
    """Why the handoff must stop before it leaves a note, or None when it may go on: a note
    announces the files as they are here, so every one of them must be in S3 with that content.
    In a dry run: whether the real run would stop."""
    failed = [o for o in report.outcomes if not o.ok] + list(report.unsettled)
    failed += list(report.unreadable)  # a file of the project that could not be read
    still = _NOT_SENT if dry_run else (*_NOT_SENT, FileState.UPLOAD)
    open_rows = (report.after or report.plan).with_state(*still)
    if dry_run:
        if not open_rows:
            return None
        return (
            f"dry run: the handoff would stop before the note: {len(open_rows)} file(s) would not "
            "be in S3 as they are here (see above)"
        )
    if not (failed or open_rows):
        return None
    return (
        f"handoff stopped before the note: {len(failed) + len(open_rows)} file(s) are not in S3 "
        "as they are here (see above); fix them and run the same command again"
    )


@dataclass(frozen=True)
class Handoff:
    """The note a handoff left, and its key in S3."""

    note: HandoffNote
    key: str


def leave_note(
    s3,
    target: Target,
    report: SyncReport,
    *,
    me: str,
    to: tuple[str, ...],
    message: str,
    link_seconds: int | None,
) -> Handoff:
    """The note describing every file now in S3 with the same content on both sides, with
    presigned download links valid `link_seconds` (None: no links), stored with the project."""
    plan = report.after or report.plan
    synced = [r for r in plan.rows if r.state is FileState.SYNCED and r.remote is not None]
    if not synced:
        raise UsageError(
            f"nothing to hand over: {target.staging} has no files; put them there first"
        )
    links, expire_at = {}, None
    if link_seconds is not None:
        made = share_links(
            s3,
            target.bucket,
            [(r.rel, r.remote.key, r.remote.size) for r in synced],
            link_seconds,
        )
        links = {link.rel: link.url for link in made}
        expire_at = made[0].expires_at if made else None
    note = note_from_scan(
        plan,
        brand=target.brand_key,
        project=target.project_id,
        me=me,
        to=to,
        message=message,
        links=links,
        links_expire_at=expire_at,
    )
    key = store_note(s3, target.bucket, target.prefix, note)
    return Handoff(note=note, key=key)


def notify_team(webhook_url: str | None, note: HandoffNote) -> Notified | None:
    """Announce the note on the team's webhook, if one is set (None: nobody to notify). A failure
    is returned, never raised: the upload and the note are done by then."""
    if not webhook_url:
        return None
    return post_webhook(webhook_url, slack_payload(note))


def who_runs_what(note: HandoffNote) -> str:
    """The handoff's last line: who receives it, and the command they run."""
    return f"{', '.join(note.to_users) or 'the receiver'} runs: {note.receive_command}"


# --------------------------------------------------------------------------- receiving


def project_state(
    s3, target: Target, *, user: str, rules: FileRules, staging_days: int
) -> tuple[ProjectStatus, list[str]]:
    """The project's files on both sides after a download, and its keys in S3: one listing
    serves both the files' states and the latest handoff note."""
    objects = list_project(s3, target.bucket, target.prefix)
    found = status(
        s3,
        target,
        user=user,
        rules=rules,
        staging_days=staging_days,
        objects=objects,
    )
    return found, [o.key for o in objects]


@dataclass(frozen=True)
class NoteForMe:
    """The latest handoff note addressed to the person receiving, if any."""

    note: HandoffNote | None
    still_to_receive: bool  # they are its receiver and something of it is not here yet


def note_for(s3, target: Target, found: ProjectStatus, *, user: str, keys: list[str]) -> NoteForMe:
    """The newest note to `user` on this project (read from the listing's `keys`), and whether
    anything of it is still to be received: only then does its "to receive" hint show."""
    note = latest_note(s3, target.bucket, target.prefix, for_user=user, keys=keys)
    if note is None:
        return NoteForMe(note=None, still_to_receive=False)
    hint = note.is_receiver(user) and not received(note, found.plan)
    return NoteForMe(note=note, still_to_receive=hint)
