"""The off-site archive: finished projects in S3 Glacier Deep Archive (or another archive class),
verified, never expired, restorable."""

from __future__ import annotations

from pathlib import Path

from invoke import Exit

from vam.archive.classes import AS_OF, SOURCE, format_dollars, price_note
from vam.archive.cloud import archive_project, result_lines
from vam.archive.fetch import fetch
from vam.archive.plan import plan_lines
from vam.archive.restore import plan_restore, request_restores
from vam.archive.restoreview import fetched_lines, requested_lines
from vam.archive.restoreview import plan_lines as restore_plan_lines
from vam.archive.scan import scan_archive
from vam.archive.summary import read_brand
from vam.archive.target import archive_target
from vam.aws.client import connect_as
from vam.core.config import load_config
from vam.core.errors import NotFoundError, SafetyError, UsageError
from vam.core.projects import projects_dir, select_brands, select_project
from vam.core.team import ARCHIVE_CLASSES
from vam.core.units import format_size, human_utc, iso_utc
from vam.s3sync.remote import remote_project_ids
from vam.s3sync.session import Session
from vam.ssd.cloud import pick_for_cloud, source_for, ssd_ids
from vam.tasks.base import JSON_HELP, confirmed, result, say, vam_task, warn

COMMON_HELP = {
    "brand": "brand (key, shortcut or repo name); default: from the current folder",
    "project": "project id or short id (b65); default: from the current folder",
    "dry_run": "print the exact plan and change nothing",
    "json": JSON_HELP,
    "max_rate": "bandwidth cap, e.g. 2MB/s; default: max_rate in your settings",
}


def _archived_ids(session: Session) -> list[str]:
    storage = session.config.storage
    return remote_project_ids(
        session.s3, storage.bucket, storage.archive_prefix_for(session.brand.key)
    )


@vam_task(
    auto_shortflags=False,
    help={
        **COMMON_HELP,
        "next": "archive the N oldest projects (by newest file) not in the cloud archive yet",
        "update": "archive again the files that changed since they were archived (the archived "
        "versions stay as old versions for the class's minimum storage duration)",
    },
)
def cloud(
    c, brand=None, project=None, next=0, update=False, dry_run=False, json_=False, max_rate=None
):
    """Archive a finished project to the cloud (S3 Deep Archive by default), verified."""
    session = Session(brand)
    rate = session.rate(max_rate)
    warn(*session.notes)
    config, root = session.config, session.root
    next_n = int(next or 0)
    if next_n < 0:
        raise UsageError(f"--next {next_n}: give how many projects to archive, e.g. --next 1")
    if next_n and project:
        raise UsageError("give either --project or --next N, not both")
    if next_n:
        done_ids = set(_archived_ids(session))
        projects = pick_for_cloud(config, root, session.brand, next_n, done_ids)
        if not projects:
            raise NotFoundError(
                f"brand {session.brand.key} has no project left to archive to the cloud "
                "(active, or on the plugged-in SSD)"
            )
        say(
            f"oldest {len(projects)} project(s) not in the cloud archive yet: "
            + ", ".join(p.id for p in projects)
        )
    else:
        on_ssd = ssd_ids(config, root, session.brand)  # a project may be on the SSD alone
        projects = [
            select_project(
                config, root, session.brand.key, project, include_archived=True, remote_ids=on_ssd
            )
        ]
    entries: list[dict] = []
    result(dry_run=dry_run, projects=entries)
    incomplete = []
    for proj in projects:
        source = source_for(config, root, proj)
        target = archive_target(config, proj.brand.key, proj.id)
        plan = scan_archive(
            session.s3,
            target,
            source.folder,
            session.rules,
            state_dir=source.state_dir,
            update=update,
        )
        entry: dict = {
            "brand": proj.brand.key,
            "project": proj.id,
            "source": str(source.folder),
            "to": target.where,
            "storage_class": target.storage_class,
            "plan": plan_lines(plan),
            "to_send": len(plan.to_send),
            "send_bytes": plan.send_bytes,
            "already_archived": len(plan.of("archived")),
            "changed": [{"file": s.rel, "detail": s.detail} for s in plan.of("changed")],
            "skipped": [{"file": s.rel, "reason": s.reason} for s in plan.skipped],
            "sent": [],
            "verified": 0,
            "complete": None,
        }
        entries.append(entry)
        for line in plan_lines(plan):
            say(line)
        if source.where != "this computer":
            say(f"  (from {source.where}: this computer holds no full copy of it)")
        if dry_run:
            say("  dry run: nothing sent")
            continue
        done = archive_project(
            session.s3,
            plan,
            user=session.user,
            state_dir=source.state_dir,
            max_rate=rate,
            show_progress=False if json_ else None,
            profile=session.aws.profile,
        )
        entry.update(
            sent=[
                {"file": s.rel, "bytes": up.size, "crc32": f"{up.crc32:08x}"} for s, up in done.sent
            ],
            failed=[{"file": rel, "why": why} for rel, why in done.failed],
            unverified=[{"file": rel, "why": why} for rel, why in done.unverified],
            verified=done.verified,
            complete=done.complete,
        )
        for line in result_lines(done):
            say(line)
        if not done.complete:
            incomplete.append(proj.id)
    if incomplete:
        raise Exit(
            f"vam: the cloud archive of {', '.join(incomplete)} does not hold every file as it is "
            "now (see above); fix what is named and run the same command again",
            code=1,
        )


