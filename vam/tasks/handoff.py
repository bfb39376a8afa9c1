"""handoff and receive: the one command each person runs when their part is done / to pick it up."""

from __future__ import annotations

from invoke import Exit

from vam.errors import UsageError
from vam.handoff import latest_note, note_from_scan, receivers, slack_payload, store_note
from vam.model import FileState
from vam.notify import post_webhook
from vam.remote import list_project
from vam.session import Session
from vam.share import parse_expiry, share_links
from vam.sync import download, status, upload
from vam.syncview import report_lines, status_lines
from vam.tasks.base import say, vam_task, warn

HELP = {
    "brand": "brand (key, shortcut or repo name); default: from the current folder",
    "project": "project id or short id (b65); default: from the current folder",
    "max_rate": "bandwidth cap, e.g. 2MB/s; default: max_rate in your settings",
}


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
):
    """Hand a project over: upload (verified), note in S3, notify, print the receiver's command."""
    session = Session(brand)
    seconds = parse_expiry(expires)
    proj = session.project(project, remote=False)
    target = session.target(proj)
    to_users = receivers(session.brand.members, session.user, to)
    rate = session.rate(max_rate)
    warn(*session.notes)
    report = upload(
        session.s3,
        target,
        user=session.user,
        rules=session.rules,
        dry_run=dry_run,
        max_rate=rate,
    )
    for line in report_lines(report):
        say(line)
    if dry_run:
        say(f"dry run: no note left for {', '.join(to_users) or 'the team'}, nobody notified")
        return
    failed = [o for o in report.outcomes if not o.ok] + list(report.unsettled)
    open_rows = (report.after or report.plan).with_state(
        FileState.CONFLICT, FileState.UPLOAD, FileState.REFUSED
    )
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
    say(f"handoff note stored with the project in S3 ({key.rsplit('/', 1)[-1]}):")
    for line in note.summary_lines():
        say(f"  {line}")
    webhook = session.settings.webhook_url
    if webhook:
        sent = post_webhook(webhook, slack_payload(note))
        say(
            "notified the team's webhook"
            if sent.ok
            else f"! the upload and the note are done, but the notification failed: {sent.detail}"
        )
    say(f"{', '.join(to_users) or 'the receiver'} runs: {note.receive_command}")


@vam_task(auto_shortflags=False, help={**HELP, "dry_run": "show what would be downloaded"})
def receive(c, brand=None, project=None, dry_run=False, max_rate=None):
    """Pick up a handoff: download (verified), then the project's status and the note to you."""
    session = Session(brand)
    proj = session.project(project, remote=True)
    target = session.target(proj)
    rate = session.rate(max_rate)
    warn(*session.notes)
    report = download(
        session.s3,
        target,
        user=session.user,
        rules=session.rules,
        dry_run=dry_run,
        max_rate=rate,
    )
    for line in report_lines(report):
        say(line)
    say()
    # one listing serves both the files' states and the latest handoff note
    objects = list_project(session.s3, target.bucket, target.prefix)
    result = status(
        session.s3,
        target,
        user=session.user,
        rules=session.rules,
        staging_days=session.config.storage.staging_days,
        objects=objects,
    )
    for line in status_lines(result):
        say(line)
    keys = [o.key for o in objects]
    note = latest_note(session.s3, target.bucket, target.prefix, for_user=session.user, keys=keys)
    say()
    if note is None:
        say("no handoff note for you on this project")
    else:
        for line in note.summary_lines():
            say(line)
    failed = [o for o in report.outcomes if not o.ok] + list(report.unsettled)
    if failed:
        raise Exit(f"vam: {len(failed)} file(s) not downloaded; see the lines above", code=1)
