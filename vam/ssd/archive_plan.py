"""What archiving a project to the SSD would do (SPEC §7), read before anything is copied: each
file's step (copy, already present with the same size and CRC32, or a different copy on the SSD
that stops everything), the range folder it goes to, the space it needs, and the plan as
`--dry-run` prints it. Also which projects `--next N` picks, and the hooks a run can be watched at.

Reads SSD files only where a copy already exists; changes nothing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from vam.core.checksum import file_crc32
from vam.core.config import Config
from vam.core.errors import SafetyError
from vam.core.files import LocalFile, Skipped, tree_stats, walk
from vam.core.layout import ARCHIVED, BACKUPS, STATE_DIR
from vam.core.projectfiles import BACKUPS_REL, backup_files, project_files
from vam.core.projects import Project, list_active, projects_dir
from vam.core.ranges import id_key, range_for, range_names
from vam.core.units import format_size
from vam.ssd.layout import ssd_projects
from vam.ssd.lightsync import require_ssd

DEFAULT_RESERVE = 512 * 1024 * 1024  # keep this much free on the SSD after the copy


@dataclass(frozen=True)
class FileStep:
    rel: str
    src: Path
    dst: Path
    size: int
    mtime_ns: int
    action: str  # copy | present (same size and checksum already on the SSD) | differs
    detail: str = ""
    crc: int | None = None  # source CRC32 when already computed (present / differs)

    @classmethod
    def of(
        cls, file: LocalFile, dst: Path, action: str, detail: str = "", crc: int | None = None
    ) -> FileStep:
        """The step for one local file and its place on the SSD."""
        return cls(file.rel, file.path, dst, file.size, file.mtime_ns, action, detail, crc)

    @property
    def is_backup(self) -> bool:
        return self.rel.startswith(BACKUPS_REL + "/")


@dataclass(frozen=True)
class ArchivePlan:
    project: Project
    range: str | None
    ssd_dir: Path
    archived_dir: Path
    steps: tuple[FileStep, ...]
    free_bytes: int
    reserve: int
    skipped: tuple[Skipped, ...] = ()
    extra_on_ssd: tuple[str, ...] = ()  # files on the SSD copy that the local project lacks
    local_state: tuple[str, ...] = ()  # vam's own state files here (not archived)

    @property
    def to_copy(self) -> tuple[FileStep, ...]:
        return tuple(s for s in self.steps if s.action == "copy")

    @property
    def differs(self) -> tuple[FileStep, ...]:
        return tuple(s for s in self.steps if s.action == "differs")

    @property
    def backups(self) -> tuple[FileStep, ...]:
        return tuple(s for s in self.steps if s.is_backup)

    @property
    def copy_bytes(self) -> int:
        return sum(s.size for s in self.to_copy)

    @property
    def total_bytes(self) -> int:
        return sum(s.size for s in self.steps)

    @property
    def fits(self) -> bool:
        return self.free_bytes >= self.copy_bytes + self.reserve


def choose_range(project_id: str, ssd_ranges: list[str], local_ranges: list[str]) -> str | None:
    """An existing SSD range folder that covers the id, else a local archived/ one, else a new
    name; the local archived folder then uses the same name as the SSD."""
    if id_key(project_id) is None:
        return None
    on_ssd = range_for(project_id, ssd_ranges)
    if on_ssd in ssd_ranges:
        return on_ssd
    return range_for(project_id, local_ranges)


def _state_files(folder: Path) -> list[str]:
    """vam's own state in `folder/.vam/` (all of it but the backups), as relative paths."""
    state = folder / STATE_DIR
    if not state.is_dir() or state.is_symlink():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(state):
        here = Path(dirpath)
        if here == state:
            dirnames[:] = [d for d in dirnames if d != BACKUPS]
        out += [(here / n).relative_to(folder).as_posix() for n in filenames]
    return sorted(out)