def _status_brand(s3, config, brand) -> dict:
    storage = config.storage
    prefix = storage.archive_prefix_for(brand.key)
    projects = read_brand(s3, storage.bucket, brand.key, prefix)
    rows = [
        {
            "project": pa.project,
            "files": pa.files,
            "bytes": pa.bytes,
            "storage_class": pa.storage_class,
            "archived_at": iso_utc(pa.archived_at) if pa.archived_at else None,
            "restore": pa.restore.state,
            "restore_detail": pa.restore.describe(),
            "monthly_cost": round(pa.monthly_cost, 6),
        }
        for pa in projects.values()
    ]
    total = {
        "projects": len(rows),
        "files": sum(r["files"] for r in rows),
        "bytes": sum(r["bytes"] for r in rows),
        "monthly_cost": round(sum(pa.monthly_cost for pa in projects.values()), 6),
    }
    where = f"s3://{storage.bucket}/{prefix}"
    if not rows:
        say(f"{brand.key}: nothing archived ({where})")
    else:
        say(
            f"{brand.key}: {total['projects']} archived project(s), {total['files']} files, "
            f"{format_size(total['bytes'])}, ≈ {format_dollars(total['monthly_cost'])}/month "
            f"({where})"
        )
    if rows:
        say(
            f"  {'project':<32} {'files':>5} {'size':>9}  {'class':<13} {'archived':<21} "
            f"{'$/month':>8}  restore"
        )
    for pa in projects.values():
        when = human_utc(pa.archived_at) if pa.archived_at else "-"
        say(
            f"  {pa.project:<32} {pa.files:>5} {format_size(pa.bytes):>9}  "
            f"{pa.storage_class:<13} {when:<21} {format_dollars(pa.monthly_cost):>8}  "
            f"{pa.restore.describe()}"
        )
    classes = {c for pa in projects.values() for c in pa.classes}
    return {
        "brand": brand.key,
        "prefix": prefix,
        "projects": rows,
        "totals": total,
        "classes": sorted(classes),
    }


@vam_task(
    help={
        "brand": "brand (key, shortcut or repo name); default: from the current folder, "
        "else every brand",
        "json": JSON_HELP,
    }
)
def status(c, brand=None, json_=False):
    """Per brand: each archived project's files, size, class, date, restore state, cost."""
    config = load_config()
    s3 = connect_as(config).client("s3")
    brands = select_brands(config, brand)
    done: list[dict] = []
    result(brands=done, as_of=AS_OF, prices_from=SOURCE)
    classes: set[str] = {config.storage.archive_class}
    for b in brands:
        entry = _status_brand(s3, config, b)
        done.append(entry)
        classes.update(entry["classes"])
    say(price_note(c for c in ARCHIVE_CLASSES + ("STANDARD",) if c in classes))


