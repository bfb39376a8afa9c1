"""Exit codes and --json that tell the truth (issue 13 item 5), through the real `vam` entry point
(`python -m vam`) against moto's server, as a script or a person at a shell sees them.

The promise: with --json, stdout is one JSON object and nothing else, whatever happens; its `ok`
is false exactly when the exit code is not 0; what the run left undone is in `unsettled`.
"""

from __future__ import annotations

import json

import boto3
import pytest

from vam.demo.story import B65, append_line, build_world
from vam.tasks.inprocess import run_vam

pytestmark = pytest.mark.integration

BUCKET = "video-projects"
AD = ["--brand", "ad", "--project", "b65"]
PREFIX = f"staging/v-appydave/{B65}/"


@pytest.fixture
def world(tmp_path, s3):
    w = build_world(tmp_path / "demo", s3.endpoint_url, media_bytes=16 * 1024, webhook_url=None)
    run_vam(w.david, ["aws.setup-bucket"])
    return w


def as_person(person) -> dict:
    return {"VAM_SETTINGS": str(person.settings)}


def staging(person):
    return person.root / "v-appydave" / B65 / "s3-staging"


def document(result) -> dict:
    """stdout must be exactly one JSON object (json.loads fails on anything before or after)."""
    assert "Traceback" not in result.stderr, result.stderr
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict), doc
    assert doc["ok"] is (result.returncode == 0), doc
    assert doc["exit_code"] == result.returncode, doc
    return doc


def both_edit_brief(world) -> None:
    """David hands b65 to Jan, Jan receives; then both change brief.md and Jan uploads first."""
    run_vam(world.david, ["handoff", *AD])
    run_vam(world.jan, ["receive", *AD])
    append_line(staging(world.david) / "brief.md", "David: also cut the outro.")
    append_line(staging(world.jan) / "brief.md", "Jan: outro music swapped.")
    run_vam(world.jan, ["s3.up", *AD])


def test_up_json_on_a_conflict_is_not_ok_and_lists_the_conflict_as_unsettled(vam_cli, world):
    """Before: `"ok": true, "unsettled": []` on stdout, exit code 1."""
    both_edit_brief(world)
    result = vam_cli("s3.up", *AD, "--json", env=as_person(world.david))
    assert result.returncode == 1
    doc = document(result)
    assert doc["command"] == "s3.up" and doc["ok"] is False
    assert [u for u in doc["unsettled"] if u.startswith("brief.md: conflict")], doc["unsettled"]
    assert "conflict" in doc["error"]
    # the text run says the same with the same exit code
    text = vam_cli("s3.up", *AD, env=as_person(world.david))
    assert text.returncode == 1 and "conflict(s) left untouched" in text.stderr


def test_a_dry_run_exits_as_the_real_run_would_on_a_conflict(vam_cli, world):
    both_edit_brief(world)
    dry = vam_cli("s3.up", *AD, "--dry-run", "--json", env=as_person(world.david))
    assert dry.returncode == 1
    doc = document(dry)
    assert doc["dry_run"] is True and doc["unsettled"] and doc["results"] == []
    # handoff's real run stops before the note on a conflict: so does its dry run
    dry = vam_cli("handoff", *AD, "--dry-run", env=as_person(world.david))
    assert dry.returncode == 1 and "would stop before the note" in dry.stderr
    assert "no note left for jan" in dry.stdout


def test_receive_exits_non_zero_when_a_conflict_is_left(vam_cli, world, s3):
    """Before: receive printed the conflict and exited 0, so `vam receive && edit` went on."""
    both_edit_brief(world)
    result = vam_cli("receive", *AD, env=as_person(world.david))
    assert result.returncode == 1, result.stdout
    assert "conflict" in result.stderr and "brief.md" in result.stdout
    doc = document(vam_cli("receive", *AD, "--json", env=as_person(world.david)))
    assert doc["command"] == "receive" and doc["ok"] is False
    assert [u for u in doc["download"]["unsettled"] if u.startswith("brief.md")]
    assert doc["status"]["counts"] == {"synced": 2, "conflict": 1}
    # nothing was overwritten on either side
    body = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=BUCKET, Key=PREFIX + "brief.md"
    )["Body"]
    assert body.read().decode().endswith("Jan: outro music swapped.\n")
    assert (staging(world.david) / "brief.md").read_text().endswith("also cut the outro.\n")


@pytest.mark.parametrize(
    "argv, code, says",
    [
        (["s3.up", "--brand", "ad", "--project", "b99"], 1, "no project 'b99' in brand appydave"),
        (["s3.up", "--brand", "ad", "--project", "b65", "--all"], 2, "not both"),
        (["s3.cleanup", *AD], 2, "add --yes"),  # no terminal to ask on
        (["s3.status", "--brand", "apydave", "--project", "b65"], 1, "did you mean appydave"),
        (["doctor", "--brand", "apydave", "--offline"], 1, "unknown brand"),
        (["ssd.status", "--brand", "apydave"], 1, "unknown brand"),
        (["manifest.generate", "--brand", "apydave"], 1, "unknown brand"),
        (["s3.up", "--bogus"], 2, "s3.up has no option --bogus"),  # before any task runs
    ],
)
def test_a_fatal_error_with_json_still_puts_one_json_object_on_stdout(
    vam_cli, world, argv, code, says
):
    """Before: stdout was empty; only the `vam: …` line on stderr."""
    run_vam(world.david, ["s3.up", *AD])  # something to clean up
    result = vam_cli(*argv, "--json", env=as_person(world.david))
    assert result.returncode == code, result.stderr
    doc = document(result)
    assert doc["command"] == argv[0] and doc["ok"] is False and says in doc["error"]
    # stderr keeps the one line a person reads
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0] == f"vam: {doc['error']}"


