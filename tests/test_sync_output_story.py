"""What David and Jan read while they sync (issue 13 item 6), on moto's server: the project header
before the transfer, the "to receive" hint only for the receiver and only until received, and a
resumed transfer that says so. Commands run in-process through the real task namespace."""

from __future__ import annotations

import re
import threading

import moto.s3.models
import pytest

from vam.demo.sample import write_media
from vam.demo.story import B65, build_world, edit_file
from vam.s3sync.transfer import tuning
from vam.s3sync.transfer.progress import ProgressRun
from vam.tasks.inprocess import run_vam

pytestmark = pytest.mark.integration

AD = ["--brand", "ad", "--project", "b65"]
HEADER = f"appydave {B65}  (s3://video-projects/staging/v-appydave/{B65}/)"
HINT = f"to receive: vam receive --brand appydave --project {B65}"
RAW = f"staging/v-appydave/{B65}/raw.mp4"
PART = 64 * 1024  # moto's minimum part size, lowered for these tests as in tests/test_transfer.py


@pytest.fixture
def world(tmp_path, s3):
    w = build_world(tmp_path / "demo", s3.endpoint_url, media_bytes=16 * 1024, webhook_url=None)
    run_vam(w.david, ["aws.setup-bucket"])
    return w


def vam(person, capsys, *argv: str, expect=0) -> str:
    capsys.readouterr()
    run_vam(person, list(argv), expect=expect)
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return out.out


def staging(person):
    return person.root / "v-appydave" / B65 / "s3-staging"


@pytest.fixture
def seen_at_transfer_start(monkeypatch, capsys):
    """What stdout showed when each file's transfer started (the bars hook the engine calls),
    by S3 key."""
    seen: dict[str, str] = {}
    shown: list[str] = []
    lock = threading.Lock()
    start = ProgressRun.start_file

    def spy(self, name, total):
        with lock:
            shown.append(capsys.readouterr().out)
            seen[name] = "".join(shown)
        start(self, name, total)

    def forget() -> None:
        with lock:
            capsys.readouterr()
            shown.clear()
            seen.clear()

    monkeypatch.setattr(ProgressRun, "start_file", spy)
    return seen, forget


@pytest.mark.parametrize("command", ["s3.up", "handoff"])
def test_the_project_header_is_printed_before_the_upload_starts(
    world, capsys, seen_at_transfer_start, command
):
    """Before: the header came with the results, after minutes of a silent upload."""
    seen, _ = seen_at_transfer_start
    run_vam(world.david, [command, *AD])
    assert HEADER in seen[RAW]


@pytest.mark.parametrize("command", ["s3.down", "receive"])
def test_the_project_header_is_printed_before_the_download_starts(
    world, capsys, seen_at_transfer_start, command
):
    seen, forget = seen_at_transfer_start
    run_vam(world.david, ["s3.up", *AD])
    forget()
    run_vam(world.jan, [command, *AD])
    assert HEADER in seen[RAW]


def test_with_all_each_project_header_comes_before_its_own_transfer(
    world, capsys, seen_at_transfer_start
):
    seen, _ = seen_at_transfer_start
    write_media(world.david.root / "v-voz" / "ocean-story" / "s3-staging" / "wave.mov", 9000, "w")
    run_vam(world.david, ["s3.up", "--brand", "voz", "--all"])
    out = "".join(seen.values()) + capsys.readouterr().out
    order = list(dict.fromkeys(re.findall(r"^voz (\S+)  \(s3://", out, flags=re.MULTILINE)))
    assert order == ["boy-baker", "ocean-story"], out
    # each file starts with its own project's header on the screen and the next project's not yet
    for key, screen in seen.items():
        project = key.split("/")[2]
        assert f"voz {project}  (s3://" in screen, (key, screen)
        for later in order[order.index(project) + 1 :]:
            assert f"voz {later}  (s3://" not in screen, (key, screen)


