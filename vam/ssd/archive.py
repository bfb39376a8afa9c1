"""Archiving a finished project to the SSD (SPEC §7): plan -> copy -> verify -> remove -> light
files back under `archived/{range}/{id}/`.

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

Copies go through temporary names (vam.filecopy), so an archive killed at any point is completed
by running it again: files already complete on the SSD are checked and accepted, the interrupted
one is copied again, and a folder left with nothing but vam's state is finished off. An SSD copy
that differs from the local project stops everything with a per-file report.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from vam.core import durable
from vam.core.checksum import crc32_of_range, file_crc32
from vam.core.config import Config
from vam.core.errors import SafetyError
from vam.core.filecopy import copy_file_atomic, make_folders
from vam.core.files import FileRules, LocalFile, Skipped, tree_stats, walk
from vam.core.layout import ARCHIVED, BACKUPS, PARTIAL_SUFFIX, STATE_DIR
from vam.core.projects import Project, list_active, projects_dir
from vam.core.ranges import id_key, range_for, range_names
from vam.core.units import format_size
from vam.ssd.layout import ssd_projects
from vam.ssd.lightsync import LightAction, apply_light, plan_light, require_ssd

DEFAULT_RESERVE = 512 * 1024 * 1024  # keep this much free on the SSD after the copy
BACKUPS_REL = f"{STATE_DIR}/{BACKUPS}"  # `.vam/backups`, inside the project and its SSD copy


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
            steps.append(FileStep(f.rel, f.path, dst, f.size, f.mtime_ns, "copy"))
            continue
        if dst_size != f.size:
            steps.append(FileStep(f.rel, f.path, dst, f.size, f.mtime_ns, "differs",
                                  f"size here {f.size}, on the SSD {dst_size}"))  # fmt: skip
            continue
        src_crc, dst_crc = file_crc32(f.path), file_crc32(dst)
        if src_crc == dst_crc:
            steps.append(FileStep(f.rel, f.path, dst, f.size, f.mtime_ns, "present", crc=src_crc))
        else:
            steps.append(FileStep(f.rel, f.path, dst, f.size, f.mtime_ns, "differs",
                                  f"same size, checksum here {src_crc:08x}, on the SSD "
                                  f"{dst_crc:08x}", crc=src_crc))  # fmt: skip
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
        project, rng, ssd_dir, archived_dir, tuple(steps), free, reserve, tuple(skipped),
        tuple(extra), tuple(_state_files(project.path)),
    )  # fmt: skip


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
        lines.append(f"    {s.action:<8} {s.rel} ({format_size(s.size)})"
                     + (f": {s.detail}" if s.detail else ""))  # fmt: skip
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


@dataclass(frozen=True)
class KeptFile:
    """A local file the archive did not delete at the last moment, and why."""

    rel: str
    reason: str
    aside: Path | None = None  # where the SSD's older copy of it went (its .vam/backups/)


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
        return ArchiveResult(plan, tuple(copied), len(plan.steps), False, (), ("kept local",))

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
        notes.append(
            f"left in {project.path} (not archived, not deleted): " + ", ".join(left[:10])
            + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        )  # fmt: skip
    return ArchiveResult(
        plan, tuple(copied), len(plan.steps), not removal.kept, removal.restored, tuple(notes),
        removal.kept,
    )  # fmt: skip


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


@dataclass(frozen=True)
class Removal:
    restored: tuple[str, ...]  # light files brought back under archived/
    kept: tuple[KeptFile, ...]  # verified files not deleted after all (changed since)
    left: tuple[str, ...]  # what the archive does not handle, left in the folder


# Never archived and safe to lose: OS clutter and partial downloads. Anything else that the
# archive skipped (.git, node_modules, symlinks to outside) is left alone.
_DISPOSABLE = (".DS_Store", "Thumbs.db", "desktop.ini", "*:Zone.Identifier", f"*{PARTIAL_SUFFIX}")


def remove_archived(
    plan: ArchivePlan,
    crcs: dict[str, int],
    light: list[LightAction],
    *,
    hooks: Hooks | None = None,
    stamp: str,
) -> Removal:
    """Delete each verified file once it is re-hashed and still holds what the SSD has (its
    light files first copied back under archived/), then clutter, vam's state and empty
    folders. A file that changed is kept and the SSD's older copy moved aside."""
    hooks = hooks or Hooks()
    folder = plan.project.path
    planned = {s.rel: s for s in plan.steps}
    restored: list[str] = []
    # light files whose local copy an earlier run already removed: back first
    for a in light:
        if a.rel not in planned and a.action == "copy":
            restored += [x.rel for x in apply_light([a])]
    by_rel = {a.rel: a for a in light}
    kept: list[KeptFile] = []
    for step in plan.steps:
        hooks.before_unlink(step)
        why, changed = _remove_verified(step, crcs[step.rel], by_rel.get(step.rel), restored)
        if why is not None:
            aside = _move_aside(plan, step, stamp) if changed else None
            kept.append(KeptFile(step.rel, why, aside))
    state = folder / STATE_DIR
    if not kept and state.is_dir() and not state.is_symlink():
        # this computer's records of files that are gone now; the backups went above (any
        # made since the plan are not touched: they are left, and listed)
        for entry in state.iterdir():
            if entry.name == BACKUPS:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    keep_rels = {k.rel for k in kept}
    left: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder, topdown=False):
        here = Path(dirpath)
        for name in filenames:
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in _DISPOSABLE):
                path.unlink(missing_ok=True)
            elif rel in keep_rels or (
                kept and rel.startswith(f"{STATE_DIR}/") and not rel.startswith(BACKUPS_REL + "/")
            ):
                continue  # reported as kept / vam's state, kept with them
            else:
                left.append(rel)
        for name in dirnames:
            sub = here / name
            if sub.is_symlink():
                left.append(sub.relative_to(folder).as_posix())
            else:
                with contextlib.suppress(OSError):
                    sub.rmdir()  # only succeeds when empty
    with contextlib.suppress(OSError):
        folder.rmdir()
    return Removal(tuple(restored), tuple(kept), tuple(sorted(left)))


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _remove_verified(
    step: FileStep, crc: int, light: LightAction | None, restored: list[str]
) -> tuple[str | None, bool]:
    """Unlink step.src if it still holds the bytes verified on the SSD: (None, _) when gone,
    else (why it was kept, whether it changed). One read of the file, right before the unlink:
    no cache, no earlier check, no size + mtime is proof that a file was not edited in place."""
    try:
        fd = os.open(step.src, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return None, False  # gone already (an earlier run, or by hand): the SSD has it
    except OSError as exc:
        return f"could not be re-read before deleting it ({exc.strerror or exc})", False
    try:
        seen = os.fstat(fd)
        if seen.st_size != step.size:
            why = f"changed since it was copied (size now {seen.st_size}, {step.size} on the SSD)"
            return why, True
        try:
            now = crc32_of_range(fd, 0, seen.st_size)
        except OSError as exc:
            return f"could not be re-read before deleting it ({exc})", False
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if now != crc:
        return f"changed since it was copied (checksum here {now:08x}, {crc:08x} on the SSD)", True
    if _identity(after) != _identity(seen):
        return "changed while it was re-checked", True
    try:
        ssd = step.dst.stat()
    except OSError as exc:
        return f"its SSD copy cannot be seen any more ({exc.strerror or exc})", False
    if ssd.st_size != step.size:
        return "its SSD copy changed since it was verified", False
    back = light is not None and light.action == "copy"
    if back:
        apply_light([light])  # back under archived/ before it goes here
    try:
        if _identity(os.stat(step.src)) != _identity(seen):  # saved again (a new inode)?
            if back:  # our copy of this instant: the version the SSD keeps aside, not the file's
                light.dst.unlink(missing_ok=True)
            return "changed while it was re-checked", True
    except FileNotFoundError:
        pass  # removed meanwhile: the SSD has it
    else:
        os.unlink(step.src)
    if back:
        restored.append(step.rel)
    return None, False


def _move_aside(plan: ArchivePlan, step: FileStep, stamp: str) -> Path | None:
    """The SSD's copy of a file that changed here since: into the SSD copy's .vam/backups/, so
    it is kept (an older version) but not taken for the archive of the file; the next run
    copies what the file holds now."""
    if not step.dst.is_file():
        return None
    aside = plan.ssd_dir.joinpath(STATE_DIR, BACKUPS, stamp, *step.rel.split("/"))
    n = 1
    while aside.exists():
        n += 1
        aside = aside.with_name(f"{Path(step.rel).stem} ({n}){Path(step.rel).suffix}")
    make_folders(aside.parent)
    durable.replace(step.dst, aside)
    durable.fsync_dir(step.dst.parent)
    return aside


def _remove_partials(folder: Path) -> None:
    """Leftovers of an interrupted earlier run, now that every file is complete and verified."""
    for leftover in folder.rglob(f"*{PARTIAL_SUFFIX}"):
        leftover.unlink(missing_ok=True)
