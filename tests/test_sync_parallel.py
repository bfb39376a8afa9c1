"""Small files move several at a time (vam.parallel.each_transfer); large ones one by one."""

from __future__ import annotations

import threading
import time

import pytest

from vam.demo.sample import write_media
from vam.s3sync import parallel
from vam.s3sync.model import Action, ActionKind, FileState

MiB = 1024 * 1024


def actions(*sizes: int) -> list[Action]:
    return [
        Action(ActionKind.UPLOAD, f"f{i:03}.bin", FileState.UPLOAD, size=size)
        for i, size in enumerate(sizes)
    ]


class Watch:
    """A transfer stand-in that records how many ran at once and how many bytes were held."""

    def __init__(self, pause: float = 0.02) -> None:
        self.pause = pause
        self.lock = threading.Lock()
        self.running = self.most = 0
        self.held = self.most_held = 0
        self.order: list[str] = []

    def __call__(self, action: Action) -> str:
        with self.lock:
            self.running += 1
            self.held += action.size
            self.most = max(self.most, self.running)
            self.most_held = max(self.most_held, self.held)
            self.order.append(action.rel)
        time.sleep(self.pause)
        with self.lock:
            self.running -= 1
            self.held -= action.size
        return action.rel.upper()


def test_small_files_go_several_at_once_and_large_ones_two_by_two():
    todo = actions(*([1000] * 20), 40 * MiB, 20 * MiB, 30 * MiB)
    watch = Watch()
    got = list(parallel.each_transfer(todo, watch))
    assert sorted(a.rel for a, _ in got) == sorted(a.rel for a in todo)
    assert all(result == action.rel.upper() for action, result in got)
    assert 1 < watch.most <= parallel.SMALL_WORKERS
    assert set(watch.order[-3:]) == {"f020.bin", "f021.bin", "f022.bin"}  # the large ones, after

    large = Watch()
    list(parallel.each_transfer(actions(40 * MiB, 20 * MiB, 30 * MiB, 50 * MiB), large))
    assert large.most == parallel.LARGE_WORKERS


def test_small_files_in_flight_stay_within_the_byte_budget(monkeypatch):
    monkeypatch.setattr(parallel, "SMALL_BUDGET", 10 * MiB)
    watch = Watch()
    list(parallel.each_transfer(actions(*([4 * MiB] * 12)), watch))
    assert watch.most_held <= 10 * MiB and watch.most == 2


def test_one_file_larger_than_the_budget_still_goes():
    watch = Watch(pause=0)
    got = list(parallel.each_transfer(actions(*([15 * MiB] * 5)), watch))
    assert len(got) == 5


def test_the_first_failure_stops_what_has_not_started_and_is_raised():
    started: list[str] = []

    def move(action: Action) -> str:
        started.append(action.rel)
        if action.rel == "f002.bin":
            raise PermissionError("access denied")
        time.sleep(0.05)
        return "ok"

    with pytest.raises(PermissionError):
        list(parallel.each_transfer(actions(*([10] * 40)), move))
    assert len(started) < 40


def test_a_project_of_many_small_files_round_trips_and_reports_in_plan_order(sample, s3, tmp_path):
    """Through the real sync and moto: 30 notes up as David, down as Jan."""
    import boto3

    from tests.test_sync_stories import BUCKET, Person  # the same people as the sync stories

    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    david = Person("david", sample.write_settings("david"))
    notes = david.staging() / "notes"
    for i in range(30):
        write_media(notes / f"take-{i:02}.md", 500 + i, seed=i)
    up = david.up()
    assert up.ok
    done = [o.rel for o in up.outcomes if o.ok]
    assert done == sorted(done) and {f"notes/take-{i:02}.md" for i in range(30)} <= set(done)

    root = tmp_path / "jan-projects"
    (root / "v-appydave").mkdir(parents=True)
    jan = Person("jan", sample.write_settings("jan", projects_root=str(root)))
    down = jan.down()
    assert down.ok and [o.rel for o in down.outcomes] == sorted(o.rel for o in down.outcomes)
    for i in range(30):
        name = f"notes/take-{i:02}.md"
        assert (jan.staging() / name).read_bytes() == (david.staging() / name).read_bytes()
    assert jan.status().plan.counts() == {"synced": len(done)}


def _interrupt_after(seconds: float) -> threading.Timer:
    import _thread

    timer = threading.Timer(seconds, _thread.interrupt_main)
    timer.start()
    return timer


def test_ctrl_c_stops_every_small_file_in_flight_at_once(sample, s3, tmp_path):
    """Eight notes going up under a 64 KiB/s cap (about a minute of work): Ctrl-C ends the run
    within seconds, not after the files in flight finished; nothing half-sent is published, and
    the next run sends them all."""
    import boto3

    from tests.test_sync_stories import BUCKET, PREFIX, Person

    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    david = Person("david", sample.write_settings("david"))
    names = [f"stills/still-{i}.png" for i in range(8)]
    for i, name in enumerate(names):
        write_media(david.staging() / name, 512 * 1024, seed=40 + i)
    david.up()  # the sample's own files, so that only the stills are left to send
    for i, name in enumerate(names):
        write_media(david.staging() / name, 512 * 1024 + 1, seed=50 + i)  # changed: sent again

    started = time.monotonic()
    timer = _interrupt_after(1.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            david.up(max_rate=64 * 1024)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 20  # ~60 s if the files in flight had been waited for
    for name in names:
        head = client.head_object(Bucket=BUCKET, Key=PREFIX + name)
        assert head["ContentLength"] == 512 * 1024  # the old version: nothing half-sent replaced it

    again = david.up()
    assert again.ok and {o.rel for o in again.outcomes if o.ok} >= set(names)


def test_ctrl_c_during_small_downloads_keeps_the_partial_files_aside(sample, s3, tmp_path):
    import boto3

    from tests.test_sync_stories import BUCKET, Person

    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    david = Person("david", sample.write_settings("david"))
    names = [f"stills/still-{i}.png" for i in range(8)]
    for i, name in enumerate(names):
        write_media(david.staging() / name, 512 * 1024, seed=60 + i)
    assert david.up().ok
    root = tmp_path / "jan-projects"
    (root / "v-appydave").mkdir(parents=True)
    jan = Person("jan", sample.write_settings("jan", projects_root=str(root)))

    started = time.monotonic()
    timer = _interrupt_after(1.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            jan.down(max_rate=64 * 1024)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 20
    staging = jan.staging()
    assert not any((staging / name).exists() for name in names)  # never under the real name

    assert jan.down().ok
    for name in names:
        assert (staging / name).read_bytes() == (david.staging() / name).read_bytes()
    assert not list(staging.rglob("*.vam-part"))