def test_an_aws_failure_with_json_is_a_json_error(vam_cli, sample, s3):
    """No bucket yet: the AWS error explained, in the JSON object as on stderr."""
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}
    result = vam_cli("s3.status", *AD, "--json", env=env)
    assert result.returncode == 1
    doc = document(result)
    assert doc["command"] == "s3.status" and "vam aws.setup-bucket" in doc["error"]


def test_cleanup_dry_run_exits_with_the_code_the_real_run_would(vam_cli, world):
    """Before: the dry run exited 0 while the real run, keeping a file, exited 1."""
    run_vam(world.david, ["handoff", *AD])
    run_vam(world.jan, ["receive", *AD])
    (staging(world.jan) / "jan-cut.mp4").write_bytes(b"only jan has this" * 100)
    run_vam(world.jan, ["s3.up", *AD])
    dry = vam_cli("s3.cleanup", *AD, "--dry-run", env=as_person(world.david))
    assert dry.returncode == 1, dry.stdout
    assert "jan-cut.mp4" in dry.stdout and "dry run: nothing deleted" in dry.stdout
    doc = document(vam_cli("s3.cleanup", *AD, "--dry-run", "--json", env=as_person(world.david)))
    assert doc["dry_run"] is True
    assert [k["file"] for k in doc["kept"]] == ["jan-cut.mp4"]
    assert "jan-cut.mp4" not in [d["file"] for d in doc["to_delete"]]
    real = vam_cli("s3.cleanup", *AD, "--yes", env=as_person(world.david))
    assert real.returncode == dry.returncode
    # and when nothing would be kept, both exit 0
    forced = vam_cli("s3.cleanup", *AD, "--dry-run", "--force", env=as_person(world.david))
    assert forced.returncode == 0, forced.stdout + forced.stderr


def test_every_task_that_moves_deletes_or_checks_answers_in_json(vam_cli, world):
    """Each one: stdout is one JSON object naming the task, `ok` agreeing with the exit code."""
    david = as_person(world.david)
    handoff = document(vam_cli("handoff", *AD, "--message", "raw cut", "--json", env=david))
    assert handoff["ok"] and handoff["note"]["from_user"] == "david"
    assert handoff["upload"]["after"] == {"synced": 3}
    assert handoff["receive_command"].startswith("vam receive --brand appydave")
    got = document(vam_cli("receive", *AD, "--json", env=as_person(world.jan)))
    assert got["ok"] and got["handoff"]["message"] == "raw cut"
    assert sorted(r["file"] for r in got["download"]["results"]) == sorted(
        f["rel"] for f in handoff["note"]["files"]
    )
    runs = {
        "s3.uploads": ["s3.uploads", "--brand", "ad"],
        "s3.cleanup": ["s3.cleanup", *AD, "--dry-run"],
        "s3.status": ["s3.status", "--brand", "ad", "--all"],
        "doctor": ["doctor", "--brand", "ad"],
        "aws.check": ["aws.check", "--brand", "ad"],
        "aws.setup-bucket": ["aws.setup-bucket", "--dry-run"],
        "manifest.generate": ["manifest.generate", "--brand", "ad"],
        "ssd.status": ["ssd.status", "--brand", "ad"],
        "ssd.sync": ["ssd.sync", "--brand", "ad", "--dry-run"],
        "ssd.archive": ["ssd.archive", "--brand", "ad", "--project", "b64", "--dry-run"],
        "repo.check": ["repo.check", "--brand", "ad"],
    }
    for name, argv in runs.items():
        result = vam_cli(*argv, "--json", env=david)
        doc = document(result)
        assert doc["command"] == name, (name, doc)
        assert len(doc) > 4, (name, doc)  # more than the envelope: the task's own facts
    checks = document(vam_cli("doctor", "--brand", "ad", "--json", env=david))["checks"]
    assert checks and all(set(c) >= {"ok", "label", "detail", "fix"} for c in checks)
    everything = document(vam_cli("s3.status", "--brand", "ad", "--all", "--json", env=david))
    assert {p["project"] for p in everything["projects"]} >= {B65}


def test_json_is_offered_by_every_task_that_moves_deletes_or_checks():
    from vam.tasks import ns

    wanted = set(
        """
        handoff receive doctor s3.up s3.down s3.status s3.share s3.cleanup s3.uploads
        aws.check aws.setup-bucket aws.setup-policy aws.setup-user aws.rotate-key aws.import-key
        manifest.generate ssd.archive ssd.sync ssd.status repo.check
        archive.cloud archive.status archive.restore
        """.split()
    )
    missing = sorted(
        name for name in wanted if not any("json" in a.names for a in ns[name].get_arguments())
    )
    assert missing == []


def test_with_json_a_question_goes_to_stderr_and_stdout_keeps_only_the_document(
    monkeypatch, capsys
):
    from vam.core.errors import UsageError
    from vam.tasks import base

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda *prompt: "y" if not prompt else "prompt on stdout")
    run = base.Run("s3.cleanup", as_json=True)
    token = base._RUN.set(run)
    try:
        assert base.confirmed("delete these 2 file(s)?", False, UsageError("add --yes"))
        base.say("a line for people")
    finally:
        base._RUN.reset(token)
    run.finish(0, None)
    out = capsys.readouterr()
    assert "delete these 2 file(s)? [y/N]" in out.err
    assert json.loads(out.out) == {
        "command": "s3.cleanup",
        "ok": True,
        "exit_code": 0,
        "error": None,
    }
