"""`vam watch` (issue 17) as stories on moto's server on loopback: David works in b65's
s3-staging/ while his watch runs; Jan works on the other side with s3.up / s3.down. Every rule of
s3.up and s3.down holds: nothing is overwritten silently, a conflict is reported (once per
change, also on the team's webhook) and never resolved, a file still being written is never sent.
"""

from __future__ import annotations

import contextlib
import signal

import pytest
from header_proxy import HeaderProxy
from storykit import BUCKET, PREFIX
from watchkit import Link, Running, Watching, write_slowly
from webhookkit import Webhook

from vam.watch import events as ev
from vam.watch.busy import HELD_REASON

pytestmark = pytest.mark.integration


def _versions(s3c, rel: str) -> list[dict]:
    found = s3c.list_object_versions(Bucket=BUCKET, Prefix=PREFIX + rel).get("Versions", [])
    return [v for v in found if v["Key"] == PREFIX + rel]


def _body(s3c, rel: str) -> bytes:
    return s3c.get_object(Bucket=BUCKET, Key=PREFIX + rel)["Body"].read()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def test_a_render_written_over_several_seconds_is_uploaded_once_and_complete(david, s3c):
    """The render grows for about 4 s with pauses shorter than the settle time: no S3 version
    of it is ever anything but the finished file."""
    render = david.staging() / "final-v1.mp4"
    with Running(david, settle=1.5) as watch:
        watch.wait_for(ev.UPLOADED, "raw.mp4")  # the first cycle sends what was there
        data = write_slowly(render, chunks=9, size=64 * 1024, pause=0.5)
        done = watch.wait_for(ev.UPLOADED, "final-v1.mp4")
        watch.cycles_later(10)
        assert len(watch.of(ev.UPLOADED, "final-v1.mp4")) == 1
        assert watch.of(ev.PENDING, "final-v1.mp4")  # it was seen, and waited for
    versions = _versions(s3c, "final-v1.mp4")
    assert [v["Size"] for v in versions] == [len(data)]
    assert done.size == len(data) and _body(s3c, "final-v1.mp4") == data


def test_a_change_jan_uploads_arrives_at_davids_by_itself(david, jan, s3c):
    david.up()
    jan.down()
    with Running(david) as watch:
        watch.wait_until(lambda: watch.project.index_etag is not None, "the first look at S3")
        (jan.staging() / "edit-notes.md").write_text("Cut 0:12-0:20, please.\n")
        (jan.staging() / "raw.mp4").write_bytes(b"Jan's trimmed cut" * 1000)
        assert jan.up().ok
        watch.wait_for(ev.DOWNLOADED, "raw.mp4")
        watch.wait_for(ev.DOWNLOADED, "edit-notes.md")
        watch.cycles_later(10)
        # what came down is not sent back up: one version of each in S3
        assert not watch.of(ev.UPLOADED)
    assert (david.staging() / "edit-notes.md").read_text() == "Cut 0:12-0:20, please.\n"
    assert (david.staging() / "raw.mp4").read_bytes() == b"Jan's trimmed cut" * 1000
    assert len(_versions(s3c, "raw.mp4")) == 2  # David's first upload and Jan's
    assert david.status().plan.counts().get("synced") == 4


def test_an_idle_watch_asks_s3_only_a_conditional_head_of_the_index(david, s3c):
    """Nothing changes: every look is one HEAD of .vam/index.json with If-None-Match, which
    S3 answers 304; no listing, no GET."""
    david.up()
    seen: list[tuple[str, dict]] = []
    client = david.s3

    def record(params, model, **_):
        seen.append((model.name, dict(params.get("headers", {}))))

    with Running(david, interval=0.2) as watch:
        watch.wait_until(lambda: watch.project.index_etag is not None, "the first look at S3")
        watch.cycles_later(3)
        client.meta.events.register("before-call.s3", record)
        try:
            watch.wait_until(lambda: len(seen) >= 5, "five looks at S3")
        finally:
            client.meta.events.unregister("before-call.s3", record)
    names = {name for name, _headers in seen}
    assert names == {"HeadObject"}, seen
    assert all(h.get("If-None-Match") for _name, h in seen)


