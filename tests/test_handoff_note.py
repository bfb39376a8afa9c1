"""Handoff notes, share links and the webhook, against moto's server and a loopback HTTP server."""

import http.server
import json
import threading
import urllib.request
from datetime import UTC, datetime

import boto3
import pytest

from vam.core.errors import UsageError
from vam.handoff.note import (
    HandoffNote,
    NoteFile,
    latest_note,
    receivers,
    slack_payload,
    store_note,
)
from vam.handoff.notify import post_webhook
from vam.s3sync.share import parse_expiry, share_links

PREFIX = "staging/v-appydave/b65-x/"


def note(at: str, who: str = "david", to=("jan",), message="cut the intro") -> HandoffNote:
    return HandoffNote(
        brand="appydave",
        project="b65-x",
        from_user=who,
        to_users=to,
        created_at=datetime.fromisoformat(at).replace(tzinfo=UTC),
        message=message,
        files=(NoteFile("raw.mp4", 123, "0a1b2c3d"), NoteFile("café take.mov", 5, "00000001")),
        receive_command="vam receive --brand appydave --project b65-x",
    )


def test_note_round_trips_through_json():
    n = note("2026-11-23T10:00:00")
    assert HandoffNote.from_json(n.to_json()) == n


def test_latest_note_for_a_person(s3):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="video-projects")
    store_note(client, "video-projects", PREFIX, note("2026-11-23T10:00:00"))
    store_note(
        client, "video-projects", PREFIX, note("2026-11-24T09:00:00", "jan", ("david",), "done")
    )
    assert latest_note(client, "video-projects", PREFIX).message == "done"
    assert latest_note(client, "video-projects", PREFIX, for_user="jan").message == "cut the intro"
    assert latest_note(client, "video-projects", "staging/v-appydave/other/") is None


def test_receivers_default_to_the_other_members():
    assert receivers(("david", "jan"), "david", None) == ("jan",)
    assert receivers(("david", "jan"), "david", "jan,client") == ("jan", "client")


@pytest.mark.parametrize(
    "text,seconds", [("1h", 3600), ("36h", 129600), ("7d", 604800), ("3600", 3600)]
)
def test_expiry_within_one_hour_and_seven_days(text, seconds):
    assert parse_expiry(text) == seconds


@pytest.mark.parametrize("text", ["30m", "8d", "soon", "0"])
def test_expiry_outside_the_range_is_refused(text):
    with pytest.raises(UsageError):
        parse_expiry(text)


def test_share_link_downloads_the_exact_bytes_with_plain_urllib(s3):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="video-projects")
    data = bytes(range(256)) * 100
    key = PREFIX + "b-roll café – take 2.mov"
    client.put_object(Bucket="video-projects", Key=key, Body=data)
    [link] = share_links(
        client, "video-projects", [("b-roll café – take 2.mov", key, len(data))], 3600
    )
    with urllib.request.urlopen(link.url, timeout=30) as response:
        assert response.read() == data


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers["Content-Length"])
        type(self).received.append((self.headers["Content-Type"], self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_gets_one_slack_compatible_post():
    _Recorder.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        result = post_webhook(url, slack_payload(note("2026-11-23T10:00:00")))
    finally:
        server.shutdown()
    assert result.ok
    [(ctype, body)] = _Recorder.received
    text = json.loads(body)["text"]
    assert (
        ctype == "application/json"
        and "b65-x" in text
        and "raw.mp4" in text
        and "café take.mov" in text
    )


def test_unreachable_webhook_is_reported_not_raised():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    port = server.server_port
    server.server_close()  # nothing listens there now
    result = post_webhook(f"http://127.0.0.1:{port}/hook", {"text": "x"}, timeout=5)
    assert not result.ok and "unreachable" in result.detail


def test_latest_note_from_keys_already_listed_makes_no_listing(s3):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="video-projects")
    key = store_note(client, "video-projects", PREFIX, note("2026-11-23T10:00:00"))
    listings = []
    client.meta.events.register("before-call.s3.ListObjectsV2", lambda **kw: listings.append(1))
    keys = [PREFIX + "raw.mp4", key, "staging/v-appydave/other/.vam/handoff/x.json"]
    assert latest_note(client, "video-projects", PREFIX, keys=keys).message == "cut the intro"
    assert listings == []
    assert latest_note(client, "video-projects", PREFIX, keys=[PREFIX + "raw.mp4"]) is None
