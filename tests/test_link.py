"""A long lossy link (issue 15), played by the benchmark's loopback proxy (benchmarks/proxy.py) in
front of moto's server: what crosses it is counted there, not by vam. No timing asserts: the
counts are bytes and connections.

- a reset mid-part re-sends only that part (or, downloading, only the bytes in flight);
- vam opens more connections when each connection's rate is capped;
- a link that never lets a part through stops the upload after STALL_SECONDS with one line,
  the resumable state kept.
"""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit

import moto.s3.models
import pytest

from benchmarks.proxy import Cuts, Link, Proxy
from tests.header_proxy import HeaderProxy
from tests.transferkit import make_client
from vam.s3sync.transfer import (
    RemoteChanged,
    concurrency,
    download_file,
    roundtrip,
    tuning,
    upload_file,
)
from vam.s3sync.transfer.concurrency import Parallelism
from vam.s3sync.transfer.values import Stalled
from vam.tasks.base import one_line

KiB = 1024
PART = 64 * KiB
BUCKET = "vam-link-test"


@pytest.fixture
def small_parts(monkeypatch):
    """64 KiB parts and ranges (moto's minimum part lowered too), short measuring windows."""
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", PART)
    monkeypatch.setattr(tuning, "SINGLE_PUT_LIMIT", 2 * PART)
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", PART)
    monkeypatch.setattr(tuning, "MIN_DOWNLOAD_RANGE", PART)
    monkeypatch.setattr(tuning, "DOWNLOAD_GRID", 16 * KiB)
    monkeypatch.setattr(tuning, "DOWNLOAD_RANGE", 4 * PART)
    monkeypatch.setattr(tuning, "BACKOFF_SECONDS", 0.01)
    monkeypatch.setattr(tuning, "WINDOW_SECONDS", 0.1)
    monkeypatch.setattr(tuning, "SETTLE_SECONDS", 0.05)
    concurrency.forget()
    yield PART
    concurrency.forget()


@pytest.fixture
def upstream(s3):
    make_client(s3.endpoint_url).create_bucket(Bucket=BUCKET)
    url = urlsplit(s3.endpoint_url)
    return (url.hostname, url.port)


def through(proxy: Proxy):
    return make_client(proxy.url)


def upload(client, path, key="p/raw.mp4", **kw):
    return upload_file(client, BUCKET, key, path, crc32=None, metadata={}, **kw)