def test_the_to_receive_hint_goes_to_the_receiver_until_received(world, capsys):
    """Before: David's own status told him to `vam receive` the note he had just written."""
    out = vam(world.david, capsys, "handoff", *AD, "--message", "raw cut")
    assert HINT not in out and f"jan runs: vam receive --brand appydave --project {B65}" in out
    assert HINT not in vam(world.david, capsys, "s3.status", *AD)  # the sender
    assert HINT in vam(world.jan, capsys, "s3.status", *AD)  # the receiver, not yet received
    out = vam(world.jan, capsys, "receive", *AD)
    assert "handoff from david to jan" in out and HINT not in out  # done: no hint
    assert HINT not in vam(world.jan, capsys, "s3.status", *AD)
    # Jan goes on editing the files she received: they are still received
    edit_file(staging(world.jan) / "raw.mp4", "jan-edit")
    assert HINT not in vam(world.jan, capsys, "s3.status", *AD)


def test_a_new_handoff_with_a_file_not_received_yet_brings_the_hint_back(world, capsys):
    vam(world.david, capsys, "handoff", *AD)
    vam(world.jan, capsys, "receive", *AD)
    assert HINT not in vam(world.jan, capsys, "s3.status", *AD)
    (staging(world.david) / "extra-take.mov").write_bytes(b"take" * 1000)
    vam(world.david, capsys, "handoff", *AD, "--message", "one more take")
    out = vam(world.jan, capsys, "s3.status", *AD)
    assert "one more take" in out and HINT in out
    vam(world.jan, capsys, "receive", *AD)
    assert HINT not in vam(world.jan, capsys, "s3.status", *AD)


# --------------------------------------------------------------------------- resumed transfers


@pytest.fixture
def small_parts(monkeypatch):
    """64 KiB parts (the engine and moto's minimum), one part at a time, so that 'interrupted
    after N bytes' leaves whole parts behind as a slow link does."""
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", PART)
    monkeypatch.setattr(tuning, "SINGLE_PUT_LIMIT", 2 * PART)
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", PART)
    monkeypatch.setattr(tuning, "PART_MEMORY", 4 * PART)
    monkeypatch.setattr(tuning, "MAX_UPLOAD_WORKERS", 1)
    monkeypatch.setattr(tuning, "DOWNLOAD_WORKERS", 1)


@pytest.fixture
def ctrl_c_after(monkeypatch):
    """Ctrl-C once `limit` bytes of the next run went through (the bars see every byte)."""
    advance = ProgressRun.advance
    state = {"limit": None, "seen": 0}

    def counting(self, name, nbytes):
        if state["limit"] is not None:
            state["seen"] += nbytes
            if state["seen"] >= state["limit"]:
                state["limit"] = None
                raise KeyboardInterrupt
        advance(self, name, nbytes)

    monkeypatch.setattr(ProgressRun, "advance", counting)

    def arm(limit: int) -> None:
        state.update(limit=limit, seen=0)

    return arm


def resumed_at(out: str, name: str) -> int:
    match = re.search(rf"✓ \w+ \S+ \S+  {re.escape(name)}  \(resumed at (\d+)%\)", out)
    assert match, out
    return int(match.group(1))


def test_an_interrupted_upload_says_it_resumed_and_where(world, capsys, small_parts, ctrl_c_after):
    write_media(staging(world.david) / "raw.mp4", 8 * PART, "raw")
    ctrl_c_after(3 * PART + 100)
    out = vam(world.david, capsys, "s3.up", *AD, expect=130)
    assert "resumed" not in out
    out = vam(world.david, capsys, "s3.up", *AD)
    assert 0 < resumed_at(out, "raw.mp4") < 100
    assert "resumed" not in out.replace("raw.mp4  (resumed", "")  # only the file that resumed
    assert "resumed" not in vam(world.david, capsys, "s3.up", *AD)  # nothing left to resume


def test_an_interrupted_download_says_it_resumed_and_where(
    world, capsys, small_parts, ctrl_c_after
):
    write_media(staging(world.david) / "raw.mp4", 8 * PART, "raw")
    run_vam(world.david, ["s3.up", *AD])
    ctrl_c_after(3 * PART)
    vam(world.jan, capsys, "s3.down", *AD, expect=130)
    out = vam(world.jan, capsys, "s3.down", *AD)
    assert 0 < resumed_at(out, "raw.mp4") < 100
    assert (staging(world.jan) / "raw.mp4").read_bytes() == (
        staging(world.david) / "raw.mp4"
    ).read_bytes()
