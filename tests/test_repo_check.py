"""repo.check on a real git repository with a tracked .mp4."""

from __future__ import annotations

import subprocess

import pytest

from tests.test_cli import one_line_error
from vam.core.files import FileRules
from vam.repo.check import check_repo, fix_gitignore


def git(repo, *args):
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )


@pytest.fixture
def repo(sample):
    repo = sample.root / "v-appydave"
    git(repo, "init", "-q")
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "user.email", "test@example.com")
    b65 = "b65-guy-monroe-marketing-plan"
    git(repo, "add", "-f", f"{b65}/final/{b65}-v1.mp4", f"{b65}/notes.md", ".gitignore")
    git(repo, "commit", "-qm", "oops: a video in git")
    git(repo, "add", "-f", "b66-context-engineering/recordings/deep/screen.mkv")  # staged only
    return repo


def test_missing_rules_and_tracked_heavy_files(repo):
    report = check_repo(repo, FileRules())
    missing = {r.pattern for r in report.missing}
    assert {"*.mp4", "*.MOV", "s3-staging/", ".vam/", ".video-tools.env"} <= missing
    assert "projects.json" not in missing  # the sample's .gitignore has it
    tracked = {t.path: t.staged_only for t in report.tracked_heavy}
    assert tracked == {
        "b65-guy-monroe-marketing-plan/final/b65-guy-monroe-marketing-plan-v1.mp4": False,
        "b66-context-engineering/recordings/deep/screen.mkv": True,
    }
    # the printed command really untracks the file and keeps it on disk
    t = report.tracked_heavy[0]
    subprocess.run(t.command(repo), shell=True, check=True, capture_output=True)
    assert (repo / t.path).is_file()
    assert t.path not in {x.path for x in check_repo(repo, FileRules()).tracked_heavy}


def test_fix_appends_and_never_removes(repo):
    (repo / ".gitignore").write_text("projects.json\n# team rules\n*.tmp")  # no final newline
    before = (repo / ".gitignore").read_text()
    added = fix_gitignore(repo, check_repo(repo, FileRules()).missing)
    text = (repo / ".gitignore").read_text()
    assert text.startswith(before + "\n") and "*.mp4\n" in text and added
    assert check_repo(repo, FileRules()).missing == ()
    assert fix_gitignore(repo, ()) == []


def test_other_ways_of_writing_rules_count(repo):
    (repo / ".gitignore").write_text("projects.json\n**/*.[mM][pP]4\n**/s3-staging/**\n.vam\n")
    missing = {r.pattern for r in check_repo(repo, FileRules()).missing}
    assert not missing & {"*.mp4", "*.MP4", "s3-staging/", ".vam/"}


def test_cli_check_fix_and_not_a_repo(repo, sample, vam_cli):
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}
    result = vam_cli("repo.check", "--brand", "ad", env=env)
    assert result.returncode == 1
    assert "does not cover: *.mp4" in result.stdout
    assert "git -C" in result.stdout and "rm --cached --" in result.stdout
    dry = vam_cli("repo.check", "--brand", "ad", "--fix", "--dry-run", env=env)
    assert "would append" in dry.stdout and "*.mp4" not in (repo / ".gitignore").read_text()
    fixed = vam_cli("repo.check", "--brand", "ad", "--fix", env=env)
    assert "appended" in fixed.stdout and "*.mp4" in (repo / ".gitignore").read_text()
    assert fixed.returncode == 1  # the tracked video is still there
    git(repo, "rm", "-q", "--cached", "-r", ".")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "untrack videos")
    assert vam_cli("repo.check", "--brand", "ad", env=env).returncode == 0
    # from inside the repo, no --brand: this brand only (another brand's problems stay out)
    here = vam_cli("repo.check", cwd=repo, env=env)
    assert here.returncode == 0, here.stdout + here.stderr
    one_line_error(vam_cli("repo.check", "--brand", "voz", env=env), "found 1 problem")
    assert (
        "v-voz is not a git repository" in vam_cli("repo.check", "--brand", "voz", env=env).stdout
    )
