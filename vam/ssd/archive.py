"""Archiving a finished project to the SSD (SPEC §7): plan -> copy -> verify -> remove -> light
files back under `archived/{range}/{id}/`. This module runs a plan (vam.ssd.archive_plan): it
copies, verifies the SSD copy, and hands the local project to vam.ssd.archive_removal.

Nothing local is deleted unless every file of the project is on the SSD with the same size and
CRC32, re-read from the SSD after the copy (uncached, so what is read is what reached the disk)
and flushed to the disk itself, folders included. Right before each local file goes it is
re-hashed: a file edited since its copy (even in place with its mtime restored) is kept, and the
SSD's older copy of it moved aside into the SSD's `.vam/backups/`, so it is never taken for the
archive of what the file holds now.

The project's `.vam/backups/` (the versions `s3.down --force` and `ssd.sync --overwrite` kept) is
archived with the project files, at the same path inside the SSD copy; it stays there when the
light files come back. The rest of `.vam/` (sync records, checksum cache, transfer resume
records) is this computer's knowledge of files in this folder: it is not archived, and goes with
the project's files (left behind, it would keep an empty project "active" whose sync record
calls every staged file deleted-here).

Copies go through temporary names (vam.core.filecopy), so an archive killed at any point is
completed by running it again: files already complete on the SSD are checked and accepted, the
interrupted one is copied again, and a folder left with nothing but vam's state is finished off.
An SSD copy that differs from the local project stops everything with a per-file report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from vam.core import durable
from vam.core.checksum import crc32_of_range
from vam.core.config import Config
from vam.core.errors import SafetyError
from vam.core.filecopy import copy_file_atomic
from vam.core.layout import PARTIAL_SUFFIX
from vam.core.projectfiles import project_files
from vam.core.units import format_size
from vam.ssd.archive_plan import ArchivePlan, Hooks
from vam.ssd.archive_removal import KeptFile, remove_archived
from vam.ssd.lightsync import plan_light


@dataclass(frozen=True)
class ArchiveResult:
    plan: ArchivePlan
    copied: tuple[str, ...]
    verified: int
    removed_local: bool  # every verified file was deleted locally (see notes for leftovers)
    light_restored: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    kept: tuple[KeptFile, ...] = ()  # changed since their copy: still here, archive them again


def execute_archive(
    plan: ArchivePlan,
    config: Config,
    *,
    keep_local: bool = False,
    hooks: Hooks | None = None,
    chunk: int = 8 * 1024 * 1024,
) -> ArchiveResult:
    """Copy, verify every file from the SSD side, then (unless keep_local) restore light files and
    remove the local project, each file re-hashed first. Raises SafetyError, deleting nothing
    local, on any mismatch before the removal."""
    hooks = hooks or Hooks()
    project = plan.project
    if plan.differs:
        raise SafetyError(
            f"the SSD already has a different copy of {project.id} ({plan.ssd_dir}): "
            f"{len(plan.differs)} file(s) differ; nothing copied or deleted — compare them, then "
            "move the SSD copy aside or fix the local files"
        )
    if not plan.fits:
        raise SafetyError(
            f"not enough space on the SSD for {project.id}: need "
            f"{format_size(plan.copy_bytes)} + {format_size(plan.reserve)} spare, "
            f"{format_size(plan.free_bytes)} free on {plan.ssd_dir.parent}; free some space "
            "or use another SSD"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    crcs: dict[str, int] = {s.rel: s.crc for s in plan.steps if s.crc is not None}
    copied = []
    for step in plan.to_copy:
        try:
            crcs[step.rel] = copy_file_atomic(
                step.src, step.dst, on_bytes=hooks.on_bytes, chunk=chunk, exclusive=True
            )
        except FileExistsError:
            raise SafetyError(
                f"{step.dst} appeared on the SSD while {project.id} was being archived; it was "
                "kept and nothing deleted — compare it, then run the same command again"
            ) from None
        copied.append(step.rel)

    hooks.before_verify(plan)
    bad = []
    for step in plan.steps:
        try:
            st = step.src.stat()
            if st.st_size != step.size or st.st_mtime_ns != step.mtime_ns:
                bad.append((step, "changed locally during the archive"))
                continue
            # what reached the SSD: flushed there (a copy made before this run too), re-read
            # past the page cache (Linux and macOS)
            size, crc = _read_back(step.dst, flush=step.rel not in copied)
            if size != step.size:
                bad.append((step, "size differs on the SSD"))
            elif crc != crcs[step.rel]:
                bad.append((step, "checksum differs on the SSD"))
        except FileNotFoundError as exc:
            bad.append((step, f"missing: {exc.filename}"))
    if bad:
        for step, _why in bad:
            # our own copy from this run is wrong: remove it so the next run copies it again
            if step.rel in copied and step.dst.exists():
                step.dst.unlink()
        detail = "; ".join(f"{s.rel}: {why}" for s, why in bad[:5])
        raise SafetyError(
            f"SSD copy of {project.id} did not verify ({len(bad)} file(s): {detail}); "
            "nothing deleted locally — check the SSD and run the same command again"
        )
    # the folders of copies made before this run: their entries on the disk too
    _fsync_folders((s.dst for s in plan.steps if s.rel not in copied), plan.ssd_dir.parent)
    _remove_partials(plan.ssd_dir)
    notes: list[str] = []
    if keep_local:
        return ArchiveResult(
            plan=plan,
            copied=tuple(copied),
            verified=len(plan.steps),
            removed_local=False,
            light_restored=(),
            notes=("kept local",),
        )

    # light files back from the verified SSD copy; a clash, or a file added here meanwhile,
    # stops it before anything local goes
    rules = config.team.files
    light = plan_light(plan.ssd_dir, plan.archived_dir, rules, trust_mtime=False)
    clashes = [a for a in light if a.action == "differs"]
    if clashes:
        raise SafetyError(
            f"{plan.archived_dir} already holds different versions of "
            + ", ".join(a.rel for a in clashes[:5])
            + "; nothing deleted — move that folder aside and run the same command again"
        )
    planned = {s.rel for s in plan.steps}
    added = sorted({f.rel for f in project_files(project.path, rules, [])} - planned)
    if added:
        raise SafetyError(
            f"{project.id} changed during the archive (new: {', '.join(added[:5])}); the SSD copy "
            "is verified but the local project was kept — run the same command again"
        )
    removal = remove_archived(plan, crcs, light, hooks=hooks, stamp=stamp)
    if removal.left:
        left = removal.left
        shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        notes.append(f"left in {project.path} (not archived, not deleted): {shown}")
    return ArchiveResult(
        plan=plan,
        copied=tuple(copied),
        verified=len(plan.steps),
        removed_local=not removal.kept,
        light_restored=removal.restored,
        notes=tuple(notes),
        kept=removal.kept,
    )


def _read_back(path: Path, *, flush: bool) -> tuple[int, int]:
    """(size, CRC32) of a file as the disk holds it: the pages dropped / uncached first."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        size = os.fstat(fd).st_size
        if flush and os.name != "nt":  # (Windows cannot flush a file opened to read)
            durable.flush(fd)
        durable.uncached(fd)
        return size, crc32_of_range(fd, 0, size)
    finally:
        os.close(fd)


def _fsync_folders(files, top: Path) -> None:
    """fsync every folder from each file's up to `top`, each once."""
    done: set[Path] = set()
    for path in files:
        folder = path.parent
        while folder not in done and (folder == top or folder.is_relative_to(top)):
            durable.fsync_dir(folder)
            done.add(folder)
            if folder == top:
                break
            folder = folder.parent


def _remove_partials(folder: Path) -> None:
    """Leftovers of an interrupted earlier run, now that every file is complete and verified."""
    for leftover in folder.rglob(f"*{PARTIAL_SUFFIX}"):
        leftover.unlink(missing_ok=True)
