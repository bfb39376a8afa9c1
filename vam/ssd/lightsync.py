"""The SSD archive seen from this computer: which projects are on the SSD, only local, or both
(`ssd.status`), and bringing the light files of archived projects back from the SSD into
`archived/{range}/{id}/` (`ssd.sync`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from vam.core.checksum import file_crc32
from vam.core.config import Config
from vam.core.errors import NotFoundError, SafetyError
from vam.core.filecopy import copy_file_atomic, keep_copy, same_mtime
from vam.core.files import FileRules, Kind, classify, walk
from vam.core.layout import ARCHIVED, STATE_DIR
from vam.core.projects import (
    list_active,
    list_archived,
    projects_dir,
    settings_for_brand,
    ssd_mounted,
    ssd_path,
)
from vam.core.team import Brand
from vam.ssd.layout import ssd_projects

# `{project}/.vam/backups/{stamp}/{rel}`: the versions `s3.down --force` and `ssd.sync --overwrite`
# replaced (s3.down --force keeps them the same way); ssd.archive carries them to the SSD copy.
BACKUPS = "backups"


def require_ssd(config: Config, root: Path, brand: Brand) -> Path:
    """The brand's SSD folder, or one clear line saying why it cannot be used."""
    settings = settings_for_brand(config, root, brand)
    folder = ssd_path(settings, brand)
    if folder is None:
        raise NotFoundError(
            f"no SSD configured for brand {brand.key}; set ssd_root in your settings "
            f"({settings.path or '~/.config/vam/settings.toml'}), e.g. "
            'ssd_root = "/Volumes/T7/youtube-PUBLISHED"'
        )
    if not ssd_mounted(settings, brand):
        raise NotFoundError(
            f"SSD not mounted: {folder.parent} does not exist; plug in the SSD "
            "(or fix ssd_root in your settings) and run the same command again"
        )
    return folder


# --------------------------------------------------------------------------- light-file sync


@dataclass(frozen=True)
class LightAction:
    rel: str
    src: Path
    dst: Path
    size: int
    action: str  # copy (missing here) | same | differs (local file has other content)


def plan_light(
    src_dir: Path, dst_dir: Path, rules: FileRules, *, trust_mtime: bool = True
) -> list[LightAction]:
    """Light files of an SSD project against the local archived folder. Reads contents only when
    sizes match and mtimes don't (to tell 'same' from 'differs'); without `trust_mtime`, whenever
    sizes match (ssd.archive: an mtime match is no proof, and the files are small)."""
    actions = []
    for f in walk(src_dir, rules):
        if classify(f.rel, f.size, rules) is not Kind.LIGHT:
            continue
        dst = dst_dir.joinpath(*f.rel.split("/"))
        try:
            st = dst.stat()
        except FileNotFoundError:
            actions.append(LightAction(f.rel, f.path, dst, f.size, "copy"))
            continue
        if st.st_size == f.size and (
            (trust_mtime and same_mtime(st.st_mtime_ns, f.mtime_ns))
            or file_crc32(dst) == file_crc32(f.path)
        ):
            actions.append(LightAction(f.rel, f.path, dst, f.size, "same"))
        else:
            actions.append(LightAction(f.rel, f.path, dst, f.size, "differs"))
    return actions


def apply_light(
    actions: list[LightAction], *, overwrite: bool = False, backup_dir: Path | None = None
) -> list[LightAction]:
    """Copy what is missing (and what differs, with overwrite); returns the actions applied.

    A local file that `overwrite` replaces is first kept as `backup_dir/{rel}` (a hard link when
    the disk can, else a copy): the SSD's version wins, the local edit is never lost. A file that
    appears under a 'copy' name after the plan is never replaced: SafetyError, naming it."""
    if overwrite and backup_dir is None:
        raise ValueError("overwrite needs a backup_dir for the local files it replaces")
    done = []
    for a in actions:
        if a.action == "copy" or (a.action == "differs" and overwrite):
            if a.action == "differs" and backup_dir is not None:
                keep_copy(a.dst, backup_dir.joinpath(*a.rel.split("/")))
            try:
                crc = copy_file_atomic(a.src, a.dst, exclusive=a.action == "copy")
            except FileExistsError:
                raise SafetyError(
                    f"{a.dst} appeared while it was being copied from the SSD; it was kept and "
                    "nothing replaced — look at it, then run the same command again"
                ) from None
            if a.dst.stat().st_size != a.size or file_crc32(a.dst) != crc:
                raise OSError(f"copy of {a.src} to {a.dst} did not verify; run again")
            done.append(a)
    return done


def backup_dir(project: Path, stamp: str) -> Path:
    """Where ssd.sync --overwrite keeps the local versions it replaced in `project`."""
    return project / STATE_DIR / BACKUPS / stamp


@dataclass(frozen=True)
class ProjectSync:
    id: str
    range: str | None
    target: Path
    actions: tuple[LightAction, ...]


@dataclass(frozen=True)
class SyncReport:
    brand: str
    ssd: Path
    projects: tuple[ProjectSync, ...]
    skipped_active: tuple[str, ...]  # on the SSD but still an active project here


def plan_sync(config: Config, root: Path, brand: Brand) -> SyncReport:
    folder = require_ssd(config, root, brand)
    active = {p.id for p in list_active(root, brand)}
    archived = {p.id: p.path for p in list_archived(root, brand)}
    base = projects_dir(root, brand) / ARCHIVED
    out, skipped = [], []
    for pid, (rng, src) in sorted(ssd_projects(folder).items()):
        if pid in active:
            skipped.append(pid)
            continue
        # an archived folder that already exists (even under another range name) is the target
        target = archived.get(pid) or (base / rng / pid if rng else base / pid)
        actions = plan_light(src, target, config.team.files)
        out.append(ProjectSync(pid, rng, target, tuple(actions)))
    return SyncReport(brand.key, folder, tuple(out), tuple(skipped))


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class BrandStatus:
    brand: str
    ssd: Path | None
    mounted: bool
    free_bytes: int | None
    total_bytes: int | None
    ssd_only: tuple[str, ...]
    local_only: tuple[str, ...]  # active or archived here, not on the SSD
    both: tuple[str, ...]
    heavy_local_only: tuple[str, ...]  # active projects not on the SSD (what to archive next)


def brand_status(config: Config, root: Path, brand: Brand) -> BrandStatus:
    settings = settings_for_brand(config, root, brand)
    folder = ssd_path(settings, brand)
    mounted = ssd_mounted(settings, brand)
    local = {p.id for p in list_active(root, brand)} | {p.id for p in list_archived(root, brand)}
    active = {p.id for p in list_active(root, brand)}
    if not mounted or folder is None:
        return BrandStatus(brand.key, folder, False, None, None, (), tuple(sorted(local)), (), ())
    on_ssd = set(ssd_projects(folder))
    probe = folder if folder.is_dir() else folder.parent
    usage = shutil.disk_usage(probe)
    return BrandStatus(
        brand.key,
        folder,
        True,
        usage.free,
        usage.total,
        tuple(sorted(on_ssd - local)),
        tuple(sorted(local - on_ssd)),
        tuple(sorted(on_ssd & local)),
        tuple(sorted(p for p in active - on_ssd if brand.is_valid_id(p))),
    )
