"""`vam watch` as a person runs it: the real console script in a subprocess, stopped by real
signals (SIGINT as Ctrl-C sends it, SIGTERM as a service manager or `kill` does), one watch per
project, and `--once` for cron with the exit code s3.up / s3.down would give."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest
from storykit import BUCKET, PREFIX
from watchkit import Watching, vam_watch, wait_until, write_slowly
from webhookkit import Webhook

from vam.demo.sample import write_media
from vam.s3sync.transfer import resumable_bytes

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------- stopping


def test_ctrl_c_during_a_download_leaves_no_partial_file_and_the_next_run_resumes(david, jan, s3c):
    david.up()
    jan.down()
    big = os.urandom(3 * 1024 * 1024)
    (jan.staging() / "interview.mov").write_bytes(big)
    assert jan.up().ok
    dest = david.staging() / "interview.mov"
    partial = dest.with_name("interview.mov.vam-part")
    watch = Watching(david, "--max-rate", "300KB/s", "--settle", "1s")
    try:
        watch.wait_for("watching appydave b65")
        records = david.state_dir() / "downloads"
        wait_until(
            lambda: any(resumable_bytes(r) >= 512 * 1024 for r in records.glob("*.json")),
            "half a megabyte on disk, checkpointed",
        )
        code = watch.stop(signal.SIGINT)
    finally:
        watch.kill()
    assert code == 130, watch.output
    assert "stopped (Ctrl-C)" in watch.output and "Traceback" not in watch.output
    assert not dest.exists()  # never a half file under its real name
    assert partial.exists() and list((david.state_dir() / "downloads").glob("*.json"))
    again = vam_watch(david, "--once", "--settle", "1s")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resumed at" in again.stdout and "downloaded 3.1 MB  interview.mov" in again.stdout
    assert dest.read_bytes() == big and not partial.exists()


def test_sigterm_during_a_multipart_upload_keeps_the_parts_and_the_next_run_resumes(david, s3c):
    david.up()
    render = david.staging() / "final-v1.mp4"
    data = os.urandom(40 * 1024 * 1024)  # above the single-PUT limit: a multipart upload
    render.write_bytes(data)
    watch = Watching(david, "--max-rate", "4MB/s", "--settle", "1s")

    def parts_on_s3() -> int:
        found = s3c.list_multipart_uploads(Bucket=BUCKET, Prefix=PREFIX).get("Uploads", [])
        return sum(
            len(
                s3c.list_parts(Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", [])
            )
            for u in found
        )

    try:
        watch.wait_for("watching appydave b65")
        wait_until(lambda: parts_on_s3() >= 1, "a part on S3")
        code = watch.stop(signal.SIGTERM)
    finally:
        watch.kill()
    assert code == 128 + signal.SIGTERM, watch.output
    assert "stopped (SIGTERM)" in watch.output and "Traceback" not in watch.output
    listed = s3c.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "final-v1.mp4").get("Contents")
    assert not listed  # nothing under the real key
    pending = s3c.list_multipart_uploads(Bucket=BUCKET, Prefix=PREFIX).get("Uploads", [])
    assert [u["Key"] for u in pending] == [PREFIX + "final-v1.mp4"]
    again = vam_watch(david, "--once", "--settle", "1s")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resumed at" in again.stdout, again.stdout
    versions = s3c.list_object_versions(Bucket=BUCKET, Prefix=PREFIX + "final-v1.mp4")
    assert [v["Size"] for v in versions["Versions"]] == [len(data)]
    body = s3c.get_object(Bucket=BUCKET, Key=PREFIX + "final-v1.mp4")["Body"].read()
    assert body == data


# --------------------------------------------------------------------------- one per project


def test_a_second_watch_refuses_and_a_dead_watchs_lock_is_taken_over(david, s3c):
    first = Watching(david, "--settle", "0.5s")
    try:
        first.wait_for("watching appydave b65")
        second = vam_watch(david, "--once", "--settle", "0.5s")
        assert second.returncode == 1
        assert "already being watched by vam watch" in second.stderr
        assert f"pid {first.proc.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        first.proc.send_signal(signal.SIGKILL)  # a crash: no cleanup at all
    finally:
        first.kill()
    third = vam_watch(david, "--once", "--settle", "0.5s")
    assert third.returncode == 0, third.stdout + third.stderr
    assert (
        f"took over the lock of an earlier watch that is no longer running (pid {first.proc.pid}"
        in third.stdout
    )


# --------------------------------------------------------------------------- --once


def test_once_runs_one_cycle_and_exits_with_the_code_s3_up_and_down_would_give(david, jan, s3c):
    first = vam_watch(david, "--once", "--settle", "0.5s")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "✓ uploaded" in first.stdout and "one cycle done" in first.stdout
    jan.down()
    (jan.staging() / "brief.md").write_text("Jan's brief.\n")
    assert jan.up().ok
    (david.staging() / "brief.md").write_text("David's brief, changed meanwhile.\n")
    (david.staging() / "notes.md").write_text("A new note.\n")
    dry = vam_watch(david, "--once", "--dry-run", "--settle", "0.5s")
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert "would upload" in dry.stdout and "notes.md" in dry.stdout
    assert "1 conflict(s) would be left untouched" in dry.stderr
    assert (
        not (david.state_dir() / "watch.lock").exists()
        or not (david.state_dir() / "watch.lock").read_text()
    )
    real = vam_watch(david, "--once", "--settle", "0.5s")
    assert real.returncode == 1
    assert "conflict: brief.md" in real.stdout and "✓ uploaded 12 B  notes.md" in real.stdout
    assert real.stderr.strip().endswith(
        "1 conflict(s) left untouched; run one of the two commands shown"
    )
    body = s3c.get_object(Bucket=BUCKET, Key=PREFIX + "brief.md")["Body"].read()
    assert body == b"Jan's brief.\n"
    assert (david.staging() / "brief.md").read_text() == "David's brief, changed meanwhile.\n"


def test_once_with_json_prints_one_json_object_per_line_and_the_result_last(david, s3c):
    write_media(david.staging() / "take-2.mov", 70 * 1024, seed="take 2")
    run = vam_watch(david, "--once", "--json", "--settle", "0.5s")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    events = [line["event"] for line in lines[:-1]]
    assert events[0] == "started" and "uploaded" in events
    uploaded = [line for line in lines if line.get("event") == "uploaded"]
    assert {line["file"] for line in uploaded} >= {"take-2.mov"}
    assert all(line["project"] == "b65-guy-monroe-marketing-plan" for line in uploaded)
    last = lines[-1]
    assert last["command"] == "watch" and last["ok"] is True and last["exit_code"] == 0
    assert last["projects"][0]["runs"][0]["command"] == "s3.up"


def test_bad_flags_get_one_line_and_exit_2(david, s3c):
    run = vam_watch(david, "--interval", "soon")
    assert run.returncode == 2 and "--interval: cannot read 'soon' as a duration" in run.stderr
    run = vam_watch(david, "--dry-run")
    assert run.returncode == 2 and "use it with --once" in run.stderr
    assert "Traceback" not in run.stderr


def test_once_leaves_a_file_still_being_written_for_the_next_run(david, s3c):
    """From cron, a render still growing after the settle wait is not sent: exit 1, named, and
    the next run (once it is finished) sends it whole."""
    david.up()
    render = david.staging() / "final-v2.mp4"
    writing = threading.Thread(
        target=write_slowly, args=(render,), kwargs={"chunks": 16, "size": 32 * 1024, "pause": 0.4}
    )
    writing.start()
    try:
        wait_until(render.exists, "the render to start")
        run = vam_watch(david, "--once", "--settle", "1s")
    finally:
        writing.join()
    assert run.returncode == 1, run.stdout + run.stderr
    assert "… final-v2.mp4: new or changed" in run.stdout
    assert "1 file(s) still being written, left for the next run" in run.stderr
    assert not s3c.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "final-v2.mp4").get("Contents")
    after = vam_watch(david, "--once", "--settle", "1s")
    assert after.returncode == 0, after.stdout + after.stderr
    versions = s3c.list_object_versions(Bucket=BUCKET, Prefix=PREFIX + "final-v2.mp4")["Versions"]
    assert [v["Size"] for v in versions] == [16 * 32 * 1024]


def test_once_from_cron_tells_the_webhook_of_a_conflict_once_per_change(david, jan, sample, s3c):
    """Every five minutes from cron: the conflict is in every run's output, but the team's chat
    hears of it once, and again only when one side changes again."""
    hook = Webhook()
    try:
        sample.write_settings("david", webhook_url=hook.url)
        david.up()
        jan.down()
        (jan.staging() / "brief.md").write_text("Jan's brief.\n")
        assert jan.up().ok
        (david.staging() / "brief.md").write_text("David's brief.\n")
        runs = [vam_watch(david, "--once", "--settle", "0.5s") for _ in range(3)]
        assert [r.returncode for r in runs] == [1, 1, 1]
        assert all("conflict: brief.md" in r.stdout for r in runs)
        assert len(hook.posts) == 1 and "brief.md" in hook.posts[0]["text"]
        (david.staging() / "brief.md").write_text("David's brief, second thoughts.\n")
        assert vam_watch(david, "--once", "--settle", "0.5s").returncode == 1
        assert len(hook.posts) == 2
        dry = vam_watch(david, "--once", "--dry-run", "--settle", "0.5s")
        assert dry.returncode == 1 and len(hook.posts) == 2  # a dry run tells nobody
    finally:
        hook.close()
