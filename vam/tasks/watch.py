"""watch: keep projects in sync while people work (SPEC §11), through the pipeline of s3.up and
s3.down, with every rule of theirs intact."""

from __future__ import annotations

import sys
from typing import Any

from invoke import Exit

from vam.core.errors import NotFoundError, UsageError
from vam.core.layout import STAGING
from vam.core.projects import list_active
from vam.s3sync.keys import nfc
from vam.s3sync.session import Session
from vam.s3sync.syncview import header, report_dict
from vam.s3sync.target import Target, target_for
from vam.tasks.base import result, say, vam_task, warn
from vam.watch import events as ev
from vam.watch.events import Event
from vam.watch.findings import left_undone
from vam.watch.log import WatchLog
from vam.watch.loop import Watch
from vam.watch.output import JsonOutput, LinesOutput, TerminalOutput
from vam.watch.project import Options
from vam.watch.start import Setup, watching
from vam.watch.stopping import Terminated, stop_on_signals
from vam.watch.timing import parse_seconds

HELP = {
    "brand": "brand (key, shortcut or repo name); default: from the current folder",
    "project": "project id or short id (b65); default: from the current folder",
    "all": "every project of the brand with an s3-staging/ folder (new ones are picked up as "
    "they appear)",
    "interval": "how often to ask S3 whether the project changed (a conditional look at its "
    "index: almost free when nothing did), e.g. 30s, 2m; default 30s",
    "settle": "how long a file must stay unchanged (size and mtime) before it is uploaded, e.g. "
    "10s; default 10s",
    "rescan": "how often to look at the folders even without file events (a share or an "
    "external disk may send none), e.g. 60s; default 60s",
    "once": "one cycle (for cron or Task Scheduler): upload what has settled, download what "
    "changed, then exit with the code s3.up / s3.down would give",
    "dry_run": "with --once: show what the cycle would upload and download; change nothing",
    "max_rate": "bandwidth cap, e.g. 2MB/s; default: max_rate in your settings",
    "json": "one JSON object per line for each event; the last line is the run's result",
}


def _targets(session: Session, project: str | None, all_: bool) -> list[Target]:
    if not all_:
        return [session.target(session.project(project, remote=True))]
    targets = _staged(session)
    if not targets:
        raise NotFoundError(
            f"no project of {session.brand.key} has an {STAGING}/ folder yet: make one in the "
            "project to sync, or watch one project with --project"
        )
    return targets


def _staged(session: Session) -> list[Target]:
    """The brand's projects with an s3-staging/ folder, now."""
    return [
        target_for(session.config, p)
        for p in list_active(session.root, session.brand)
        if (p.path / STAGING).is_dir()
    ]


def _summary(w: Watch) -> dict[str, Any]:
    return {
        "projects": [
            {
                "brand": p.target.brand_key,
                "project": p.target.project_id,
                "runs": [report_dict(r) for r in p.reports],
                "waiting": sorted(p.waiting),
                "offline": p.offline,
            }
            for p in w.projects
        ]
    }


@vam_task(auto_shortflags=False, json_lines=True, help=HELP)
def watch(
    c,
    brand=None,
    project=None,
    all_=False,
    interval="30s",
    settle="10s",
    rescan="60s",
    once=False,
    dry_run=False,
    max_rate=None,
    json_=False,
):
    """Keep a project in sync while you work: settled files go up, changes come down."""
    every = parse_seconds(interval, where="--interval", minimum=0.1)
    quiet = parse_seconds(settle, where="--settle")
    look = parse_seconds(rescan, where="--rescan", minimum=0.1)
    if dry_run and not once:
        raise UsageError("--dry-run shows the plan of one cycle: use it with --once")
    if all_ and project:
        raise UsageError("give either --project or --all, not both")
    session = Session(brand)
    rate = session.rate(max_rate)
    warn(*session.notes)
    targets = _targets(session, project, all_)
    name = f"watch-{session.brand.key}-{'all' if all_ else targets[0].project_id}"
    log = WatchLog(name)
    if log.failed:
        warn(f"no log file ({log.failed}); the watch goes on without one")
    live: list[Watch] = []
    several = all_
    if json_:
        out: Any = JsonOutput(sys.stdout)
    elif not once and sys.stdout.isatty():
        out = TerminalOutput(sys.stdout, lambda: live[0].status(), several=several)
    else:
        out = LinesOutput(sys.stdout, several=several)

    def emit(event: Event) -> None:
        out.event(event)
        log.event(event)

    setup = Setup(
        options=Options(
            user=session.user,
            rules=session.rules,
            settle=quiet,
            max_rate=rate,
            dry_run=dry_run,
        ),
        make_client=lambda: session.aws.client("s3"),
        emit=emit,
        interval=every,
        rescan=look,
        webhook_url=session.settings.webhook_url,
        file_events=not once,
        lock=not dry_run,
        discover=(lambda: _staged(session)) if all_ else None,
    )
    result(brand=session.brand.key, once=once, log=str(log.path) if not log.failed else None)
    try:
        with stop_on_signals(), watching(targets, setup) as w:
            live.append(w)
            for t in targets:
                emit(
                    Event(
                        ev.STARTED,
                        f"watching {header(t)} as {session.user}",
                        t.brand_key,
                        t.project_id,
                    )
                )
            for line in _how(once, quiet, every, look, log):
                out.line(line)
            if isinstance(out, TerminalOutput):
                out.start()
            if once:
                w.once(quiet)
                _finish_once(w, emit)
            else:
                w.run()
    except Terminated as exc:
        emit(Event(ev.STOPPED, f"stopped ({exc.name}): {_RESUMES}"))
        raise Exit(f"vam: stopped by {exc.name}", code=128 + exc.signum) from None
    except KeyboardInterrupt:
        emit(Event(ev.STOPPED, f"stopped (Ctrl-C): {_RESUMES}"))
        raise Exit("vam: stopped (Ctrl-C)", code=130) from None
    finally:
        out.close()
        log.close()


_RESUMES = "a transfer cut off resumes where it stopped on the next run"


def _how(once: bool, settle: float, interval: float, rescan: float, log: WatchLog) -> list[str]:
    logged = f"log: {log.path}" if not log.failed else "no log file"
    if once:
        return [f"  one cycle; a file goes up once unchanged for {settle:g} s; {logged}"]
    return [
        f"  a file goes up once unchanged for {settle:g} s; S3 is asked every {interval:g} s; "
        f"the folder is looked at on every file event and every {rescan:g} s",
        f"  {logged}; Ctrl-C stops",
    ]


def _finish_once(w: Watch, emit) -> None:
    """The exit code s3.up / s3.down would give, for what this cycle left undone."""
    result(**_summary(w))
    reports = [r for p in w.projects for r in p.reports]
    waiting = [nfc(rel) for p in w.projects for rel in p.waiting]
    offline = [p.offline for p in w.projects if p.offline]
    failure = left_undone(reports, waiting, offline)
    if failure is not None:
        raise Exit(f"vam: {failure}", code=1)
    moved = sum(1 for r in reports for o in r.outcomes if o.ok)
    synced = sum(p.synced for p in w.projects)
    what = (
        "the plan above; nothing changed"
        if any(r.dry_run for r in reports)
        else (f"{moved} file(s) moved, {synced} synced")
    )
    say(f"one cycle done: {what}")