def _dest(session: Session, proj, to: str | None) -> Path:
    if to:
        return Path(to).expanduser().absolute()
    if proj.structure == "flat":
        return proj.path
    return projects_dir(session.root, proj.brand) / proj.id


@vam_task(
    auto_shortflags=False,
    iterable=["file"],
    help={
        **COMMON_HELP,
        "tier": "how fast (and dear) the restore is: bulk (default; Deep Archive ~48 h), "
        "standard (~12 h), expedited (Glacier Flexible only, minutes)",
        "days": "how many days the restored copies stay readable in S3 (default 7)",
        "to": "restore into this folder instead of the project folder",
        "file": "restore only this file or folder of the project (repeatable)",
        "yes": "request the restore (which costs money) without asking",
    },
)
def restore(
    c,
    brand=None,
    project=None,
    tier="bulk",
    days=7,
    to=None,
    file=None,
    yes=False,
    dry_run=False,
    json_=False,
    max_rate=None,
):
    """Restore an archived project: request the restore, then download it verified."""
    session = Session(brand)
    rate = session.rate(max_rate)
    warn(*session.notes)
    tier = str(tier).lower()
    if tier not in ("bulk", "standard", "expedited"):
        raise UsageError(f"--tier {tier}: use bulk, standard or expedited")
    days = int(days)
    if days < 1:
        raise UsageError(f"--days {days}: the restored copies must stay at least 1 day")
    proj = select_project(
        session.config,
        session.root,
        session.brand.key,
        project,
        include_archived=True,
        remote_ids=_archived_ids(session),
    )
    target = archive_target(session.config, proj.brand.key, proj.id)
    dest = _dest(session, proj, to)
    existed = dest.exists()
    plan = plan_restore(session.s3, target, dest, tier=tier, days=days, only=tuple(file or ()))
    lines = restore_plan_lines(plan, folder_exists=existed)
    result(
        brand=proj.brand.key,
        project=proj.id,
        to=str(dest),
        tier=tier,
        days=days,
        dry_run=dry_run,
        plan=lines,
        files=[
            {"file": f.rel, "bytes": f.entry.size, "state": f.state.state, "here": f.here}
            for f in plan.files
        ],
        requested=[],
        restored=[],
        pending=[],
        expected_by=None,
    )
    for line in lines:
        say(line)
    if dry_run:
        say("dry run: nothing requested or downloaded")
        return
    if plan.to_request:
        size = format_size(sum(f.entry.size for f in plan.to_request))
        question = f"request the restore of {len(plan.to_request)} file(s), {size} ({tier})?"
        unasked = SafetyError(
            f"{question} costs money; run the same command with --yes to go ahead"
        )
        if not confirmed(question, yes, unasked):
            raise Exit("vam: nothing requested", code=1)
    asked = request_restores(session.s3, plan, user=session.user)
    for line in requested_lines(plan, asked):
        say(line)
    got = None
    if asked.ready:
        got = fetch(
            session.s3, plan, asked.ready, max_rate=rate, show_progress=False if json_ else None
        )
    again = target.command("restore", *(["--to", str(dest)] if to else []))
    for line in fetched_lines(plan, asked, got, again=again):
        say(line)
    record = asked.record
    result(
        requested=[f.rel for f in asked.requested],
        restored=[f.rel for f in got.restored] if got else [],
        pending=[f.rel for f in asked.pending],
        expected_by=record.expected_by if record and asked.pending else None,
    )
    problems = len(plan.differs) + len(plan.refused)
    if got:
        problems += len(got.failed) + len(got.set_aside)
    if problems:
        raise Exit(
            f"vam: {problems} file(s) of {proj.id} not restored (see above); nothing of yours "
            "was replaced",
            code=1,
        )
