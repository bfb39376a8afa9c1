"""S3 staging sync: upload, download and compare a project's s3-staging/ files by content."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path

import botocore.exceptions as bce
from invoke import Exit

from vam.aws.client import connect_as, explain
from vam.core.config import load_config
from vam.core.errors import UsageError
from vam.core.projects import (
    find_brand,
    infer_location,
    select_brand,
    select_brands,
)
from vam.core.units import format_size, human_utc
from vam.s3sync.cleanup import LOCAL, REMOTE, plan_cleanup
from vam.s3sync.cleanup_apply import apply_cleanup
from vam.s3sync.down import download
from vam.s3sync.remote import list_project
from vam.s3sync.session import Session
from vam.s3sync.share import parse_expiry, project_links
from vam.s3sync.status import brand_status, staged_projects, status
from vam.s3sync.syncview import (
    failure_summary,
    header,
    report_dict,
    report_lines,
    status_dict,
    status_lines,
)
from vam.s3sync.target import target_for
from vam.s3sync.up import upload
from vam.s3sync.uploads import abort_checked, brand_uploads, parse_age, team_names
from vam.tasks.base import JSON_HELP, confirmed, result, say, vam_task, warn

COMMON_HELP = {
    "brand": "brand (key, shortcut or repo name); default: from the current folder",
    "project": "project id or short id (b65); default: from the current folder",
    "dry_run": "print the exact plan and transfer nothing",
    "json": JSON_HELP,
    "max_rate": "bandwidth cap, e.g. 2MB/s; default: max_rate in your settings",
}


def _aws_errors(session: Session | None, fn):
    try:
        return fn()
    except (bce.ClientError, bce.BotoCoreError) as exc:
        explained = explain(exc, profile=session.aws.profile if session else None)
        if explained is None:
            raise
        raise explained from None


def _finish(reports: list) -> None:
    """Exit 1 when a file is left unsettled (syncview.unsettled_files: the same test as `ok`)."""
    failure = failure_summary(reports)
    if failure is not None:
        raise Exit(f"vam: {failure}", code=1)


@vam_task(
    auto_shortflags=False,  # long options only: --dry-run is never a guess
    help={
        **COMMON_HELP,
        "all": "every project of the brand with a non-empty s3-staging/ folder",
        "force": "upload conflicting files too, each only over the S3 version shown (that "
        "version is kept: by bucket versioning where it is on, else copied to the project's "
        ".vam/backups/ in S3 first)",
        "delete": "delete in S3 the files you deleted here (only the version you last synced, "
        "kept like --force keeps one)",
    },
)
def up(
    c,
    brand=None,
    project=None,
    all_=False,
    dry_run=False,
    force=False,
    delete=False,
    json_=False,
    max_rate=None,
):
    """Upload new and changed files of a project's s3-staging/ (conflicts need --force)."""
    session = Session(brand)
    rate = session.rate(max_rate)
    warn(*session.notes)
    if all_:
        if project:
            raise UsageError("give either --project or --all, not both")
        projects = staged_projects(session.root, session.brand)
        result(brand=session.brand.key, projects=[])
        if not projects:
            say(f"nothing to upload: no project of {session.brand.key} has files in s3-staging/")
            return
    else:
        projects = [session.project(project, remote=False)]
    reports = []
    for proj in projects:
        target = target_for(session.config, proj)
        say(header(target))  # before the transfer: a long upload shows what it is working on
        report = _aws_errors(
            session,
            lambda t=target: upload(
                session.s3,
                t,
                user=session.user,
                rules=session.config.team.files,
                force=force,
                delete=delete,
                dry_run=dry_run,
                max_rate=rate,
                show_progress=False if json_ else None,
            ),
        )
        reports.append(report)
        for line in report_lines(report):
            say(line)
        if all_:  # kept up to date: a failure in the next project still reports this one
            result(projects=[report_dict(r) for r in reports])
        else:
            result(**report_dict(report))
    _finish(reports)