def test_a_reset_mid_part_re_sends_only_that_part(upstream, small_parts, tmp_path):
    path = tmp_path / "raw.mp4"
    path.write_bytes(os.urandom(24 * PART))
    size = path.stat().st_size
    # the same upload over a clean link: what the requests themselves cost (headers, the list)
    with Proxy(upstream) as clean:
        upload(through(clean), path, "p/clean.mp4")
        clean.wait_idle()
        overhead = clean.count().sent - size
    # a link that resets the connection carrying every 5.5 parts' worth of traffic: mid-part
    link = Link("resets", reset_every=11 * PART // 2)
    with Proxy(upstream, link=link) as proxy:
        done = upload(through(proxy), path)
        proxy.wait_idle()
        wire = proxy.count()
    assert wire.resets >= 3
    resent = wire.sent - size - overhead
    assert 0 < resent <= wire.resets * PART + wire.resets * 2 * KiB  # (a retried request's head)
    got = make_client().get_object(Bucket=BUCKET, Key="p/raw.mp4")["Body"].read()
    assert got == path.read_bytes() and done.size == size


def _download_through_resets(upstream, dest):
    """A 24-part object downloaded over a link that resets the connection carrying every 5.5
    parts' worth of traffic (mid-range); the file byte-identical. Returns the proxy's count."""
    data = os.urandom(24 * PART)
    direct = make_client()
    etag = direct.put_object(Bucket=BUCKET, Key="p/raw.mp4", Body=data)["ETag"].strip('"')
    link = Link("resets", reset_every=11 * PART // 2)
    with Proxy(upstream, link=link) as proxy:
        download_file(through(proxy), BUCKET, "p/raw.mp4", dest, size=len(data), etag=etag)
        proxy.wait_idle()
        wire = proxy.count()
    assert dest.read_bytes() == data
    assert wire.resets >= 3
    return wire


def test_a_reset_mid_range_re_fetches_only_what_was_in_flight(upstream, small_parts, tmp_path):
    wire = _download_through_resets(upstream, tmp_path / "raw.mp4")
    # a range continues from the bytes on disk: a reset costs what was on the way, not a range
    assert wire.received - 24 * PART <= wire.resets * 4 * PART


def test_a_range_cut_while_it_carried_bytes_is_asked_again_at_once(
    upstream, small_parts, tmp_path, monkeypatch
):
    """A reset that cut a range mid-body is a dropped connection, not a busy server: the rest
    is asked for at once (each pause would leave that connection's share of the line idle); only
    a try that brought nothing backs off. A reset can land on one of those (on a response's
    head, or on body bytes the client had not read yet: a reset discards them), so at most one
    pause in the run is allowed; pausing after every reset (the old way) is not."""
    from vam.s3sync.transfer import ranges

    pauses = []
    monkeypatch.setattr(ranges, "backoff", lambda attempt: pauses.append(attempt))
    wire = _download_through_resets(upstream, tmp_path / "raw.mp4")
    assert len(pauses) <= 1 < wire.resets, (pauses, wire.resets)


def test_a_small_body_is_sent_without_waiting_for_100_continue(upstream, tmp_path, monkeypatch):
    """botocore asks "Expect: 100-continue" on every PUT with a body and waits a round trip for
    the answer: 150 ms per note on Jan's link. vam's clients send a body of up to 2 MiB at
    once (the files' PUTs and the project index's); larger ones still ask first."""
    from vam.aws.client import SMALL_BODY, Aws, new_session
    from vam.core.team import Storage
    from vam.s3sync.remoteindex import IndexEntry, update_index

    note = tmp_path / "brief.md"
    note.write_bytes(b"cut the intro to 15 s\n" * 1000)
    host, port = upstream
    with HeaderProxy(f"http://{host}:{port}", strip=()) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        session = new_session(None, "us-east-1", access_key_id="x", secret_access_key="x")
        s3 = Aws(session, Storage(BUCKET, "us-east-1", endpoint_url=proxy.url), None).client(
            transfers=True
        )
        done = upload(s3, note, "p/brief.md")
        entry = IndexEntry(
            size=done.size,
            crc32=done.crc32,
            etag=done.etag,
            version_id=None,
            uploaded_by="david",
            uploaded_at="2026-12-07T18:00:00+00:00",
            mtime_ns=note.stat().st_mtime_ns,
        )
        update_index(s3, BUCKET, "p/", {"brief.md": entry}, user="david")
        s3.put_object(Bucket=BUCKET, Key="p/large.bin", Body=os.urandom(SMALL_BODY + 1))
        puts = {s.target.split("?")[0]: s.expect for s in proxy.requests("PUT")}
    assert puts == {
        f"/{BUCKET}/p/brief.md": False,
        f"/{BUCKET}/p/.vam/index.json": False,
        f"/{BUCKET}/p/large.bin": True,
    }, puts
    got = make_client(f"http://{host}:{port}").get_object(Bucket=BUCKET, Key="p/brief.md")
    assert got["Body"].read() == note.read_bytes()


def _long_link_client(proxy, monkeypatch, small_parts):
    """A client whose round trips count as a long link's (LONG_RTT 0), having listed once (what
    the scan does before any upload), for files of a few long-link parts."""
    monkeypatch.setattr(tuning, "LONG_RTT", 0.0)
    monkeypatch.setattr(tuning, "LONG_LINK_PART_SIZE", small_parts)
    monkeypatch.setattr(tuning, "LONG_LINK_START", 2)
    s3 = through(proxy)
    roundtrip.observe(s3)
    s3.list_objects_v2(Bucket=BUCKET, Prefix="p/")
    assert roundtrip.long_link(s3)
    return s3


def test_on_a_long_link_the_upload_is_created_while_its_precondition_is_checked(
    upstream, small_parts, tmp_path, monkeypatch
):
    """Before its first part an upload HEADs the key (is it still absent, or the version
    compared?) and creates the multipart upload: on a long link the two go at once, one round
    trip (150 ms) less. The proxy holds the HEAD until the creation arrives, which only a
    creation sent beside it can do."""
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", 5 * 1024 * KiB)  # the floor of a long-link part
    path = tmp_path / "raw.mp4"
    path.write_bytes(os.urandom(6 * 1024 * KiB))
    created = threading.Event()
    held: list[bool] = []

    def hold_the_head(method: str, target: str) -> None:
        if method == "POST" and target.endswith("?uploads"):
            created.set()
        if method == "HEAD" and target == f"/{BUCKET}/p/raw.mp4" and not held:
            held.append(created.wait(30))

    host, port = upstream
    with HeaderProxy(f"http://{host}:{port}", strip=(), before=hold_the_head) as proxy:
        s3 = _long_link_client(proxy, monkeypatch, 5 * 1024 * KiB)
        done = upload(s3, path, if_none_match=True, state_dir=tmp_path / "state")
    assert held == [True], proxy.requests()
    got = make_client(f"http://{host}:{port}").get_object(Bucket=BUCKET, Key="p/raw.mp4")
    assert got["Body"].read() == path.read_bytes() and done.size == path.stat().st_size


def test_an_upload_created_beside_a_refused_precondition_is_aborted(
    upstream, small_parts, tmp_path, monkeypatch
):
    """Jan's file is already at the key: David's upload, which expected none, is refused with
    one line before a part is sent, and the multipart upload created beside the check is
    aborted, its resume record gone (nothing left to resume or to pay for)."""
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", 5 * 1024 * KiB)
    path = tmp_path / "raw.mp4"
    path.write_bytes(os.urandom(6 * 1024 * KiB))
    host, port = upstream
    plain = make_client(f"http://{host}:{port}")
    plain.put_object(Bucket=BUCKET, Key="p/raw.mp4", Body=b"Jan's render")
    state = tmp_path / "state"
    with HeaderProxy(f"http://{host}:{port}", strip=()) as proxy:
        s3 = _long_link_client(proxy, monkeypatch, 5 * 1024 * KiB)
        with pytest.raises(RemoteChanged) as refused:
            upload(s3, path, if_none_match=True, state_dir=state)
    assert "appeared while uploading" in one_line(refused.value)[0]
    assert not proxy.requests("PUT")  # no part sent
    assert plain.get_object(Bucket=BUCKET, Key="p/raw.mp4")["Body"].read() == b"Jan's render"
    assert plain.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert not [p for p in state.rglob("*") if p.is_file()]


def test_more_connections_when_each_connection_is_capped(
    upstream, small_parts, tmp_path, monkeypatch
):
    part = 1024 * KiB
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", part)
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", part)
    monkeypatch.setattr(tuning, "WINDOW_SECONDS", 0.3)
    path = tmp_path / "raw.mp4"
    path.write_bytes(os.urandom(48 * part))
    with Proxy(upstream) as open_link:
        upload(through(open_link), path, "p/open.mp4")
        uncapped = open_link.count()
    concurrency.forget()
    # each connection carries 2 MiB/s, like one TCP connection on a long lossy path: the total
    # grows with every connection added, so vam keeps adding them. Parts of 1 MiB, larger than
    # what the sockets buffer: the rate vam measures is the link's, not a buffer filling (with
    # 256 KiB parts a whole part sat in the buffers at once and a window saw bursts or nothing)
    with Proxy(upstream, link=Link("capped", per_connection=2 * part)) as capped_link:
        upload(through(capped_link), path, "p/capped.mp4")
        capped = capped_link.count()
    assert capped.peak_connections >= 16, (uncapped, capped)
    assert capped.peak_connections > uncapped.peak_connections


@pytest.mark.slow
def test_on_a_thin_uplink_fewer_parts_are_in_flight_once_s3_confirms_some(
    upstream, small_parts, tmp_path, monkeypatch
):
    """A long link whose line, not its connections, is the limit (16 MiB/s of 4 MiB/s
    connections): once S3 has confirmed the first parts, which say what the line carries, no
    more than 4 are in flight (what it carries in IN_FLIGHT_SECONDS, here 1.5 s of 5 MiB parts),
    so a drop of the link loses seconds of it, not the 8 or 16 parts of the first wave. Parts
    in flight are counted as the client sends and finishes them."""
    part = 5 * 1024 * KiB  # a long link's part: S3's minimum
    monkeypatch.setattr(tuning, "MIN_PART_SIZE", part)
    monkeypatch.setattr(tuning, "WINDOW_SECONDS", 0.3)
    monkeypatch.setattr(tuning, "IN_FLIGHT_SECONDS", 1.5)
    path = tmp_path / "render.mp4"
    path.write_bytes(os.urandom(24 * part))
    in_flight, seen, lock = [0], [], threading.Lock()

    def sending(**_):
        with lock:
            in_flight[0] += 1
            seen.append(in_flight[0])

    def sent(**_):
        with lock:
            in_flight[0] -= 1
            seen.append(-1)  # a part done

    link = Link("thin", up_rate=16 * 1024 * KiB, per_connection=4 * 1024 * KiB)
    with Proxy(upstream, link=link) as proxy:
        s3 = _long_link_client(proxy, monkeypatch, part)
        monkeypatch.setattr(tuning, "LONG_LINK_START", 8)
        s3.meta.events.register("before-call.s3.UploadPart", sending)
        s3.meta.events.register("after-call.s3.UploadPart", sent)
        upload(s3, path, "p/render.mp4", state_dir=tmp_path / "state")
    done = [i for i, n in enumerate(seen) if n == -1]
    assert len(done) == 24 and max(seen[: done[0]]) >= 8, seen  # the first wave: 8 or more
    assert max(n for n in seen[done[3] :] if n > 0) <= 4, seen  # once 4 are confirmed: 4
    got = make_client(f"http://{upstream[0]}:{upstream[1]}").get_object(
        Bucket=BUCKET, Key="p/render.mp4"
    )
    assert got["Body"].read() == path.read_bytes()


def test_a_link_that_lets_nothing_through_stops_with_one_line_and_keeps_the_upload(
    upstream, small_parts, tmp_path, monkeypatch
):
    monkeypatch.setattr(tuning, "STALL_SECONDS", 1.0)
    path = tmp_path / "raw.mp4"
    path.write_bytes(os.urandom(8 * PART))
    state = tmp_path / ".vam"
    # every connection that carries more than 2 KiB up is cut: headers pass, no part does
    dead = Cuts("up", after=2 * KiB, count=10**9)
    with Proxy(upstream, cuts=dead) as proxy, pytest.raises(Stalled) as stalled:
        upload(through(proxy), path, state_dir=state)
    message, code = one_line(stalled.value)
    assert code != 0 and "\n" not in message
    assert "p/raw.mp4: no progress for" in message and "run the same command again" in message
    assert list((state / "uploads").glob("*.json"))  # the upload is recorded: it can resume
    # the link is back: the same upload completes from its record
    done = upload(make_client(), path, state_dir=state)
    got = make_client().get_object(Bucket=BUCKET, Key="p/raw.mp4")["Body"].read()
    assert got == path.read_bytes() and done.size == path.stat().st_size
    assert not list((state / "uploads").glob("*.json"))


def test_a_part_cut_again_and_again_gets_through_while_the_link_comes_back(
    upstream, small_parts, tmp_path, monkeypatch
):
    """Ten cuts in a row of the same part (one part at a time): more than botocore's and the
    old four tries together; the upload goes on because nothing says the link is gone for good."""
    monkeypatch.setattr(tuning, "MAX_UPLOAD_WORKERS", 1)
    path = tmp_path / "raw.mp4"
    path.write_bytes(os.urandom(4 * PART))
    with Proxy(upstream, cuts=Cuts("up", after=PART // 2, count=10)) as proxy:
        upload(through(proxy), path)
        assert proxy.count().resets == 10
    got = make_client().get_object(Bucket=BUCKET, Key="p/raw.mp4")["Body"].read()
    assert got == path.read_bytes()


def test_backoff_doubles_with_jitter_up_to_a_ceiling(monkeypatch):
    from vam.s3sync.transfer import retries

    slept: list[float] = []
    monkeypatch.setattr(retries.time, "sleep", slept.append)
    for attempt in range(12):
        retries.backoff(attempt)
    for attempt, delay in enumerate(slept):
        base = min(tuning.MAX_BACKOFF_SECONDS, tuning.BACKOFF_SECONDS * 2**attempt)
        assert 0.5 * base <= delay <= 1.5 * base
    assert max(slept) <= 1.5 * tuning.MAX_BACKOFF_SECONDS


# --------------------------------------------------------------------------- the level


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def feed(control: Parallelism, clock: Clock, rate_of_level, seconds: float) -> None:
    """Bytes at `rate_of_level(level)` bytes/s for `seconds`, in 10 ms steps."""
    for _ in range(int(seconds * 100)):
        clock.now += 0.01
        control.note(int(rate_of_level(control.level) * 0.01))


def test_the_level_doubles_while_the_rate_grows_and_stays_where_it_stops():
    clock = Clock()
    control = Parallelism(4, 32, clock=clock)
    link = 12.5e6  # 100 Mb/s of 1 MB/s connections: a dozen fill it
    feed(control, clock, lambda level: min(link, level * 1e6), 10)
    assert control.level == 16  # 4 → 8 → 16 grew (16 by 56 %); 32 gave no more: back to 16
    assert [level for level, _ in control.history] == [4, 8, 16, 32]


def test_the_level_stays_low_where_more_connections_give_nothing():
    clock = Clock()
    control = Parallelism(4, 32, clock=clock)
    feed(control, clock, lambda level: 150e6, 10)  # loopback: the server is the limit
    assert control.level == 4


def test_the_level_goes_back_after_a_clear_loss_and_is_remembered():
    clock = Clock()
    key = ("http://example", "up")
    concurrency.forget()
    control = Parallelism(4, 32, key=key, clock=clock)
    feed(control, clock, lambda level: 4e6 if level <= 4 else 2e6, 10)  # more made it worse
    assert control.level == 4
    control.finish()
    assert Parallelism(2, 32, key=key).level == 4  # the next file starts where this one ended
    concurrency.forget()


def test_a_level_already_slower_in_its_first_window_is_given_up_at_once():
    """Filling new connections' buffers only ever flatters a level: one that is slower than the
    level before even then is a loss, and the transfer does not spend a second window on it."""
    clock = Clock()
    control = Parallelism(4, 32, clock=clock)
    feed(control, clock, lambda level: 300e6 if level <= 4 else 200e6, 10)
    assert control.level == 4
    levels = [level for level, _ in control.history]
    assert levels == [4, 8]
    # level 4: settle, a warm-up window, a measured one; level 8: settle and one window only
    clock = Clock()
    control = Parallelism(4, 32, clock=clock)
    while len(control.history) < 2:
        clock.now += 0.01
        control.note(int((300e6 if control.level <= 4 else 200e6) * 0.01))
    expected = 2 * tuning.SETTLE_SECONDS + 3 * tuning.WINDOW_SECONDS
    assert abs(clock.now - expected) < 0.05, (clock.now, expected)


JAN_PART = 5_592_405  # a long link's part of a 256 MiB file (5.33 MiB: 48 parts, whole waves)


def settled_upload(clock: Clock, key=("http://jan-home", "up")) -> Parallelism:
    """A large upload's level on a long link, its parts bounded by the line, once the doubling
    has settled at 16 (32 gave nothing)."""
    concurrency.forget()
    control = Parallelism(16, 32, key=key, clock=clock, unit=JAN_PART)
    feed(control, clock, lambda level: 2.5e6, 5)
    assert control.level == 16 and [level for level, _ in control.history] == [16, 32]
    return control


def wave(control: Parallelism, clock: Clock, parts: int, seconds: float) -> list:
    """`parts` parts begun together and confirmed together `seconds` later (they share the
    line); returns the slots, left, and each part's confirmation in turn."""
    slots = [control.slot() for _ in range(parts)]
    tokens = []
    for slot in slots:
        slot.__enter__()
        tokens.append(control.part_started())
    clock.now += seconds
    for slot, token in zip(slots, tokens, strict=True):
        control.part_confirmed(token, JAN_PART)
        slot.__exit__(None, None, None)
    return tokens


def test_on_a_thin_uplink_the_parts_in_flight_come_down_once_s3_confirms_parts():
    """Jan's uplink: 16 parts of 5.33 MiB share 2.5 MB/s, each done after ~36 s, and a drop
    loses all of them. What they imply (16 × 5.59 MB / 36 s = 2.5 MB/s) carries 6.7 parts in
    15 s: the level comes down to 4, and stays, since 4 parts alone keep the line as full."""
    clock = Clock()
    control = settled_upload(clock)
    wave(control, clock, 16, 16 * JAN_PART / 2.5e6)
    assert control.level == 4
    wave(control, clock, 4, 4 * JAN_PART / 2.5e6)  # 4 alone: 2.5 MB/s still
    assert control.level == 4
    assert [level for level, _ in control.bound_history] == [4, 4]
    # the bytes handed to the HTTP layer say nothing: no part confirmed, no bound
    clock = Clock()
    control = settled_upload(clock)
    feed(control, clock, lambda level: 0.3e6, 30)
    assert control.level == 16


def test_a_long_haul_line_keeps_its_sixteen_parts():
    """100 Mb/s of 1 MB/s connections: 16 parts done after ~7 s say 12.5 MB/s, 33 parts in
    15 s: nothing changes."""
    clock = Clock()
    control = settled_upload(clock, ("http://long-haul", "up"))
    wave(control, clock, 16, 16 * JAN_PART / 12.5e6)
    assert control.level == 16 and [level for level, _ in control.bound_history] == [16]


def test_where_fewer_parts_carry_less_the_connections_were_the_limit_and_the_level_goes_back():
    """A very lossy path, 0.1 MB/s a connection: 16 parts take 56 s each (1.6 MB/s in all),
    which says 4; 4 parts alone still take 56 s each (0.4 MB/s): the connections were the
    limit, the level goes back to 16 and is no longer bounded."""
    clock = Clock()
    control = settled_upload(clock, ("http://lossy", "up"))
    wave(control, clock, 16, JAN_PART / 0.1e6)
    assert control.level == 4
    wave(control, clock, 4, JAN_PART / 0.1e6)
    assert control.level == 16
    wave(control, clock, 16, JAN_PART / 0.1e6)
    assert control.level == 16


def test_two_large_uploads_at_once_are_not_bounded_by_what_each_sees():
    """Two large files at once each see half the line; when one ends the other needs all of it:
    the bound holds a transfer only while it is the one large upload on its endpoint."""
    clock = Clock()
    first = settled_upload(clock)
    second = Parallelism(16, 32, key=("http://jan-home", "up"), clock=clock, unit=JAN_PART)
    wave(first, clock, 16, 32 * JAN_PART / 2.5e6)
    assert first.level == 16
    shared = [first.slot() for _ in range(4)]  # 4 parts begun while the second still runs…
    tokens = []
    for slot in shared:
        slot.__enter__()
        tokens.append(first.part_started())
    second.finish()
    clock.now += 8 * JAN_PART / 2.5e6
    for slot, token in zip(shared, tokens, strict=True):  # …say nothing once it has ended
        first.part_confirmed(token, JAN_PART)
        slot.__exit__(None, None, None)
    assert first.level == 16 and first.bound_history == []
    wave(first, clock, 16, 16 * JAN_PART / 2.5e6)  # alone now
    assert first.level == 4
    concurrency.forget()


def test_on_a_short_link_the_level_is_measured_in_shorter_steps():
    for short in (False, True):
        clock = Clock()
        control = Parallelism(4, 32, clock=clock, short=short)
        while not control.history:
            clock.now += 0.01
            control.note(int(150e6 * 0.01))
        scale = tuning.SHORT_LINK_SCALE if short else 1.0
        expected = (tuning.SETTLE_SECONDS + 2 * tuning.WINDOW_SECONDS) * scale
        assert abs(clock.now - expected) < 0.05, (short, clock.now, expected)