def test_a_conflict_is_reported_once_per_change_and_both_sides_keep_their_bytes(
    david, jan, s3c, webhook
):
    david.up()
    jan.down()
    brief = david.staging() / "brief.md"
    with Running(david, webhook_url=webhook.url) as watch:
        watch.wait_until(lambda: watch.project.index_etag is not None, "the first look at S3")
        (jan.staging() / "brief.md").write_text("Jan's brief: intro 20 s.\n")
        assert jan.up().ok
        brief.write_text("David's brief: intro 15 s, no music.\n")
        first = watch.wait_for(ev.CONFLICT, "brief.md")
        watch.cycles_later(10)
        assert len(watch.of(ev.CONFLICT, "brief.md")) == 1
        assert "conflict: brief.md" in first.text and "jan" in first.text
        assert "--force" in first.text  # the two ways out, as s3.up names them
        assert first.details["notified"] is True
        assert len(webhook.posts) == 1 and "brief.md" in webhook.posts[0]["text"]
        assert brief.read_text() == "David's brief: intro 15 s, no music.\n"
        assert _body(s3c, "brief.md") == b"Jan's brief: intro 20 s.\n"
        # David saves again: a new change of the conflict, said again
        brief.write_text("David's brief, second try.\n")
        watch.wait_for(ev.CONFLICT, "brief.md", count=2)
        watch.cycles_later(5)
        assert len(watch.of(ev.CONFLICT, "brief.md")) == 2
    assert brief.read_text() == "David's brief, second try.\n"
    assert _body(s3c, "brief.md") == b"Jan's brief: intro 20 s.\n"
    assert len(_versions(s3c, "brief.md")) == 2  # David's first, Jan's: nothing of David's since
    assert len(webhook.posts) == 2


def test_a_file_deleted_here_is_reported_and_stays_in_s3(david, s3c):
    david.up()
    with Running(david) as watch:
        watch.wait_until(lambda: watch.project.index_etag is not None, "the first look at S3")
        (david.staging() / "brief.md").unlink()
        notice = watch.wait_for(ev.NOTICE, "brief.md")
        watch.cycles_later(5)
        assert len(watch.of(ev.NOTICE, "brief.md")) == 1
    assert "deleted here" in notice.text and "--delete" in notice.text
    assert _body(s3c, "brief.md")  # never propagated


def test_a_render_held_open_by_another_program_waits_until_it_is_closed(david, s3c):
    """Windows: a render whose size and mtime stand still (the encoder is thinking) but which
    the encoder still holds open for writing is not sent; once closed, it is. (The check itself,
    the sharing violation, is busy.py's, tested in test_watch_parts.py.)"""
    render = david.staging() / "final-v2.mp4"
    held = {"now": True}

    def busy(path):
        return HELD_REASON if held["now"] and path.name == "final-v2.mp4" else None

    with Running(david, settle=0.5, busy=busy) as watch:
        watch.wait_for(ev.UPLOADED, "raw.mp4")
        render.write_bytes(b"first half of the render")
        pending = watch.wait_for(ev.PENDING, "final-v2.mp4")
        watch.wait_until(lambda: watch.project.settler.quiet_for("final-v2.mp4") > 2, "quiet")
        watch.cycles_later(3)
        assert not watch.of(ev.UPLOADED, "final-v2.mp4")
        assert not _versions(s3c, "final-v2.mp4")
        render.write_bytes(b"first half of the render, and the second")
        held["now"] = False  # the encoder closes it
        watch.wait_for(ev.UPLOADED, "final-v2.mp4")
    assert "new or changed" in pending.text
    assert [v["Size"] for v in _versions(s3c, "final-v2.mp4")] == [len(render.read_bytes())]


