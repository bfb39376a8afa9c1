"""Check that brand repos keep video, staging and settings files out of git."""

from __future__ import annotations

from invoke import Exit

from vam.core.config import load_config
from vam.core.projects import brand_repo, projects_root, select_brands
from vam.repo.check import check_repo, fix_gitignore
from vam.tasks.base import JSON_HELP, result, say, vam_task


@vam_task(
    help={
        "brand": "brand (key, shortcut or repo name); default: from the current folder, else all",
        "fix": "append the missing rules to .gitignore (never removes a line)",
        "dry_run": "with --fix: print the lines that would be appended, write nothing",
        "json": JSON_HELP,
    }
)
def check(c, brand=None, fix=False, dry_run=False, json_=False):
    """.gitignore covers video, s3-staging/, projects.json, .vam/, settings; no video in git."""
    config = load_config()
    root = projects_root(config)
    brands = select_brands(config, brand)
    problems = 0
    rules = config.team.files
    done: list[dict] = []
    result(fix=fix, dry_run=dry_run, brands=done, problems=0)
    for b in brands:
        repo = brand_repo(root, b)
        report = check_repo(repo, rules)
        entry: dict = {
            "brand": b.key,
            "repo": str(repo),
            "git": report.is_git,
            "missing": [r.pattern for r in report.missing],
            "appended": [],
            "tracked_heavy": [
                {"path": t.path, "staged_only": t.staged_only} for t in report.tracked_heavy
            ],
        }
        done.append(entry)
        if not report.is_git:
            say(f"{b.key}: {repo} is not a git repository (run `git init` there); not checked")
            problems += 1
            continue
        missing = list(report.missing)
        if missing and fix:
            if dry_run:
                say(
                    f"{b.key}: would append {len(missing)} rule(s) to {repo / '.gitignore'}: "
                    + " ".join(r.pattern for r in missing)
                )
            else:
                fix_gitignore(repo, missing)
                entry["appended"] = [r.pattern for r in missing]
                after = check_repo(repo, rules)  # re-check: the rules must now take effect
                still = {r.pattern for r in after.missing}
                say(
                    f"{b.key}: appended {len(missing)} rule(s) to {repo / '.gitignore'}: "
                    + " ".join(r.pattern for r in missing)
                )
                missing = list(after.missing)
                entry["missing"] = [r.pattern for r in missing]
                if still:
                    say(
                        f"{b.key}: still not ignored after the fix: {', '.join(sorted(still))} "
                        "(a negation rule `!…` in .gitignore may override them)"
                    )
        if not missing and not report.tracked_heavy:
            say(f"{b.key}: ok ({repo})")
            continue
        if missing and not (fix and dry_run):
            hint = "" if fix else f" (fix with `vam repo.check --brand {b.key} --fix`)"
            say(
                f"{b.key}: .gitignore in {repo} does not cover: "
                + ", ".join(r.pattern for r in missing)
                + hint
            )
            problems += 1
        elif missing:
            problems += 1
        for t in report.tracked_heavy:
            what = "staged (not committed yet)" if t.staged_only else "tracked in git"
            say(f"{b.key}: heavy file {what}: {t.path}")
            say(f"    untrack it (the file stays on disk): {t.command(repo)}")
            problems += 1
    result(problems=problems)
    if problems:
        raise Exit(f"vam: repo.check found {problems} problem(s)", code=1)
