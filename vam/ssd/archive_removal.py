"""The last step of an archive (SPEC §7): with the SSD copy verified, each local file is re-hashed
right before it goes and deleted only if it still holds the bytes the SSD has (its light files
copied back under `archived/` first). A file edited since its copy, even in place with its mtime
restored, is kept, and the SSD's older copy of it moved aside into the SSD's `.vam/backups/`.
Then OS clutter, partial downloads, vam's state for the project and empty folders go; anything
else is left and listed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from vam.core import durable
from vam.core.checksum import crc32_of_range
from vam.core.filecopy import make_folders
from vam.core.layout import BACKUPS, PARTIAL_SUFFIX, STATE_DIR
from vam.core.projectfiles import BACKUPS_REL
from vam.ssd.archive_plan import ArchivePlan, FileStep, Hooks
from vam.ssd.lightsync import LightAction, apply_light


@dataclass(frozen=True)
class KeptFile:
    """A local file the archive did not delete at the last moment, and why."""

    rel: str
    reason: str
    aside: Path | None = None  # where the SSD's older copy of it went (its .vam/backups/)


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
