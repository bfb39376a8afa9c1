"""Where the off-site archive takes a project from, and the SSD archive with a cloud copy too
(`ssd.archive --cloud`, SPEC §10): the SSD copy made and verified, the cloud archive made and
verified, the two proven to hold the same bytes, and only then the local heavy files removed.

An active project is archived to the cloud from its folder here; an archived one (light files
only here) from its full copy on the SSD, which must be plugged in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vam.archive.index import ArchiveIndex
from vam.aws.botocache import cache_root
from vam.core.config import Config
from vam.core.errors import NotFoundError, SafetyError
from vam.core.files import tree_stats
from vam.core.layout import STATE_DIR
from vam.core.projects import (
    Project,
    list_active,
    list_archived,
    projects_dir,
    settings_for_brand,
    ssd_path,
)
from vam.core.projects import ssd_mounted as is_mounted
from vam.core.team import Brand
from vam.ssd.archive_plan import ArchivePlan
from vam.ssd.layout import ssd_projects


@dataclass(frozen=True)
class Source:
    folder: Path  # the folder whose files are archived
    state_dir: Path  # where the archive's checksum cache and resume records live
    where: str  # for people: "this computer" or "the SSD copy"


def source_for(config: Config, root: Path, project: Project) -> Source:
    """The full copy of `project` to archive from: its folder here, else its SSD copy."""
    if project.structure == "flat":
        return Source(project.path, project.path / STATE_DIR / "archive", "this computer")
    settings = settings_for_brand(config, root, project.brand)
    folder = ssd_path(settings, project.brand)
    found = (
        ssd_projects(folder).get(project.id)
        if folder and is_mounted(settings, project.brand)
        else None
    )
    if found is None:
        where = f"the SSD ({folder})" if folder else "the SSD (no ssd_root in your settings)"
        if folder is not None and not is_mounted(settings, project.brand):
            raise NotFoundError(
                f"{project.id} is archived here (light files only); its full copy is on "
                f"{where}, which is not mounted: plug it in and run the same command again"
            )
        raise NotFoundError(
            f"{project.id} has no full copy to archive: only its light files are here "
            f"({project.path}) and {where} has no copy of it"
        )
    base = cache_root() or project.path.parent
    state = base / "archive" / project.brand.key / project.id
    return Source(found[1], state, "the SSD copy")


def pick_for_cloud(
    config: Config, root: Path, brand: Brand, n: int, in_cloud: set[str]
) -> list[Project]:
    """The n projects not in the cloud archive yet whose newest file is oldest: active ones, and
    those whose full copy is on the plugged-in SSD (archived here, or on the SSD alone). Invalid
    ids are skipped."""
    if n < 1:
        return []
    rules = config.team.files
    settings = settings_for_brand(config, root, brand)
    folder = ssd_path(settings, brand)
    on_ssd = ssd_projects(folder) if folder and is_mounted(settings, brand) else {}
    here = list_active(root, brand) + list_archived(root, brand)
    known = {p.id for p in here}
    # projects on the SSD alone: no trace of them here, and the most at risk
    only_ssd = [
        Project(brand, pid, projects_dir(root, brand) / pid, "remote")
        for pid in on_ssd
        if pid not in known
    ]
    scored = []
    for p in here + only_ssd:
        if p.id in in_cloud or not brand.is_valid_id(p.id):
            continue
        if p.structure != "flat" and p.id not in on_ssd:
            continue
        full = p.path if p.structure == "flat" else on_ssd[p.id][1]
        scored.append((tree_stats(full, rules).newest_mtime or 0.0, p.id, p))
    chosen: dict[str, Project] = {}
    for _t, pid, p in sorted(scored, key=lambda x: (x[0], x[1])):
        chosen.setdefault(pid, p)  # active and archived under one id: the first (oldest) one
    return list(chosen.values())[:n]


def check_same(plan: ArchivePlan, index: ArchiveIndex) -> None:
    """Before anything local goes: every file of the SSD plan (all present and verified there)
    is in the cloud archive with the same size and CRC32. SafetyError naming the first ones."""
    wrong = []
    for step in plan.steps:
        entry = index.files.get(step.rel)
        if entry is None:
            wrong.append(f"{step.rel}: not in the cloud archive")
        elif entry.size != step.size or (step.crc is not None and entry.crc32 != step.crc):
            wrong.append(f"{step.rel}: the cloud archive holds another version")
    if wrong:
        shown = "; ".join(wrong[:3])
        raise SafetyError(
            f"{plan.project.id}: the SSD copy and the cloud archive differ ({shown}); both are "
            "kept and nothing was deleted locally — run the same command again"
        )


def ssd_ids(config: Config, root: Path, brand: Brand) -> list[str]:
    """The projects on the brand's SSD, when it is plugged in (none otherwise)."""
    settings = settings_for_brand(config, root, brand)
    folder = ssd_path(settings, brand)
    return sorted(ssd_projects(folder)) if folder and is_mounted(settings, brand) else []