@pytest.fixture
def link(s3, monkeypatch):
    """David's network to S3, which the story cuts and restores (watchkit.Link)."""
    link = Link(s3.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", link.url)
    yield link
    link.close()


def test_the_watch_waits_out_a_lost_network_and_carries_on_when_it_is_back(link, david, s3c):
    david.up()
    with Running(david, longest_backoff=2.0) as watch:
        watch.wait_until(lambda: watch.project.index_etag is not None, "the first look at S3")
        link.cut()
        offline = watch.wait_for(ev.OFFLINE)
        (david.staging() / "notes.md").write_text("Written while S3 was away.\n")
        watch.wait_for(ev.PENDING, "notes.md")
        link.restore()
        watch.wait_for(ev.ONLINE)
        watch.wait_for(ev.UPLOADED, "notes.md")
    assert "cannot reach S3" in offline.text and "trying again" in offline.text
    assert _body(s3c, "notes.md") == b"Written while S3 was away.\n"


@pytest.fixture
def own_server(s3, monkeypatch):
    """A moto server of David's own, on a fixed port, that the story stops and starts again.
    (moto keeps its buckets in the process, so the restarted server has the same objects, as S3
    after an outage.)"""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    state = {"server": server, "port": port}

    def stop() -> None:
        state["server"].stop()

    def start() -> None:
        again = ThreadedMotoServer(ip_address="127.0.0.1", port=state["port"], verbose=False)
        again.start()
        state["server"] = again

    yield stop, start
    with contextlib.suppress(Exception):
        state["server"].stop()


def test_the_server_stopped_then_restarted_the_watch_recovers(own_server, david, s3c):
    """S3 goes away for real (the server stops: connections refused), David saves a file, the
    server comes back on the same address: the watch says so and the file goes up."""
    stop, start = own_server
    david.up()
    with Running(david, longest_backoff=2.0) as watch:
        watch.wait_until(lambda: watch.project.index_etag is not None, "the first look at S3")
        stop()
        offline = watch.wait_for(ev.OFFLINE)
        (david.staging() / "notes.md").write_text("Saved while the server was down.\n")
        watch.wait_for(ev.PENDING, "notes.md")
        start()
        watch.wait_for(ev.ONLINE)
        watch.wait_for(ev.UPLOADED, "notes.md")
    assert "cannot reach S3" in offline.text, offline.text
    assert _body(s3c, "notes.md") == b"Saved while the server was down.\n"


@pytest.fixture
def proxied(s3, monkeypatch):
    """David's S3 through a proxy that can play a weaker server (tests/header_proxy.py)."""
    made: list[HeaderProxy] = []

    def make(**kw) -> HeaderProxy:
        proxy = HeaderProxy(s3.endpoint_url, **kw).__enter__()
        made.append(proxy)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        return proxy

    yield make
    for proxy in made:
        proxy.__exit__(None, None, None)


def test_on_a_server_that_ignores_if_none_match_the_etag_still_decides(proxied, david, jan):
    """R2, B2 or MinIO may answer 200 where S3 answers 304: the ETag it returns is compared, so
    an idle watch still only HEADs the index, and Jan's change still comes down."""
    proxy = proxied()  # forwards every request with If-None-Match (and If-Match) removed
    david.up()
    jan.down()
    with Running(david, interval=0.2) as watch:
        watch.wait_until(lambda: watch.project.index_etag is not None, "the first look at S3")
        watch.cycles_later(3)
        proxy.clear()
        watch.wait_until(lambda: len(proxy.requests()) >= 5, "five looks at S3")
        assert {r.method for r in proxy.requests()} == {"HEAD"}
        assert all(".vam/index.json" in r.target for r in proxy.requests())
        (jan.staging() / "brief.md").write_text("Jan's brief, via a weaker server.\n")
        assert jan.up().ok
        watch.wait_for(ev.DOWNLOADED, "brief.md")
    assert (david.staging() / "brief.md").read_text() == "Jan's brief, via a weaker server.\n"


def test_s3_busy_backs_off_and_the_watch_carries_on_when_it_answers_again(proxied, david, s3c):
    busy = {"now": False}
    proxied(strip=(), refuse=lambda method, target: (503, "SlowDown") if busy["now"] else None)
    david.up()
    with Running(david, longest_backoff=2.0) as watch:
        watch.wait_until(lambda: watch.project.index_etag is not None, "the first look at S3")
        busy["now"] = True
        offline = watch.wait_for(ev.OFFLINE)
        (david.staging() / "notes.md").write_text("Saved while S3 was busy.\n")
        busy["now"] = False
        watch.wait_for(ev.ONLINE)
        watch.wait_for(ev.UPLOADED, "notes.md")
    assert "busy" in offline.text or "SlowDown" in offline.text, offline.text
    assert _body(s3c, "notes.md") == b"Saved while S3 was busy.\n"


def test_after_the_computer_slept_the_watch_looks_at_s3_again_at_once(david, jan, s3c):
    """The lid closes for two hours (the wall clock jumps, the steady one does not): on waking
    the watch does not wait for its next poll (an hour away here), makes a new S3 client (the
    old connections died with the sleep), and Jan's change made meanwhile comes down."""
    from vam.watch.timing import SleepDetector

    david.up()
    jan.down()
    wall = {"jump": 0.0}
    made = []

    def client():
        made.append(1)
        return david.s3

    detector = SleepDetector(wall=lambda: __import__("time").time() + wall["jump"])
    with Running(david, interval=3600, make_client=client, sleep_detector=detector) as watch:
        watch.wait_until(lambda: watch.project.index_etag is not None, "the first look at S3")
        (jan.staging() / "brief.md").write_text("Jan's brief, written while David's Mac slept.\n")
        assert jan.up().ok
        watch.cycles_later(3)
        assert not watch.of(ev.DOWNLOADED)  # the next poll is an hour away
        wall["jump"] = 2 * 3600.0
        woke = watch.wait_for(ev.WOKE)
        watch.wait_for(ev.DOWNLOADED, "brief.md")
    assert "about 120 min" in woke.text and len(made) == 2
    assert (david.staging() / "brief.md").read_text().startswith("Jan's brief, written while")


def test_watch_all_picks_up_a_project_that_gets_an_s3_staging_folder(david, s3c, tmp_path):
    watch = Watching(david, "--brand", "ad", "--all", "--rescan", "0.5s", "--settle", "0.5s")
    try:
        watch.wait_for("watching appydave b65-guy-monroe-marketing-plan")
        watch.wait_for("✓ uploaded 131.1 KB  raw.mp4")
        b64 = david.staging().parent.parent / "b64-bmad-claude-sdk" / "s3-staging"
        b64.mkdir()
        (b64 / "outline.md").write_text("B64 outline.\n")
        picked = watch.wait_for("watching appydave b64-bmad-claude-sdk")
        uploaded = watch.wait_for("✓ uploaded 13 B  outline.md")
        code = watch.stop(signal.SIGINT)
    finally:
        watch.kill()
    assert code == 130
    assert "  b64  ✓ uploaded 13 B  outline.md" in uploaded  # several projects: each line its own
    key = "staging/v-appydave/b64-bmad-claude-sdk/outline.md"
    assert s3c.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"B64 outline.\n"
    assert picked


def test_a_project_archived_while_watched_is_let_go_and_never_brought_back(david, jan, s3c):
    """ssd.archive (or David) moves the project folder away: the watch must not recreate it
    with the next download of Jan's changes."""
    import shutil

    david.up()
    jan.down()
    folder = david.staging().parent
    with Running(david) as watch:
        watch.wait_until(lambda: watch.project.index_etag is not None, "the first look at S3")
        moved = folder.parent / "archived" / folder.name
        moved.parent.mkdir(exist_ok=True)
        shutil.move(folder, moved)
        notice = watch.wait_for(ev.NOTICE)
        watch.wait_for(ev.STOPPED)
        (jan.staging() / "brief.md").write_text("Jan's brief after the archive.\n")
        assert jan.up().ok
    assert "is gone (archived or moved?)" in notice.text
    assert not folder.exists()
