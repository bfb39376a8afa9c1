"""Brand repo hygiene (SPEC §7): the .gitignore keeps video, staging, manifests, vam's state and
settings files out of git, and no heavy file is tracked or staged.

Coverage is asked of git itself (`git check-ignore --no-index` on probe paths), so any way of
writing the rules counts (`*.mp4`, `**/*.mp4`, `*.[mM][pP]4`, …). `--fix` only appends rules.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vam.catalog.manifest import MANIFEST_NAME
from vam.core.atomicfile import write_text_atomic
from vam.core.files import FileRules, Kind, classify
from vam.core.layout import LEGACY_ENV_FILE, STAGING, STATE_DIR

FIX_HEADER = "# added by `vam repo.check --fix`: keep video, staging and vam state out of git"


@dataclass(frozen=True)
class Rule:
    pattern: str  # the line --fix appends
    probe: str  # a path that this rule must ignore
    why: str


@dataclass(frozen=True)
class TrackedHeavy:
    path: str  # relative to the repo, POSIX
    staged_only: bool  # in the index but not in HEAD (added, not committed yet)

    def command(self, repo: Path) -> str:
        return f"git -C {shlex.quote(str(repo))} rm --cached -- {shlex.quote(self.path)}"


@dataclass(frozen=True)
class RepoReport:
    repo: Path
    is_git: bool
    missing: tuple[Rule, ...] = ()
    tracked_heavy: tuple[TrackedHeavy, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.is_git and self.error is None and not self.missing and not self.tracked_heavy


def required_rules(rules: FileRules) -> list[Rule]:
    """What every brand repo's .gitignore must cover. Cameras write upper-case extensions (.MOV)."""
    out: list[Rule] = []
    for ext in rules.heavy_extensions:
        for variant in dict.fromkeys((ext.lower(), ext.upper())):
            out.append(Rule(f"*.{variant}", f"p/clip.{variant}", f"video files (.{variant})"))
    out += [
        Rule(f"{STAGING}/", f"p/{STAGING}/notes.md", "S3 staging folders"),
        Rule(MANIFEST_NAME, MANIFEST_NAME, "the generated manifest"),
        Rule(f"{STATE_DIR}/", f"p/{STATE_DIR}/sync.json", "vam's own state"),
        Rule(LEGACY_ENV_FILE, LEGACY_ENV_FILE, "legacy settings file"),
        Rule("*.vam-part", "p/raw.mp4.vam-part", "downloads in flight"),
    ]
    return out


def _git(repo: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
    )


def is_git_repo(repo: Path) -> bool:
    if not repo.is_dir():
        return False
    res = _git(repo, "rev-parse", "--show-toplevel")
    if res.returncode != 0:
        return False
    # a brand repo nested in some other git repo is not a git repo of its own
    return Path(res.stdout.strip()).resolve() == repo.resolve()


def missing_rules(repo: Path, rules: FileRules) -> list[Rule]:
    wanted = required_rules(rules)
    res = _git(
        repo,
        "check-ignore",
        "--no-index",
        "--stdin",
        stdin="\n".join(r.probe for r in wanted) + "\n",
    )
    if res.returncode not in (0, 1):  # 1 = nothing ignored
        raise OSError(f"git check-ignore failed in {repo}: {res.stderr.strip()}")
    ignored = set(res.stdout.splitlines())
    return [r for r in wanted if r.probe not in ignored]


def tracked_heavy(repo: Path, rules: FileRules) -> list[TrackedHeavy]:
    index = _git(repo, "ls-files", "-z", "--cached").stdout.split("\0")
    head_res = _git(repo, "ls-tree", "-r", "-z", "--name-only", "HEAD")
    in_head = set(head_res.stdout.split("\0")) if head_res.returncode == 0 else set()
    out = []
    for rel in filter(None, index):
        try:
            size = (repo / rel).stat().st_size
        except OSError:
            size = 0
        if classify(rel, size, rules) is Kind.HEAVY:
            out.append(TrackedHeavy(rel, rel not in in_head))
    return out


def check_repo(repo: Path, rules: FileRules) -> RepoReport:
    if not is_git_repo(repo):
        return RepoReport(repo, False)
    return RepoReport(
        repo, True, tuple(missing_rules(repo, rules)), tuple(tracked_heavy(repo, rules))
    )


def fix_gitignore(repo: Path, missing: list[Rule] | tuple[Rule, ...]) -> list[str]:
    """Append the missing rules (never removes or reorders a line); returns the lines added."""
    if not missing:
        return []
    path = repo / ".gitignore"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    lines = [r.pattern for r in missing]
    addition = ("" if not text or text.endswith("\n") else "\n") + ("\n" if text else "")
    addition += FIX_HEADER + "\n" + "\n".join(lines) + "\n"
    write_text_atomic(path, text + addition, newline="")  # keeps the file's own line endings
    return lines
