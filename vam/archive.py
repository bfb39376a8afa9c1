"""Archiving a finished project to the SSD (SPEC §7): plan -> copy -> verify -> remove -> light
files back under `archived/{range}/{id}/`.

Nothing local is deleted unless every file of the project is on the SSD with the same size and
CRC32, re-read from the SSD after the copy. Copies go through temporary names (vam.filecopy), so an
archive killed mid-copy is completed by running it again: files already complete on the SSD are
checked and accepted, the interrupted one is copied again. An SSD copy that differs from the local
project stops everything with a per-file report.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from vam.bucketcaps import conditions_for
from vam.checksum import file_crc32
from vam.config import PARTIAL_SUFFIX, STATE_DIR, Config
from vam.errors import SafetyError
from vam.filecopy import copy_file_atomic
from vam.files import LocalFile, Skipped, walk
from vam.manifest import range_names, ssd_projects, tree_stats
from vam.projects import ARCHIVED, Project, list_active, projects_dir, settings_for_brand
from vam.ranges import id_key, range_for
from vam.remote import RemoteObject
from vam.s3guard import CHANGED, delete_version, is_backup_key
from vam.ssd import apply_light, plan_light, require_ssd
from vam.staging_read import StagingRead, quick_s3_client, read_staging
from vam.units import format_size

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

    @property
    def to_copy(self) -> tuple[FileStep, ...]:
        return tuple(s for s in self.steps if s.action == "copy")

    @property
    def differs(self) -> tuple[FileStep, ...]:
        return tuple(s for s in self.steps if s.action == "differs")

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
    files: list[LocalFile] = list(walk(project.path, rules, skipped))
    if not files:
        raise SafetyError(f"{project.id} has no files to archive ({project.path})")
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
        extra = [f.rel for f in walk(ssd_dir, rules) if f.rel not in local_rels]
    probe = ssd_dir
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    return ArchivePlan(
        project, rng, ssd_dir, archived_dir, tuple(steps), free, reserve, tuple(skipped),
        tuple(extra),
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


@dataclass(frozen=True)
class ArchiveResult:
    plan: ArchivePlan
    copied: tuple[str, ...]
    verified: int
    removed_local: bool  # the verified files were deleted locally (see notes for leftovers)
    light_restored: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def execute_archive(
    plan: ArchivePlan,
    config: Config,
    *,
    keep_local: bool = False,
    hooks: Hooks | None = None,
    chunk: int = 8 * 1024 * 1024,
) -> ArchiveResult:
    """Copy, verify every file from the SSD side, then (unless keep_local) restore light files and
    remove the local project. Raises SafetyError, deleting nothing local, on any mismatch."""
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
    crcs: dict[str, int] = {s.rel: s.crc for s in plan.steps if s.crc is not None}
    copied = []
    for step in plan.to_copy:
        crcs[step.rel] = copy_file_atomic(step.src, step.dst, on_bytes=hooks.on_bytes, chunk=chunk)
        copied.append(step.rel)

    hooks.before_verify(plan)
    bad = []
    for step in plan.steps:
        try:
            st = step.src.stat()
            if st.st_size != step.size or st.st_mtime_ns != step.mtime_ns:
                bad.append((step, "changed locally during the archive"))
                continue
            if step.dst.stat().st_size != step.size:
                bad.append((step, "size differs on the SSD"))
            elif file_crc32(step.dst) != crcs[step.rel]:
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
    _remove_partials(plan.ssd_dir)
    notes: list[str] = []
    if keep_local:
        return ArchiveResult(plan, tuple(copied), len(plan.steps), False, (), ("kept local",))

    # light files back from the verified SSD copy, then re-check the project before removing it
    light = plan_light(plan.ssd_dir, plan.archived_dir, config.team.files)
    clashes = [a for a in light if a.action == "differs"]
    if clashes:
        raise SafetyError(
            f"{plan.archived_dir} already holds different versions of "
            + ", ".join(a.rel for a in clashes[:5])
            + "; nothing deleted — move that folder aside and run the same command again"
        )
    restored = apply_light(light)
    now = {f.rel: f for f in walk(project.path, config.team.files)}
    planned = {s.rel for s in plan.steps}
    added = sorted(set(now) - planned)
    if added:
        raise SafetyError(
            f"{project.id} changed during the archive (new: {', '.join(added[:5])}); the SSD copy "
            "is verified but the local project was kept — run the same command again"
        )
    left = remove_archived(project.path, plan)
    if left:
        notes.append(
            f"left in {project.path} (not archived, not deleted): " + ", ".join(left[:10])
            + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        )  # fmt: skip
    return ArchiveResult(
        plan, tuple(copied), len(plan.steps), True, tuple(a.rel for a in restored), tuple(notes)
    )


# Never archived and safe to lose: OS clutter, vam's own per-project state, partial downloads.
# Anything else that the archive skipped (.git, node_modules, symlinks to outside) is left alone.
_DISPOSABLE = (".DS_Store", "Thumbs.db", "desktop.ini", "*:Zone.Identifier", f"*{PARTIAL_SUFFIX}")


def remove_archived(folder: Path, plan: ArchivePlan) -> list[str]:
    """Delete the verified files, disposable clutter and vam state, then empty folders; returns
    what is left (relative paths), which stays for the person to look at."""
    for step in plan.steps:
        step.src.unlink(missing_ok=True)
    state = folder / STATE_DIR
    if state.is_dir() and not state.is_symlink():
        shutil.rmtree(state)
    left: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder, topdown=False):
        here = Path(dirpath)
        for name in filenames:
            path = here / name
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in _DISPOSABLE):
                path.unlink(missing_ok=True)
            else:
                left.append(path.relative_to(folder).as_posix())
        for name in dirnames:
            sub = here / name
            if sub.is_symlink():
                left.append(sub.relative_to(folder).as_posix())
            else:
                with contextlib.suppress(OSError):
                    sub.rmdir()  # only succeeds when empty
    with contextlib.suppress(OSError):
        folder.rmdir()
    return sorted(left)


def _remove_partials(folder: Path) -> None:
    """Leftovers of an interrupted earlier run, now that every file is complete and verified."""
    for leftover in folder.rglob(f"*{PARTIAL_SUFFIX}"):
        leftover.unlink(missing_ok=True)


# --------------------------------------------------------------------------- S3 staging


def staging_state(config: Config, root: Path, project: Project) -> StagingRead:
    settings = settings_for_brand(config, root, project.brand)
    prefix = config.storage.prefix_for(project.brand.key)
    return read_staging(config, settings, prefix, project=project.id)


def _crc_value(value) -> int | None:
    """A CRC32 as the sync index may store it: int, 8 hex digits, or S3's base64 form."""
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 8 and value.endswith("=="):
            return int.from_bytes(base64.b64decode(value), "big")
        return int(value, 16)
    except ValueError:
        return None


