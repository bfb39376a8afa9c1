"""handoff and receive: the one command each person runs when their part is done / to pick it up."""

from __future__ import annotations

import json

from invoke import Exit

from vam.handoff.flow import (
    leave_note,
    note_for,
    notify_team,
    project_state,
    stop_before_note,
    who_runs_what,
)
from vam.handoff.note import receivers
from vam.s3sync.down import download
from vam.s3sync.session import Session
from vam.s3sync.share import parse_expiry
from vam.s3sync.syncview import (
    failure_summary,
    header,
    report_dict,
    report_lines,
    status_dict,
    status_lines,
)
from vam.s3sync.up import upload
from vam.tasks.base import JSON_HELP, result, say, vam_task, warn

HELP = {
    "brand": "brand (key, shortcut or repo name); default: from the current folder",
    "project": "project id or short id (b65); default: from the current folder",
    "max_rate": "bandwidth cap, e.g. 2MB/s; default: max_rate in your settings",
    "json": JSON_HELP,
}


def _note_dict(note) -> dict | None:
    return json.loads(note.to_json()) if note is not None else None


@vam_task(
    auto_shortflags=False,
    help={
        **HELP,
        "message": "what the receiver should know, e.g. 'raw cut, intro needs trimming'",
        "to": "who receives it (comma-separated); default: the brand's other members",
        "expires": "how long the download links in the note work: 1h … 7d (default 7d)",
        "no_links": "leave presigned download links out of the note",
        "dry_run": "show what would be uploaded and announced; change nothing",
    },
)
def handoff(
    c,
    brand=None,
    project=None,
    message="",
    to=None,
    expires="7d",
    no_links=False,
    dry_run=False,
    max_rate=None,
    json_=False,
):
    """Hand a project over: upload (verified), note in S3, notify, print the receiver's command."""
    session = Session(brand)
    seconds = parse_expiry(expires)
    proj = session.project(project, remote=False)
    target = session.target(proj)
    to_users = receivers(session.brand.members, session.user, to)
    rate = session.rate(max_rate)
    warn(*session.notes)
    say(header(target))  # before the upload starts
    report = upload(
        session.s3,
        target,
        user=session.user,
        rules=session.rules,
        dry_run=dry_run,
        max_rate=rate,
        show_progress=False if json_ else None,
    )
    result(upload=report_dict(report), to=list(to_users), note=None, notified=None)
    for line in report_lines(report):
        say(line)
    stop = stop_before_note(report, dry_run=dry_run)
    if dry_run:
        say(f"dry run: no note left for {', '.join(to_users) or 'the team'}, nobody notified")
        if stop:  # exit as the real run would
            raise Exit(f"vam: {stop}", code=1)
        return
    if stop:
        raise Exit(f"vam: {stop}", code=1)
    handed = leave_note(
        session.s3,
        target,
        report,
        me=session.user,
        to=to_users,
        message=message,
        link_seconds=None if no_links else seconds,
    )
    note = handed.note
    result(note=_note_dict(note), note_key=handed.key, receive_command=note.receive_command)
    say(f"handoff note stored with the project in S3 ({handed.key.rsplit('/', 1)[-1]}):")
    for line in note.summary_lines(receive_hint=False):  # the receiver's command comes last
        say(f"  {line}")
    sent = notify_team(session.settings.webhook_url, note)
    if sent is not None:
        result(notified=sent.ok, notify_error=None if sent.ok else sent.detail)
        say(
            "notified the team's webhook"
            if sent.ok
            else f"! the upload and the note are done, but the notification failed: {sent.detail}"
        )
    say(who_runs_what(note))


@vam_task(auto_shortflags=False, help={**HELP, "dry_run": "show what would be downloaded"})
def receive(c, brand=None, project=None, dry_run=False, max_rate=None, json_=False):
    """Pick up a handoff: download (verified), then the project's status and the note to you."""
    session = Session(brand)
    proj = session.project(project, remote=True)
    target = session.target(proj)
    rate = session.rate(max_rate)
    warn(*session.notes)
    say(header(target))  # before the download starts
    report = download(
        session.s3,
        target,
        user=session.user,
        rules=session.rules,
        dry_run=dry_run,
        max_rate=rate,
        show_progress=False if json_ else None,
    )
    result(download=report_dict(report))
    for line in report_lines(report):
        say(line)
    say()
    found, keys = project_state(
        session.s3,
        target,
        user=session.user,
        rules=session.rules,
        staging_days=session.config.storage.staging_days,
    )
    result(status=status_dict(found))
    for line in status_lines(found):
        say(line)
    mine = note_for(session.s3, target, found, user=session.user, keys=keys)
    result(handoff=_note_dict(mine.note))
    say()
    if mine.note is None:
        say("no handoff note for you on this project")
    else:  # "to receive: …" only while something of it is still to be received
        for line in mine.note.summary_lines(receive_hint=mine.still_to_receive):
            say(line)
    # the same test as s3.down's: a conflict left untouched is not a received handoff
    failure = failure_summary([report])
    if failure is not None:
        raise Exit(f"vam: {failure}", code=1)
