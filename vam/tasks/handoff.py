"""handoff and receive: the one command each person runs when their part is done / to pick it up."""

from __future__ import annotations

import json

from invoke import Exit

from vam.core.errors import UsageError
from vam.handoff.note import (
    latest_note,
    note_from_scan,
    received,
    receivers,
    slack_payload,
    store_note,
)
from vam.handoff.notify import post_webhook
from vam.s3sync.down import download
from vam.s3sync.model import FileState
from vam.s3sync.remote import list_project
from vam.s3sync.session import Session
from vam.s3sync.share import parse_expiry, share_links
from vam.s3sync.status import status
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
    failed = [o for o in report.outcomes if not o.ok] + list(report.unsettled)
    failed += list(report.unreadable)  # a file of the project that could not be read
    # after a real upload, what is still not in S3; in a dry run, what the upload would not send
    still = (FileState.CONFLICT, FileState.REFUSED, FileState.NAME_CLASH)
    still += () if dry_run else (FileState.UPLOAD,)
    open_rows = (report.after or report.plan).with_state(*still)
    if dry_run:
        say(f"dry run: no note left for {', '.join(to_users) or 'the team'}, nobody notified")
        if open_rows:  # exit as the real run would
            raise Exit(
                f"vam: dry run: the handoff would stop before the note: {len(open_rows)} file(s) "
                "would not be in S3 as they are here (see above)",
                code=1,
            )
        return
    if failed or open_rows:
        raise Exit(
            f"vam: handoff stopped before the note: {len(failed) + len(open_rows)} file(s) are "
            "not in S3 as they are here (see above); fix them and run the same command again",
            code=1,
        )
    plan = report.after or report.plan
    synced = [r for r in plan.rows if r.state is FileState.SYNCED and r.remote is not None]
    if not synced:
        raise UsageError(
            f"nothing to hand over: {target.staging} has no files; put them there first"
        )
    links, expire_at = {}, None
    if not no_links:
        made = share_links(
            session.s3,
            target.bucket,
            [(r.rel, r.remote.key, r.remote.size) for r in synced],
            seconds,
        )
        links = {link.rel: link.url for link in made}
        expire_at = made[0].expires_at if made else None
    note = note_from_scan(
        plan,
        brand=target.brand_key,
        project=target.project_id,
        me=session.user,
        to=to_users,
        message=message,
        links=links,
        links_expire_at=expire_at,
    )
    key = store_note(session.s3, target.bucket, target.prefix, note)
    result(note=_note_dict(note), note_key=key, receive_command=note.receive_command)
    say(f"handoff note stored with the project in S3 ({key.rsplit('/', 1)[-1]}):")
    for line in note.summary_lines(receive_hint=False):  # the receiver's command comes last
        say(f"  {line}")
    webhook = session.settings.webhook_url
    if webhook:
        sent = post_webhook(webhook, slack_payload(note))
        result(notified=sent.ok, notify_error=None if sent.ok else sent.detail)
        say(
            "notified the team's webhook"
            if sent.ok
            else f"! the upload and the note are done, but the notification failed: {sent.detail}"
        )
    say(f"{', '.join(to_users) or 'the receiver'} runs: {note.receive_command}")


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
    # one listing serves both the files' states and the latest handoff note
    objects = list_project(session.s3, target.bucket, target.prefix)
    found = status(
        session.s3,
        target,
        user=session.user,
        rules=session.rules,
        staging_days=session.config.storage.staging_days,
        objects=objects,
    )
    result(status=status_dict(found))
    for line in status_lines(found):
        say(line)
    keys = [o.key for o in objects]
    note = latest_note(session.s3, target.bucket, target.prefix, for_user=session.user, keys=keys)
    result(handoff=_note_dict(note))
    say()
    if note is None:
        say("no handoff note for you on this project")
    else:  # "to receive: …" only while something of it is still to be received
        hint = note.is_receiver(session.user) and not received(note, found.plan)
        for line in note.summary_lines(receive_hint=hint):
            say(line)
    # the same test as s3.down's: a conflict left untouched is not a received handoff
    failure = failure_summary([report])
    if failure is not None:
        raise Exit(f"vam: {failure}", code=1)