def _md5(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()


@dataclass(frozen=True)
class CleanupDecision:
    obj: RemoteObject
    delete: bool
    reason: str


def plan_cleanup(plan: ArchivePlan, staging: StagingRead) -> list[CleanupDecision]:
    """Which staging objects may go: only those whose content is on the SSD copy, proven by size
    plus MD5 (single-part ETag) or the CRC32 recorded in the sync index."""
    pid = plan.project.id
    index = staging.uploaders.get(pid, {})
    out = []
    for obj in staging.projects.get(pid, []):
        ssd_file = plan.ssd_dir.joinpath("s3-staging", *obj.rel.split("/"))
        if not ssd_file.is_file():
            out.append(CleanupDecision(obj, False, "not on the SSD copy"))
            continue
        if ssd_file.stat().st_size != obj.size:
            out.append(CleanupDecision(obj, False, "size differs from the SSD copy"))
            continue
        if "-" not in obj.etag and obj.etag:
            same = _md5(ssd_file) == obj.etag.lower()
            out.append(CleanupDecision(obj, same, "MD5 matches the SSD copy" if same
                                       else "MD5 differs from the SSD copy"))  # fmt: skip
            continue
        entry = index.get(obj.rel) or {}
        crc = _crc_value(entry.get("crc32"))
        etag_ok = entry.get("etag") in (None, obj.etag) and entry.get("size") in (None, obj.size)
        if crc is None or not etag_ok:
            out.append(CleanupDecision(obj, False, "multipart upload with no known checksum: "
                                       "cannot prove the SSD has it"))  # fmt: skip
            continue
        same = file_crc32(ssd_file) == crc
        out.append(CleanupDecision(obj, same, "CRC32 matches the SSD copy" if same
                                   else "CRC32 differs from the SSD copy"))  # fmt: skip
    return out


def execute_cleanup(
    config: Config, root: Path, plan: ArchivePlan, decisions: list[CleanupDecision],
    staging: StagingRead,
) -> list[str]:  # fmt: skip
    """Delete the provable objects, each only as the version that was compared with the SSD copy
    (DeleteObject with If-Match where the bucket honours it, else a HEAD right before), then
    vam's own index and handoff objects when nothing else is left. The .vam/backups/ objects
    stay: they are versions vam kept in S3 before replacing or deleting them, and no SSD copy
    holds them (see `kept_backups`). An object that changed since is kept: SafetyError."""
    proven = [d.obj for d in decisions if d.delete]
    if not proven:
        return []
    settings = settings_for_brand(config, root, plan.project.brand)
    s3 = quick_s3_client(config, settings)
    bucket = config.storage.bucket
    conditions = conditions_for(s3, bucket, staging.prefix)
    deleted, changed = [], []
    for obj in proven:
        if delete_version(s3, bucket, obj.key, obj.etag, conditions) == CHANGED:
            changed.append(obj.rel)
        else:
            deleted.append(obj.key)
    if not changed and len(proven) == len(decisions):
        for obj in staging.state_objects.get(plan.project.id, []):
            if not is_backup_key(obj.rel):
                delete_version(s3, bucket, obj.key, obj.etag, conditions)
                deleted.append(obj.key)
    if changed:
        raise SafetyError(
            f"S3 staging: deleted {len(deleted)} file(s) proven on the SSD, but "
            f"{', '.join(changed[:5])} changed in S3 since it was compared with the SSD copy "
            f"(someone uploaded a new version): kept; the SSD copy is fine — check with "
            f"`vam s3.status --brand {plan.project.brand.key} --project {plan.project.id}`"
        )
    return deleted


def kept_backups(staging: StagingRead, project_id: str) -> list[RemoteObject]:
    """The project's .vam/backups/ objects in S3, which `execute_cleanup` never deletes."""
    return [o for o in staging.state_objects.get(project_id, []) if is_backup_key(o.rel)]