def plan_archive(
    config: Config, root: Path, project: Project, *, reserve: int = DEFAULT_RESERVE
) -> ArchivePlan:
    """What archiving `project` would do; reads SSD files only where a copy already exists."""
    if project.structure != "flat":
        raise SafetyError(f"{project.id} is already archived ({project.path}); nothing to archive")
    brand = project.brand
    ssd = require_ssd(config, root, brand)
    rules = config.team.files
    local_archived = projects_dir(root, brand) / ARCHIVED
    existing = ssd_projects(ssd).get(project.id)
    if existing is not None:
        rng, ssd_dir = existing
    else:
        rng = choose_range(project.id, range_names(ssd), range_names(local_archived))
        ssd_dir = ssd / rng / project.id if rng else ssd / project.id
    archived_dir = local_archived / rng / project.id if rng else local_archived / project.id

    skipped: list[Skipped] = []
    files = project_files(project.path, rules, skipped)
    if not files and existing is None:
        raise SafetyError(f"{project.id} has no files to archive ({project.path})")
    # (no files but an SSD copy: an earlier archive stopped after its deletes; this one finishes)
    steps = []
    for f in files:
        dst = ssd_dir.joinpath(*f.rel.split("/"))
        try:
            dst_size = dst.stat().st_size
        except FileNotFoundError:
            steps.append(FileStep.of(f, dst, "copy"))
            continue
        if dst_size != f.size:
            detail = f"size here {f.size}, on the SSD {dst_size}"
            steps.append(FileStep.of(f, dst, "differs", detail))
            continue
        src_crc, dst_crc = file_crc32(f.path), file_crc32(dst)
        if src_crc == dst_crc:
            steps.append(FileStep.of(f, dst, "present", crc=src_crc))
        else:
            detail = f"same size, checksum here {src_crc:08x}, on the SSD {dst_crc:08x}"
            steps.append(FileStep.of(f, dst, "differs", detail, crc=src_crc))
    extra: list[str] = []
    if ssd_dir.is_dir():
        local_rels = {f.rel for f in files}
        on_ssd = [*walk(ssd_dir, rules), *backup_files(ssd_dir, rules, [])]
        extra = [f.rel for f in on_ssd if f.rel not in local_rels]
    probe = ssd_dir
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    return ArchivePlan(
        project=project,
        range=rng,
        ssd_dir=ssd_dir,
        archived_dir=archived_dir,
        steps=tuple(steps),
        free_bytes=free,
        reserve=reserve,
        skipped=tuple(skipped),
        extra_on_ssd=tuple(extra),
        local_state=tuple(_state_files(project.path)),
    )


def pick_oldest(root: Path, config: Config, brand, n: int) -> list[Project]:
    """The n active projects whose newest file is oldest (ties by id); invalid ids are skipped."""
    if n < 1:  # a negative slice would pick all but the newest
        return []
    rules = config.team.files
    scored = []
    for p in list_active(root, brand):
        if not brand.is_valid_id(p.id):
            continue
        newest = tree_stats(p.path, rules).newest_mtime or 0.0
        scored.append((newest, p.id, p))
    return [p for _t, _id, p in sorted(scored, key=lambda x: (x[0], x[1]))[:n]]


def plan_lines(plan: ArchivePlan) -> list[str]:
    """The exact plan, as printed by --dry-run and before a real run."""
    p = plan.project
    lines = [
        f"archive {p.brand.key}/{p.id}: {len(plan.steps)} files, {format_size(plan.total_bytes)}",
        f"  SSD copy:      {plan.ssd_dir}",
        f"  light files:   {plan.archived_dir}",
        f"  to copy:       {len(plan.to_copy)} files, {format_size(plan.copy_bytes)} "
        f"(SSD free {format_size(plan.free_bytes)}, keeping {format_size(plan.reserve)} spare)",
    ]
    if plan.backups:
        lines.append(
            f"  backups:       {len(plan.backups)} file(s), "
            f"{format_size(sum(s.size for s in plan.backups))} that s3.down --force / ssd.sync "
            f"--overwrite kept: to {plan.ssd_dir / STATE_DIR / BACKUPS}, verified; they stay on "
            "the SSD when the light files come back"
        )
    if plan.local_state:
        lines.append(
            f"  not archived:  {len(plan.local_state)} file(s) of vam's state in {STATE_DIR}/ "
            "(sync records, checksum cache, resume records: this computer's), removed with the "
            "project"
        )
    if not plan.steps:
        lines.append(
            "  nothing left here but vam's state: an earlier archive stopped after its deletes; "
            "this run brings the light files back and removes the folder"
        )
    present = len(plan.steps) - len(plan.to_copy) - len(plan.differs)
    if present:
        lines.append(f"  already on the SSD and identical: {present} files")
    for s in plan.steps:
        detail = f": {s.detail}" if s.detail else ""
        lines.append(f"    {s.action:<8} {s.rel} ({format_size(s.size)}){detail}")
    for rel in plan.extra_on_ssd:
        lines.append(f"    ssd-only {rel} (kept on the SSD)")
    for sk in plan.skipped:
        lines.append(f"    skipped  {sk.rel}: {sk.reason}")
    return lines


class Hooks:
    """Points where a test (or a progress bar) can watch an archive run."""

    def on_bytes(self, n: int) -> None:  # progress while copying
        pass

    def before_verify(self, plan: ArchivePlan) -> None:
        pass

    def before_unlink(self, step: FileStep) -> None:  # right before a local file is re-hashed
        pass
