"""Archive finished projects to the SSD, bring their light files back, show what is where."""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, datetime

from vam.archive.cloud import archive_project, result_lines
from vam.archive.plan import plan_lines as cloud_lines
from vam.archive.scan import scan_archive
from vam.archive.target import archive_target
from vam.core.config import load_config
from vam.core.errors import NotFoundError, SafetyError, UsageError
from vam.core.layout import STATE_DIR
from vam.core.projects import (
    projects_root,
    select_brand,
    select_brands,
    select_project,
)
from vam.core.units import format_size, parse_size
from vam.s3sync.session import Session
from vam.ssd.archive import execute_archive
from vam.ssd.archive_plan import DEFAULT_RESERVE, Hooks, pick_oldest, plan_archive, plan_lines
from vam.ssd.cloud import check_same, source_for
from vam.ssd.lightsync import (
    apply_light,
    backup_dir,
    brand_status,
    plan_sync,
    require_ssd,
)
from vam.ssd.staging_cleanup import execute_cleanup, kept_backups, plan_cleanup, staging_state
from vam.tasks.base import JSON_HELP, result, say, vam_task


class _Progress(Hooks):
    """A tqdm bar on a terminal, nothing otherwise."""

    def __init__(self, total: int, *, enabled: bool = True):
        self.bar = None
        if enabled and sys.stderr.isatty() and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="B", unit_scale=True, desc="copy", leave=False)

    def on_bytes(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@vam_task(
    help={
        "project": "project to archive (id or short id like b65); default: from the current folder",
        "brand": "brand (key, shortcut or repo name); default: from the current folder",
        "next": "archive the N oldest active projects (by newest file) instead of one",
        "dry_run": "print the exact plan and touch nothing",
        "keep_local": "copy and verify, but keep the local project",
        "cleanup_s3": "after the verified copy, delete the project's S3 staging objects whose "
        "content is on the SSD (compared by size and MD5/CRC32)",
        "cloud": "also archive it to the cloud (archive.cloud), verified, before anything local "
        "goes: two copies in two places",
        "reserve": "space to keep free on the SSD after the copy (e.g. 2GB); default 512MiB",
        "json": JSON_HELP,
    }
)
def archive(
    c,
    project=None,
    brand=None,
    next=0,
    dry_run=False,
    keep_local=False,
    cleanup_s3=False,
    cloud=False,
    reserve=None,
    json_=False,
):
    """Copy a finished project to the SSD, verify every file, then keep only its light files."""
    config = load_config()
    root = projects_root(config)
    spare = parse_size(reserve, where="--reserve") if reserve else DEFAULT_RESERVE
    next_n = int(next or 0)
    if next_n < 0:
        raise UsageError(f"--next {next_n}: give how many projects to archive, e.g. --next 1")
    if next_n and project:
        raise UsageError("give either a project or --next N, not both")
    if next_n:
        chosen = select_brand(config, brand)
        projects = pick_oldest(root, config, chosen, next_n)
        if not projects:
            raise NotFoundError(f"brand {chosen.key} has no active projects to archive")
        say(f"oldest {len(projects)} active project(s): {', '.join(p.id for p in projects)}")
    else:
        found = select_project(config, root, brand, project, include_archived=True)
        if found.structure == "archived":
            raise NotFoundError(
                f"{found.id} is already archived ({found.path}); `vam ssd.status` shows where"
            )
        projects = [found]
    require_ssd(config, root, projects[0].brand)
    session = Session(projects[0].brand.key) if cloud else None

    done: list[dict] = []
    result(dry_run=dry_run, projects=done)
    for proj in projects:
        plan = plan_archive(config, root, proj, reserve=spare)
        entry: dict = {
            "brand": proj.brand.key,
            "project": proj.id,
            "ssd_dir": str(plan.ssd_dir),
            "archived_dir": str(plan.archived_dir),
            "plan": plan_lines(plan),
            "to_copy": len(plan.to_copy),
            "copy_bytes": plan.copy_bytes,
            "differs": [{"file": st.rel, "detail": st.detail} for st in plan.differs],
            "copied": [],
            "verified": 0,
            "removed_local": False,
            "s3_staging": None,
        }
        done.append(entry)
        for line in plan_lines(plan):
            say(line)
        staging = staging_state(config, root, proj)
        objects = staging.projects.get(proj.id, [])
        entry["s3_staging"] = (
            {"files": len(objects), "bytes": sum(o.size for o in objects)}
            if staging.available
            else {"error": staging.error}
        )
        if not staging.available:
            say(f"  S3 staging: unknown ({staging.error})")
        elif objects:
            size = sum(o.size for o in objects)
            where = f"{staging.prefix}{proj.id}/"
            say(f"  S3 staging: {len(objects)} file(s), {format_size(size)} under {where}")
        else:
            say("  S3 staging: nothing staged")
        if plan.differs:
            say(f"  the SSD copy differs in {len(plan.differs)} file(s):")
            for step in plan.differs:
                say(f"    {step.rel}: {step.detail}")
        cloud_plan = None
        if session is not None:
            cloud_plan = scan_archive(
                session.s3,
                archive_target(config, proj.brand.key, proj.id),
                proj.path,
                config.team.files,
                state_dir=source_for(config, root, proj).state_dir,
                update=True,  # archiving now: the files as they are now
            )
            for line in cloud_lines(cloud_plan):
                say(f"  {line}")
            entry["cloud"] = {"to_send": len(cloud_plan.to_send), "plan": cloud_lines(cloud_plan)}
        if dry_run:
            if cloud_plan is not None:
                say("  --cloud: the local files go only after both copies verify")
            if cleanup_s3 and objects:
                say(
                    "  --cleanup-s3 would delete only files whose content the SSD copy has "
                    "(checked after the copy verifies)"
                )
            say("  dry run: nothing copied, verified or deleted")
            continue
        progress = _Progress(plan.copy_bytes, enabled=not json_)
        try:
            if cloud_plan is not None and session is not None:
                archived = _with_cloud(
                    plan, cloud_plan, session, config, root, keep_local, progress, entry, json_
                )
            else:
                archived = execute_archive(plan, config, keep_local=keep_local, hooks=progress)
        finally:
            progress.close()
        entry.update(
            copied=list(archived.copied),
            verified=archived.verified,
            removed_local=archived.removed_local,
            light_restored=len(archived.light_restored),
            notes=list(archived.notes),
        )
        say(
            f"  copied {len(archived.copied)} file(s), verified {archived.verified} on the SSD "
            f"({plan.ssd_dir})"
        )
        if plan.backups:
            say(f"  {len(plan.backups)} backup(s) on the SSD in {plan.ssd_dir / STATE_DIR}/backups")
        if archived.removed_local:
            say(
                f"  removed {proj.path}; {len(archived.light_restored)} light file(s) now in "
                f"{plan.archived_dir}"
            )
        elif keep_local:
            say(f"  kept the local project {proj.path} (--keep-local)")
        for kept in archived.kept:
            aside = f"; the SSD's older copy is now {kept.aside}" if kept.aside else ""
            say(f"  kept {kept.rel}: {kept.reason}{aside}")
        entry["kept"] = [kept.rel for kept in archived.kept]
        for note in archived.notes:
            if note != "kept local":
                say(f"  note: {note}")
        if archived.kept:
            raise SafetyError(
                f"{len(archived.kept)} file(s) of {proj.id} changed after their SSD copy verified "
                f"and were kept in {proj.path}; run the same command again to archive them"
            )
        if objects and cleanup_s3:
            decisions = plan_cleanup(plan, staging)
            for d in decisions:
                say(f"    {'delete' if d.delete else 'keep  '} {d.obj.rel}: {d.reason}")
            deleted = execute_cleanup(config, root, plan, decisions, staging)
            entry["s3_staging"]["deleted"] = len(deleted)
            state = [k for k in deleted if f"/{STATE_DIR}/" in k]
            extra = f" and vam's {len(state)} index/handoff object(s)" if state else ""
            say(f"  S3 staging: deleted {len(deleted) - len(state)} file(s){extra}")
            backups = kept_backups(staging, proj.id)
            if backups:
                say(
                    f"  S3 staging: kept {len(backups)} backup(s) under {staging.prefix}{proj.id}/"
                    ".vam/backups/ (versions replaced by --force; on no SSD); to delete them: "
                    f"vam s3.cleanup --brand {proj.brand.key} --project {proj.id} "
                    "--include-backups"
                )
            kept = [d for d in decisions if not d.delete]
            if kept:
                raise SafetyError(
                    f"{len(kept)} staging file(s) of {proj.id} were kept (content not proven to be "
                    "on the SSD); check them with `vam s3.status`, remove with `vam s3.cleanup`"
                )
        elif objects:
            say(
                f"  S3 staging still holds {len(objects)} file(s); to remove them: "
                f"vam s3.cleanup --brand {proj.brand.key} --project {proj.id}"
            )


def _with_cloud(plan, cloud_plan, session, config, root, keep_local, progress, entry, json_):
    """The SSD copy made and verified, then the cloud archive made and verified, then both
    proven to hold the same bytes; only then (unless --keep-local) the local project goes."""
    first = execute_archive(plan, config, keep_local=True, hooks=progress)
    say(f"  SSD copy verified: {first.verified} file(s) in {plan.ssd_dir}")
    done = archive_project(
        session.s3,
        cloud_plan,
        user=session.user,
        state_dir=source_for(config, root, plan.project).state_dir,
        max_rate=session.rate(None),
        show_progress=False if json_ else None,
        profile=session.aws.profile,
    )
    for line in result_lines(done):
        say(line)
    entry["cloud"].update(verified=done.verified, complete=done.complete)
    if not done.complete:
        raise SafetyError(
            f"the cloud archive of {plan.project.id} did not verify (see above); the SSD copy is "
            "made and verified, nothing was deleted locally — fix what is named and run the "
            "same command again"
        )
    if keep_local:
        return first
    again = plan_archive(config, root, plan.project, reserve=plan.reserve)
    check_same(again, done.index or cloud_plan.index)
    final = execute_archive(again, config, keep_local=False, hooks=progress)
    return dataclasses.replace(final, copied=first.copied)


@vam_task(
    help={
        "brand": "brand (key, shortcut or repo name); default: from the current folder, else all",
        "dry_run": "print what would be copied and touch nothing",
        "overwrite": (
            "also replace local light files that differ from the SSD's (yours are kept in the "
            "project's .vam/backups/)"
        ),
        "json": JSON_HELP,
    }
)
def sync(c, brand=None, dry_run=False, overwrite=False, json_=False):
    """Copy light files of archived projects from the SSD into archived/{range}/{id}/."""
    config = load_config()
    root = projects_root(config)
    brands = select_brands(config, brand)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    done: list[dict] = []
    result(dry_run=dry_run, brands=done)
    for b in brands:
        try:
            report = plan_sync(config, root, b)
        except NotFoundError as exc:
            if len(brands) == 1:
                raise
            done.append({"brand": b.key, "skipped": str(exc)})
            say(f"{b.key}: skipped, {exc}")
            continue
        entry: dict = {
            "brand": b.key,
            "ssd": str(report.ssd),
            "skipped_active": list(report.skipped_active),
            "projects": [
                {
                    "project": p.id,
                    "folder": str(p.target),
                    "files": [
                        {"file": a.rel, "action": a.action, "to": str(a.dst), "size": a.size}
                        for a in p.actions
                        if a.action != "same"
                    ],
                }
                for p in report.projects
            ],
        }
        done.append(entry)
        copies = sum(1 for p in report.projects for a in p.actions if a.action == "copy")
        say(f"{b.key}: {len(report.projects)} archived project(s) on the SSD ({report.ssd})")
        for p in report.projects:
            for a in p.actions:
                if a.action == "copy" or (a.action == "differs" and overwrite):
                    verb = "would copy" if dry_run else "copy"
                    say(f"  {verb} {p.id}/{a.rel} -> {a.dst}")
                elif a.action == "differs":
                    say(f"  differs {p.id}/{a.rel}: kept the local file (--overwrite replaces it)")
            if not dry_run:
                keep = backup_dir(p.target, stamp)
                applied = apply_light(list(p.actions), overwrite=overwrite, backup_dir=keep)
                if any(a.action == "differs" for a in applied):
                    say(f"  your versions of the replaced files are kept in {keep}")
        for pid in report.skipped_active:
            say(f"  skipped {pid}: still an active project here")
        same = sum(1 for p in report.projects for a in p.actions if a.action == "same")
        entry.update(to_copy=copies, identical=same)
        say(f"  {copies} to copy, {same} already identical" + (" (dry run)" if dry_run else ""))


@vam_task(
    help={
        "brand": "brand (key, shortcut or repo name); default: from the current folder, else all",
        "json": JSON_HELP,
    }
)
def status(c, brand=None, json_=False):
    """Per brand: projects only on the SSD, only local, on both; SSD free space."""
    config = load_config()
    root = projects_root(config)
    brands = select_brands(config, brand)
    done: list[dict] = []
    result(brands=done)
    for b in brands:
        st = brand_status(config, root, b)
        done.append(
            {
                "brand": b.key,
                "ssd": str(st.ssd) if st.ssd else None,
                "mounted": st.mounted,
                "free_bytes": st.free_bytes,
                "total_bytes": st.total_bytes,
                "ssd_only": list(st.ssd_only),
                "both": list(st.both),
                "local_only": list(st.local_only),
                "not_archived": list(st.heavy_local_only),
            }
        )
        if not st.mounted:
            where = st.ssd.parent if st.ssd else "no ssd_root in settings"
            say(f"{b.key}: SSD not mounted ({where}); local: {len(st.local_only)} project(s)")
            continue
        say(
            f"{b.key}: SSD {st.ssd} — {format_size(st.free_bytes)} free of "
            f"{format_size(st.total_bytes)}"
        )
        say(f"  on SSD only ({len(st.ssd_only)}): {', '.join(st.ssd_only) or '-'}")
        say(f"  on both     ({len(st.both)}): {', '.join(st.both) or '-'}")
        say(f"  local only  ({len(st.local_only)}): {', '.join(st.local_only) or '-'}")
        if st.heavy_local_only:
            say(
                f"  not archived yet: {', '.join(st.heavy_local_only)} "
                f"(`vam ssd.archive --brand {b.key} --next 1`)"
            )