@vam_task(
    auto_shortflags=False,  # long options only: --dry-run is never a guess
    help={
        **COMMON_HELP,
        "force": "download conflicting files too; your version is kept in the project's "
        ".vam/backups/ first",
        "delete": "remove here the files deleted in S3 (moved to the project's .vam/backups/)",
    },
)
def down(
    c,
    brand=None,
    project=None,
    dry_run=False,
    force=False,
    delete=False,
    json_=False,
    max_rate=None,
):
    """Download new and changed S3 files into the project's s3-staging/ (conflicts need --force)."""
    session = Session(brand)
    rate = session.rate(max_rate)
    warn(*session.notes)
    proj = _aws_errors(session, lambda: session.project(project, remote=True))
    target = target_for(session.config, proj)
    say(header(target))  # before the transfer
    report = _aws_errors(
        session,
        lambda: download(
            session.s3,
            target,
            user=session.user,
            rules=session.config.team.files,
            force=force,
            delete=delete,
            dry_run=dry_run,
            max_rate=rate,
            show_progress=False if json_ else None,
        ),
    )
    result(**report_dict(report))
    for line in report_lines(report):
        say(line)
    _finish([report])


@vam_task(
    auto_shortflags=False,  # long options only: --dry-run is never a guess
    help={
        "brand": COMMON_HELP["brand"],
        "project": COMMON_HELP["project"],
        "all": "every project of the brand (or of every brand when no --brand and not inside "
        "one), from one listing per brand",
        "json": COMMON_HELP["json"],
    },
    name="status",
)
def show_status(c, brand=None, project=None, all_=False, json_=False):
    """Per file: state, size, who uploaded it and when; then the commands to run next."""
    if all_ or (not project and not _inside_project(brand)):
        _status_all(brand)
        return
    session = Session(brand)
    proj = _aws_errors(session, lambda: session.project(project, remote=True))
    target = target_for(session.config, proj)
    # one listing serves both the files' states and the latest handoff note
    objects = _aws_errors(session, lambda: list_project(session.s3, target.bucket, target.prefix))
    found = _aws_errors(
        session,
        lambda: status(
            session.s3,
            target,
            user=session.user,
            rules=session.config.team.files,
            staging_days=session.config.storage.staging_days,
            objects=objects,
        ),
    )
    from vam.handoff.note import latest_note, received

    note = _aws_errors(
        session,
        lambda: latest_note(
            session.s3, target.bucket, target.prefix, keys=[o.key for o in objects]
        ),
    )
    result(**status_dict(found), handoff=jsonlib.loads(note.to_json()) if note else None)
    lines = status_lines(found)
    if note is not None:
        hint = note.is_receiver(session.user) and not received(note, found.plan)
        first, *rest = note.summary_lines(files=False, receive_hint=hint)
        lines += [f"  latest {first}", *rest]
    for line in lines:
        say(line)


def _inside_project(brand: str | None) -> bool:
    config = load_config()
    here = infer_location(config, Path.cwd())
    if here.project_id is None:
        return False
    return brand is None or (here.brand is not None and find_brand(config, brand) == here.brand)


def _status_all(brand: str | None) -> None:
    config = load_config()
    brand_keys = [b.key for b in select_brands(config, brand)]
    projects: list[dict] = []
    refused: list[str] = []
    for key in brand_keys:
        session = Session(key)
        statuses, refusals = _aws_errors(
            session, lambda s=session, k=key: brand_status(s.s3, s.config, s.root, k, user=s.user)
        )
        if not statuses and not refusals:
            say(f"{key}: no staging files in S3 or locally")
        for st in statuses:
            for line in status_lines(st):
                say(line)
            say()
        for refusal in refusals:
            say(f"! {refusal}")
        projects.extend(status_dict(st) for st in statuses)
        refused.extend(refusals)
        result(brands=brand_keys, projects=projects, refused=refused)


@vam_task(
    help={
        "brand": "brand whose staging area to look at (default: from the current folder)",
        "abort_older_than": "abort the uploads started longer ago than this, e.g. 7d, 12h, 2w",
        "dry_run": "with --abort-older-than: show what would be aborted, abort nothing",
        "yes": "abort without asking",
        "json": COMMON_HELP["json"],
    }
)
def uploads(c, brand=None, abort_older_than=None, dry_run=False, yes=False, json_=False):
    """List a brand's unfinished uploads (who, when, bytes sent); abort old ones."""
    config = load_config()
    chosen = select_brand(config, brand)
    age = parse_age(abort_older_than) if abort_older_than else None
    s3 = connect_as(config).client("s3")
    found = brand_uploads(s3, config, chosen.key, age=age, age_text=abort_older_than or "")
    result(**found.as_dict(dry_run=dry_run))
    for line in found.lines(dry_run=dry_run):
        say(line)
    doomed = found.to_abort
    if not doomed or dry_run:
        return
    unasked = UsageError("not a terminal, so vam cannot ask: add --yes to abort them")
    if not confirmed(f"abort these {len(doomed)} upload(s)?", yes, unasked):
        say("nothing aborted")
        return
    aborted = abort_checked(s3, config, found)
    result(aborted=[u.as_dict() for u in aborted])
    say(f"aborted {len(aborted)} upload(s); {len(found.found) - len(aborted)} left")


