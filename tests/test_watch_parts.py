"""The parts of `vam watch` that decide, on their own: when a file has settled, what a sharing
violation means on Windows, durations and backoff, noticing a sleep, the lock, the status line,
the log, the end line of `--once`, and the conditional look at the index (on moto's server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vam.core.errors import UsageError
from vam.core.files import LocalFile, Stamp
from vam.watch import busy
from vam.watch.events import Event, Moving, ProjectStatus, Status
from vam.watch.lock import AlreadyWatched, WatchLock
from vam.watch.log import WatchLog
from vam.watch.output import JsonOutput, LinesOutput, TerminalOutput, status_text
from vam.watch.settle import Settler
from vam.watch.timing import Backoff, SleepDetector, parse_seconds


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _file(tmp_path: Path, rel: str, size: int, mtime: int = 1) -> LocalFile:
    return LocalFile(rel, tmp_path / rel, Stamp(size, mtime, mtime, 7, 1))


# --------------------------------------------------------------------------- settling


def test_a_file_waits_until_its_stamp_has_stood_still_for_the_settle_time(tmp_path):
    clock = Clock()
    settler = Settler(10.0, clock=clock, busy=lambda path: None)
    growing = [_file(tmp_path, "render.mp4", size) for size in (100, 200, 300)]
    for f in growing:  # every look finds it bigger: it keeps waiting
        assert settler.not_ready(f) is not None
        clock.now += 6
    last = growing[-1]
    assert "unchanged for 10 s" in settler.not_ready(last)
    assert settler.due(["render.mp4"]) == clock.now - 6 + 10
    clock.now += 4  # ten seconds since it last changed
    assert settler.not_ready(last) is None


def test_a_version_vam_wrote_itself_needs_no_wait(tmp_path):
    f = _file(tmp_path, "raw.mp4", 500)
    settler = Settler(10.0, clock=Clock(), busy=lambda path: None, known=lambda r, s: s == f.stamp)
    assert settler.not_ready(f) is None
    assert settler.not_ready(_file(tmp_path, "raw.mp4", 501)) is not None


def test_a_settled_file_still_waits_while_another_program_holds_it(tmp_path):
    clock = Clock()
    held = {"now": True}
    settler = Settler(1.0, clock=clock, busy=lambda path: busy.HELD_REASON if held["now"] else None)
    f = _file(tmp_path, "render.mp4", 100)
    settler.observe(f.rel, f.stamp)
    clock.now += 5
    assert settler.not_ready(f) == busy.HELD_REASON
    held["now"] = False
    assert settler.not_ready(f) is None


# --------------------------------------------------------------------------- Windows


def _refused(winerror: int):
    def opener(path: Path) -> None:
        exc = PermissionError(13, "The process cannot access the file", str(path))
        exc.winerror = winerror  # what Windows sets on the OSError of a refused CreateFileW
        raise exc

    return opener


def test_a_sharing_violation_on_windows_means_wait(tmp_path):
    path = tmp_path / "render.mp4"
    assert busy.held_open(path, windows=True, opener=_refused(32)) == busy.HELD_REASON
    assert busy.held_open(path, windows=True, opener=_refused(33)) == busy.HELD_REASON
    # any other refusal (access denied: 5) is not a reason to wait: the upload reports it
    assert busy.held_open(path, windows=True, opener=_refused(5)) is None
    assert busy.held_open(path, windows=True, opener=lambda p: None) is None
    # macOS and Linux have no such rule: only the settle time decides there
    assert busy.held_open(path, windows=False, opener=_refused(32)) is None


# --------------------------------------------------------------------------- time


def test_durations_backoff_and_a_sleep():
    assert parse_seconds("30", where="--interval") == 30
    assert parse_seconds("1.5s", where="x") == 1.5
    assert parse_seconds("500ms", where="x") == 0.5
    assert parse_seconds("2m", where="x") == 120
    with pytest.raises(UsageError, match="--settle: cannot read 'soon'"):
        parse_seconds("soon", where="--settle")
    with pytest.raises(UsageError, match="too short"):
        parse_seconds("0", where="--interval", minimum=0.1)
    backoff = Backoff(2, 300)
    assert [backoff.failed(0) for _ in range(10)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert backoff.waiting(299) and not backoff.waiting(301)
    backoff.succeeded()
    assert not backoff.waiting(0) and backoff.failed(0) == 2
    wall, steady = Clock(5000.0), Clock(10.0)
    sleep = SleepDetector(wall=wall, steady=steady)
    wall.now += 30
    steady.now += 30
    assert sleep.slept() is None
    wall.now += 7200  # the lid was closed for two hours: the steady clock stood still (macOS)
    steady.now += 1
    assert sleep.slept() == pytest.approx(7199)
    wall.now += 7200  # Windows: both clocks ran on, but a 30 s wait took two hours
    steady.now += 7200
    assert sleep.slept(idle_for=30) == pytest.approx(7170)


# --------------------------------------------------------------------------- the lock


def test_the_lock_refuses_a_second_watch_and_is_free_once_released(tmp_path):
    first = WatchLock(tmp_path / ".vam", project="appydave b65", user="david").acquire()
    with pytest.raises(AlreadyWatched, match=rf"pid {os.getpid()} on .*Ctrl-C in its window"):
        WatchLock(tmp_path / ".vam", project="appydave b65", user="david").acquire()
    first.release()
    again = WatchLock(tmp_path / ".vam", project="appydave b65", user="david").acquire()
    assert again.took_over is None  # released cleanly: nobody to take over from
    again.release()


def test_a_lock_file_left_by_a_process_that_is_gone_is_taken_over(tmp_path):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(gone.stdout)
    state = tmp_path / ".vam"
    state.mkdir()
    (state / "watch.lock").write_text(
        json.dumps({"pid": pid, "host": "davids-mac", "user": "david", "since": "yesterday"})
    )
    lock = WatchLock(state, project="appydave b65", user="david").acquire()
    try:
        assert lock.took_over is not None and lock.took_over.pid == pid
        assert json.loads((state / "watch.lock").read_text())["pid"] == os.getpid()
    finally:
        lock.release()


# --------------------------------------------------------------------------- showing


def _status(**kw) -> Status:
    project = ProjectStatus(
        "b65",
        synced=3,
        pending=1,
        conflicts=1,
        last_sync=datetime(2026, 12, 2, 14, 2, 55, tzinfo=UTC),
    )
    return Status((project,), **kw)


def test_the_status_line_says_synced_pending_moving_conflicts_and_the_last_sync():
    text = status_text(_status(moving=(Moving("raw.mp4", "up", 420, 1000),), next_look=12))
    assert text.startswith("b65 · 3 synced · 1 pending · ↑ raw.mp4 1.0 KB 42% · 1 conflict")
    assert "last sync " in text and text.endswith("S3 again in 12 s")
    offline = Status((ProjectStatus("b65", offline="cannot reach S3 at x; check", retry_in=16),))
    assert "offline (cannot reach S3 at x, again in 16 s)" in status_text(offline)
    assert "not synced yet" in status_text(offline)


def test_terminal_plain_and_json_outputs(tmp_path):
    import io

    event = Event("uploaded", "✓ uploaded 29 B  brief.md", "appydave", "b65", "brief.md", 29)
    plain = io.StringIO()
    LinesOutput(plain).event(event)
    assert plain.getvalue().endswith("  ✓ uploaded 29 B  brief.md\n")
    lines = io.StringIO()
    JsonOutput(lines).event(event)
    decoded = json.loads(lines.getvalue())
    assert (
        decoded["event"] == "uploaded" and decoded["bytes"] == 29 and decoded["file"] == "brief.md"
    )
    screen = io.StringIO()
    term = TerminalOutput(screen, _status)
    term.event(event)
    term.close()
    shown = screen.getvalue()
    assert "✓ uploaded 29 B  brief.md\n" in shown and "b65 · 3 synced" in shown
    assert shown.endswith("\r")  # the live line is wiped when the watch ends


def test_the_log_rotates_and_stays_small(tmp_path, monkeypatch):
    from vam.watch import log as watchlog

    monkeypatch.setattr(watchlog, "MAX_BYTES", 2000)
    log = WatchLog("watch-appydave-b65", tmp_path / "logs")
    for i in range(200):
        log.event(Event("uploaded", f"✓ uploaded 29 B  brief-{i}.md", "appydave", "b65"))
    log.close()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == [f"watch-appydave-b65.log{s}" for s in ("", ".1", ".2", ".3")]
    assert sum((tmp_path / "logs" / f).stat().st_size for f in files) < 4 * 2000 + 500
    assert "brief-199.md" in (tmp_path / "logs" / "watch-appydave-b65.log").read_text()


def test_a_log_that_cannot_be_written_is_said_once(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    log = WatchLog("watch-appydave-b65", blocked / "logs")
    assert log.failed and "file-not-folder" in log.failed
    log.event(Event("uploaded", "nothing happens"))
    log.close()


# --------------------------------------------------------------------------- the index, on moto


@pytest.mark.integration
def test_the_conditional_look_at_the_index(s3c):
    from storykit import BUCKET, PREFIX

    from vam.s3sync.remoteindex import index_changed, index_key

    nothing = index_changed(s3c, BUCKET, PREFIX, None)  # no index yet
    assert not nothing.changed and nothing.etag is None
    put = s3c.put_object(Bucket=BUCKET, Key=index_key(PREFIX), Body=b'{"files": {}}')
    etag = put["ETag"].strip('"')
    created = index_changed(s3c, BUCKET, PREFIX, None)
    assert created.changed and created.etag == etag
    same = index_changed(s3c, BUCKET, PREFIX, etag)  # moto answers 304, as S3 does
    assert not same.changed and same.etag == etag
    again = s3c.put_object(Bucket=BUCKET, Key=index_key(PREFIX), Body=b'{"files": {"a": 1}}')
    moved = index_changed(s3c, BUCKET, PREFIX, etag)
    assert moved.changed and moved.etag == again["ETag"].strip('"')
    s3c.delete_object(Bucket=BUCKET, Key=index_key(PREFIX))
    gone = index_changed(s3c, BUCKET, PREFIX, moved.etag)
    assert gone.changed and gone.etag is None
