"""A watch set up for its projects: each project locked (lock.py), its ProjectWatch made, the
team's webhook wired to the conflict reports, file events started; and everything let go again
when it ends, however it ends."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vam.handoff.notify import post_webhook
from vam.s3sync.syncview import header
from vam.s3sync.target import Target
from vam.watch import events as ev
from vam.watch.events import Event
from vam.watch.findings import Notify
from vam.watch.localevents import FileEvents
from vam.watch.lock import AlreadyWatched, WatchLock
from vam.watch.loop import S3Client, Watch
from vam.watch.project import Options, ProjectWatch
from vam.watch.transfers import Transfers


def webhook(url: str | None, user: str) -> Notify | None:
    """The team's webhook as a conflict notifier (None: no webhook in the settings)."""
    if not url:
        return None

    def notify(text: str) -> str | None:
        sent = post_webhook(url, {"text": f"vam watch ({user}): {text}"}, timeout=5.0)
        return None if sent.ok else sent.detail

    return notify


@dataclass
class Setup:
    """What a watch needs besides its projects."""

    options: Options
    make_client: Callable[[], Any]
    emit: Callable[[Event], None]
    interval: float = 30.0
    rescan: float = 60.0
    webhook_url: str | None = None
    file_events: bool = True
    lock: bool = True  # a dry run takes no lock (it writes nothing, not even .vam/)
    # the brand's projects with an s3-staging/ folder now (--all: looked for at every rescan)
    discover: Callable[[], list[Target]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # Watch keyword arguments (tests)


@contextlib.contextmanager
def watching(targets: list[Target], setup: Setup) -> Iterator[Watch]:
    """The watch of `targets`, each locked; AlreadyWatched when a project is watched elsewhere
    (with several projects, that one is left to the other watch, unless it is every one)."""
    locks: list[WatchLock] = []
    transfers = Transfers()
    client = S3Client(setup.make_client)
    notify = webhook(setup.webhook_url, setup.options.user)

    def open_project(target: Target, *, alone: bool) -> ProjectWatch | None:
        if setup.lock:
            lock = WatchLock(
                target.state_dir,
                project=f"{target.brand_key} {target.project_id}",
                user=setup.options.user,
            )
            try:
                lock.acquire()
            except AlreadyWatched as exc:
                if alone:
                    raise
                setup.emit(Event(ev.NOTICE, f"! {exc}", target.brand_key, target.project_id))
                return None
            locks.append(lock)
            if lock.took_over is not None:
                setup.emit(
                    Event(
                        ev.NOTICE,
                        f"took over the lock of an earlier watch that is no longer running "
                        f"({lock.took_over.describe()})",
                        target.brand_key,
                        target.project_id,
                    )
                )
        return ProjectWatch(
            target, client, setup.options, setup.emit, transfers=transfers, notify=notify
        )

    def discover() -> list[ProjectWatch]:
        found = []
        for target in setup.discover() if setup.discover else []:
            key = (target.brand_key, target.project_id)
            if key in watched:
                continue
            watched.add(key)
            project = open_project(target, alone=False)
            if project is not None:
                found.append(project)
                setup.emit(
                    Event(
                        ev.STARTED,
                        f"watching {header(target)} as {setup.options.user} (its s3-staging/ "
                        "appeared)",
                        target.brand_key,
                        target.project_id,
                    )
                )
        return found

    wake = threading.Event()
    files = None
    try:
        watched = {(t.brand_key, t.project_id) for t in targets}
        projects = [p for t in targets if (p := open_project(t, alone=len(targets) == 1))]
        if targets and not projects:
            raise AlreadyWatched("every project asked for is already watched by another vam watch")
        if setup.file_events:
            files = FileEvents(
                wake,
                setup.options.rules,
                on_error=lambda why: setup.emit(
                    Event(
                        ev.NOTICE,
                        f"! no file events here ({why}): the folders are looked at every "
                        f"{setup.rescan:g} s instead",
                    )
                ),
            )
        yield Watch(
            projects,
            emit=setup.emit,
            interval=setup.interval,
            rescan=setup.rescan,
            file_events=files,
            wake=wake,
            transfers=transfers,
            client=client,
            discover=discover if setup.discover else None,
            **setup.extra,
        )
    finally:
        if files is not None:
            files.close()
        for lock in locks:
            lock.release()