@vam_task(
    auto_shortflags=False,
    help={
        "brand": COMMON_HELP["brand"],
        "project": COMMON_HELP["project"],
        "file": "only files whose path contains this text (default: every file)",
        "expires": "how long the links work: 1h … 7d (default 7d, S3's maximum)",
        "json": COMMON_HELP["json"],
    },
)
def share(c, brand=None, project=None, file=None, expires="7d", json_=False):
    """Presigned download links for a project's S3 files (1h … 7d), for a client or a browser."""
    seconds = parse_expiry(expires)
    session = Session(brand)
    proj = _aws_errors(session, lambda: session.project(project, remote=True))
    target = session.target(proj)
    links = project_links(session.s3, target, seconds, contains=file)
    result(
        brand=target.brand_key,
        project=target.project_id,
        links=[link.as_dict() for link in links],
    )
    expires_at = human_utc(links[0].expires_at)
    where = f"{target.brand_key} {target.project_id}"
    say(f"{len(links)} link(s) for {where}, valid until {expires_at}:")
    for link in links:
        say(f"  {link.rel} ({format_size(link.size)})")
        say(f"    {link.url}")


@vam_task(
    auto_shortflags=False,
    help={
        "brand": COMMON_HELP["brand"],
        "project": COMMON_HELP["project"],
        "side": "what to clean: remote (S3, the default), local (this computer's s3-staging/) "
        "or both",
        "force": "also delete files that exist only on the side being cleaned (in S3, where "
        "bucket versioning does not keep them, each is first copied to the project's "
        ".vam/backups/ in S3), and abort every unfinished upload, also other people's and "
        "recent ones",
        "include_backups": "also delete the versions vam kept under the project's .vam/backups/ "
        "in S3 (by --force, s3.up --force or --delete); there is no undo for them",
        "yes": "do not ask for confirmation",
        "dry_run": "show what would be deleted; delete nothing (exits as the real run would: "
        "1 when files would be kept)",
        "json": COMMON_HELP["json"],
    },
)
def cleanup(
    c,
    brand=None,
    project=None,
    side="remote",
    force=False,
    include_backups=False,
    yes=False,
    dry_run=False,
    json_=False,
):
    """Delete a finished project's staging files (S3 and/or here); the only copy needs --force."""
    sides = {"remote": (REMOTE,), "local": (LOCAL,), "both": (REMOTE, LOCAL)}.get(side)
    if sides is None:
        raise UsageError(f"--side {side!r}: use remote, local or both")
    session = Session(brand)
    proj = _aws_errors(session, lambda: session.project(project, remote=True))
    target = session.target(proj)
    plan = _aws_errors(
        session,
        lambda: plan_cleanup(
            session.s3,
            target,
            user=session.user,
            rules=session.rules,
            sides=sides,
            force=force,
            noncurrent_days=session.config.storage.noncurrent_days,
            include_backups=include_backups,
            people=team_names(session.config),
            probe=not dry_run,
        ),
    )
    result(**plan.as_dict(dry_run=dry_run))
    for line in plan.lines():
        say(line)
    # files kept make the run fail (exit 1), and a dry run exits as the real run would
    kept = f"{len(plan.refused)} file(s) {'would be ' if dry_run else ''}kept (see above)"
    if plan.nothing or dry_run:
        say("nothing to delete" if plan.nothing else "dry run: nothing deleted")
        if plan.refused:
            raise Exit(f"vam: {kept}", code=1)
        return
    count = len(plan.to_delete)
    unasked = UsageError("not a terminal, so vam cannot ask: add --yes to delete them")
    if not confirmed(f"delete these {count} file(s)?", yes, unasked):
        say("nothing deleted")
        return
    done = _aws_errors(
        session, lambda: apply_cleanup(session.s3, plan, user=session.user, rules=session.rules)
    )
    result(**done.as_dict(plan))
    for line in done.lines(plan):
        say(line)
    if done.failed or plan.refused:
        raise Exit(f"vam: {len(done.failed) + len(plan.refused)} file(s) kept (see above)", code=1)
