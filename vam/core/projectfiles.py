"""What an archive of a project folder carries (the SSD's and the cloud's alike): every file the
walk finds, plus the versions vam kept in `.vam/backups/` (the team's work: what `s3.down
--force` and `ssd.sync --overwrite` replaced). The rest of `.vam/` is this computer's state and
is never archived.
"""

from __future__ import annotations

from pathlib import Path

from vam.core.files import FileRules, LocalFile, Skipped, walk
from vam.core.layout import BACKUPS, STATE_DIR

BACKUPS_REL = f"{STATE_DIR}/{BACKUPS}"  # `.vam/backups`, inside the project and its copies


def backup_files(folder: Path, rules: FileRules, skipped: list[Skipped]) -> list[LocalFile]:
    """The files under `folder/.vam/backups/`, named `.vam/backups/…` (the exclude list keeps
    `.vam` out of every walk; this is the one part of it that is the team's work)."""
    state, root = folder / STATE_DIR, folder / STATE_DIR / BACKUPS
    if state.is_symlink() or root.is_symlink():
        skipped.append(Skipped(BACKUPS_REL, "symlink: not followed"))
        return []
    inner: list[Skipped] = []
    found = [LocalFile(f"{BACKUPS_REL}/{f.rel}", f.path, f.stamp) for f in walk(root, rules, inner)]
    skipped += [Skipped(f"{BACKUPS_REL}/{s.rel}", s.reason, s.problem) for s in inner]
    return found


def project_files(folder: Path, rules: FileRules, skipped: list[Skipped]) -> list[LocalFile]:
    """What an archive of `folder` carries: its files and its backups."""
    return [*walk(folder, rules, skipped), *backup_files(folder, rules, skipped)]
