"""The demo: the whole story as David and Jan, on an embedded S3 server, with no AWS account.

Every step is a real `vam` command, run by the runner the caller gives the story (`vam demo` gives
vam.tasks.inprocess.run_vam: in-process, through the same task namespace a person uses), with
that person's own settings file (and so their own projects root and sync records). The only
differences from real AWS are the endpoint and the throwaway credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from vam.core.errors import VamError
from vam.demo.sample import SampleRoot, build_sample_root, write_media, write_text


@dataclass
class Person:
    name: str
    settings: Path
    root: Path


@dataclass
class DemoWorld:
    base: Path
    endpoint: str
    david: Person
    jan: Person
    webhook_url: str | None = None
    failures: list[str] = field(default_factory=list)


def build_world(
    base: Path, endpoint: str, *, media_bytes: int, webhook_url: str | None
) -> DemoWorld:
    """David's sample projects root (two brands with media) and Jan's empty one, with settings."""
    david_sample = build_sample_root(base / "david" / "video-projects", media_bytes=media_bytes)
    extra = {"webhook_url": webhook_url} if webhook_url else {}
    david_settings = david_sample.write_settings("david", **extra)
    jan_root = base / "jan" / "video-projects"
    for repo in ("v-appydave", "v-voz"):
        (jan_root / repo).mkdir(parents=True, exist_ok=True)
    jan_sample = SampleRoot(jan_root, david_sample.brands_file, base / "jan" / "ssd", media_bytes)
    jan_settings = jan_sample.write_settings("jan", **extra)
    return DemoWorld(
        base=base,
        endpoint=endpoint,
        david=Person("david", david_settings, david_sample.root),
        jan=Person("jan", jan_settings, jan_root),
        webhook_url=webhook_url,
    )


class Runner(Protocol):
    """Runs one vam command as `person` and returns its exit code; a code not in `expect` stops
    the story with a VamError."""

    def __call__(
        self, person: Person, argv: list[str], *, expect: int | tuple[int, ...] = 0
    ) -> int: ...


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def edit_file(path: Path, seed: str) -> None:
    """An edit that keeps the size: the case size-only tools miss."""
    write_media(path, path.stat().st_size, seed)


def append_line(path: Path, line: str) -> None:
    write_text(path, path.read_text(encoding="utf-8") + line + "\n")


B65 = "b65-guy-monroe-marketing-plan"


class WebhookInbox:
    """A Slack-style webhook receiver on loopback, so the demo shows the notification arrive."""

    def __init__(self) -> None:
        import http.server
        import json
        import threading

        inbox = self
        self.messages: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                inbox.messages.append(json.loads(body or b"{}").get("text", ""))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/slack-webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def show_new(self, seen: int) -> int:
        import re

        for text in self.messages[seen:]:
            text = re.sub(r"<[^|>]+\|([^>]+)>", r"\1 (link)", text)  # Slack's <url|name> links
            print("  [team chat] " + text.replace("\n", "\n  [team chat] "), flush=True)
        return len(self.messages)

    def close(self) -> None:
        self.server.shutdown()


def play(world: DemoWorld, run_vam: Runner, inbox: WebhookInbox | None = None) -> Path:
    """The story, step by step, each command run by `run_vam`. Returns the dashboard's path."""
    david, jan = world.david, world.jan
    seen = 0
    ad = ["--brand", "ad", "--project", "b65"]

    banner("1. David sets up the bucket (same code as on real AWS)")
    run_vam(david, ["aws.setup-bucket"])

    banner("2. David hands the raw cut of b65 to Jan")
    run_vam(david, ["s3.status", *ad])
    run_vam(david, ["handoff", *ad, "--message", "Raw cut. Trim the intro to 20 s, please."])
    if inbox:
        seen = inbox.show_new(seen)

    banner("3. Jan (another computer, another continent) receives it")
    run_vam(jan, ["receive", *ad])

    banner("4. Jan edits: same size, different content — size-only tools miss this")
    jan_b65 = jan.root / "v-appydave" / B65 / "s3-staging"
    edit_file(jan_b65 / "raw.mp4", "jan-edit-1")
    write_text(jan_b65 / "edit-notes.md", "Intro trimmed to 20 s. Colour pass on the b-roll.\n")
    run_vam(jan, ["s3.status", *ad])
    run_vam(jan, ["handoff", *ad, "--message", "Edit v1 done, see edit-notes.md"])
    if inbox:
        seen = inbox.show_new(seen)

    banner("5. David sees who changed what, and takes it")
    run_vam(david, ["s3.status", *ad])
    run_vam(david, ["receive", *ad])

    banner("6. Both change brief.md at once: a conflict, shown and never silently resolved")
    david_b65 = david.root / "v-appydave" / B65 / "s3-staging"
    append_line(david_b65 / "brief.md", "David: also cut the outro.")
    append_line(jan_b65 / "brief.md", "Jan: outro music swapped.")
    run_vam(jan, ["s3.up", *ad])
    run_vam(david, ["s3.up", *ad], expect=1)
    banner("7. David resolves it: takes Jan's version, his own is kept as a backup")
    run_vam(david, ["s3.down", *ad, "--force"])
    run_vam(david, ["s3.status", *ad])

    banner("8. Every project of the brand at a glance")
    run_vam(david, ["s3.status", "--all", "--brand", "ad"])

    banner("9. Manifest and dashboard of every brand")
    run_vam(david, ["manifest.generate", "--all"])
    dashboard = david.root / "video-projects-dashboard.html"
    run_vam(david, ["dashboard", "--no-refresh", "--output", str(dashboard)])

    banner("10. The project is done: clean up staging (only what exists elsewhere too)")
    run_vam(david, ["s3.cleanup", *ad, "--dry-run"])
    run_vam(david, ["s3.cleanup", *ad, "--yes"])

    banner("11. b65 is finished: to the SSD and off-site to S3 Deep Archive, both verified")
    run_vam(david, ["archive.cloud", *ad, "--dry-run"])
    run_vam(david, ["ssd.archive", *ad, "--cloud"])
    run_vam(david, ["archive.cloud", *ad])  # a second run sends nothing
    run_vam(david, ["archive.status", "--brand", "ad"])

    banner("12. The SSD is lost: one file back from the cloud archive, verified")
    restored = world.base / "restored" / B65
    final = f"final/{B65}-v1.mp4"
    run_vam(david, ["archive.restore", *ad, "--file", final, "--to", str(restored), "--yes"])

    banner("13. Every project's copies at a glance")
    run_vam(david, ["manifest.generate", "--all"])
    run_vam(david, ["dashboard", "--no-refresh", "--output", str(dashboard)])
    return dashboard


def run_demo(base: Path, *, run_vam: Runner, media_bytes: int = 2 * 1024 * 1024) -> Path:
    """Start the local S3 server, build both people's worlds, play the story; the dashboard path."""
    from vam.demo.localserver import local_s3, pointed_at

    if base.exists() and any(base.iterdir()):
        raise VamError(f"demo folder {base} is not empty; pick a new --root or delete it")
    base.mkdir(parents=True, exist_ok=True)
    with local_s3() as server, pointed_at(server.endpoint_url):
        inbox = WebhookInbox()
        try:
            print(
                f"local S3 server (moto) on {server.endpoint_url}; no AWS account needed",
                flush=True,
            )
            world = build_world(
                base, server.endpoint_url, media_bytes=media_bytes, webhook_url=inbox.url
            )
            print(f"David's projects root: {world.david.root}")
            print(f"Jan's projects root:   {world.jan.root}", flush=True)
            return play(world, run_vam, inbox)
        finally:
            inbox.close()
