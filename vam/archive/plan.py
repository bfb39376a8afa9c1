"""What `archive.cloud` would do with one project, decided from what was read (pure): each file of
the source folder against what the archive holds, by content (size and CRC32), never by date.

    archived   in the archive already with the same content: nothing to send
    upload     not in the archive yet
    missing    the index names it but S3 no longer has the object: sent again
    changed    the archive holds another version (re-archived only with --update; the archived
               version then stays as an old version for the class's minimum storage duration)
    kept       in the archive, no longer in the source folder: kept there, never deleted
    skipped    could not be read here (a link, a permission): not archived, and the run fails
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vam.archive.index import ArchivedFile, ArchiveIndex
from vam.archive.listing import ArchivedObject
from vam.archive.target import ArchiveTarget
from vam.core.files import Skipped, Stamp
from vam.core.units import format_size

ARCHIVED = "archived"
UPLOAD = "upload"
MISSING = "missing"
CHANGED = "changed"
KEPT = "kept"


@dataclass(frozen=True)
class SourceFile:
    """A file of the folder being archived, with its CRC32 when it was needed (or cached)."""

    rel: str  # POSIX, NFC
    path: Path
    stamp: Stamp
    crc32: int | None

    @property
    def size(self) -> int:
        return self.stamp.size


@dataclass(frozen=True)
class FileStep:
    rel: str
    action: str
    size: int
    source: SourceFile | None
    archived: ArchivedFile | None  # what the archive holds under this name, when known
    obj: ArchivedObject | None  # the object listed under this name
    detail: str = ""


@dataclass(frozen=True)
class CloudPlan:
    target: ArchiveTarget
    source: Path
    steps: tuple[FileStep, ...]
    skipped: tuple[Skipped, ...]
    update: bool  # --update: changed files are archived again
    index: ArchiveIndex

    def of(self, action: str) -> tuple[FileStep, ...]:
        return tuple(s for s in self.steps if s.action == action)

    @property
    def to_send(self) -> tuple[FileStep, ...]:
        sending = (UPLOAD, MISSING, CHANGED) if self.update else (UPLOAD, MISSING)
        return tuple(s for s in self.steps if s.action in sending)

    @property
    def send_bytes(self) -> int:
        return sum(s.size for s in self.to_send)

    @property
    def left_changed(self) -> tuple[FileStep, ...]:
        """Changed files this run leaves as they are archived (no --update)."""
        return () if self.update else self.of(CHANGED)

    @property
    def problems(self) -> tuple[Skipped, ...]:
        return tuple(s for s in self.skipped if s.problem)


def make_plan(
    target: ArchiveTarget,
    source: Path,
    files: list[SourceFile],
    known: dict[str, ArchivedFile],
    objects: dict[str, ArchivedObject],
    index: ArchiveIndex,
    *,
    skipped: list[Skipped],
    update: bool,
) -> CloudPlan:
    """`known`: what each listed object is proven to hold (its index entry while the ETag agrees,
    or what a HEAD said); `objects`: the project's content objects as listed."""
    steps: list[FileStep] = []
    here = {f.rel for f in files}
    for f in files:
        obj = objects.get(f.rel)
        have = known.get(f.rel)
        if have is not None:
            if have.size != f.size:
                detail = f"size here {format_size(f.size)}, archived {format_size(have.size)}"
                steps.append(FileStep(f.rel, CHANGED, f.size, f, have, obj, detail))
            elif f.crc32 is not None and f.crc32 == have.crc32:
                steps.append(FileStep(f.rel, ARCHIVED, f.size, f, have, obj))
            else:
                detail = f"same size, checksum here {_hex(f.crc32)}, archived {have.crc32:08x}"
                steps.append(FileStep(f.rel, CHANGED, f.size, f, have, obj, detail))
        elif obj is not None:
            detail = "an object of that name is in the archive and vam cannot prove it holds this"
            steps.append(FileStep(f.rel, CHANGED, f.size, f, None, obj, detail))
        elif f.rel in index.files:
            detail = "the archive index names it, but S3 no longer has it"
            steps.append(FileStep(f.rel, MISSING, f.size, f, index.files[f.rel], None, detail))
        else:
            steps.append(FileStep(f.rel, UPLOAD, f.size, f, None, None))
    for rel in sorted((set(objects) | set(known)) - here):
        have = known.get(rel)
        obj = objects.get(rel)
        size = have.size if have else (obj.size if obj else 0)
        steps.append(FileStep(rel, KEPT, size, None, have, obj, "not in the source folder"))
    steps.sort(key=lambda s: s.rel)
    return CloudPlan(target, source, tuple(steps), tuple(skipped), update, index)


def _hex(crc: int | None) -> str:
    return "unknown" if crc is None else f"{crc:08x}"


def plan_lines(plan: CloudPlan) -> list[str]:
    """The exact plan, as --dry-run prints it and a real run before it sends anything."""
    t = plan.target
    total = sum(s.size for s in plan.steps if s.source is not None)
    count = sum(1 for s in plan.steps if s.source is not None)
    lines = [
        f"archive.cloud {t.brand_key}/{t.project_id}: {count} files, {format_size(total)} "
        f"from {plan.source}",
        f"  to:       {t.where} ({t.storage_class})",
        f"  to send:  {len(plan.to_send)} files, {format_size(plan.send_bytes)}",
    ]
    archived = plan.of(ARCHIVED)
    if archived:
        lines.append(f"  already archived, same content: {len(archived)} files")
    for s in plan.steps:
        if s.action == ARCHIVED:
            continue
        verb = s.action
        if s.action == CHANGED and plan.update:
            verb = "update"
        detail = f": {s.detail}" if s.detail else ""
        lines.append(f"    {verb:<8} {s.rel} ({format_size(s.size)}){detail}")
    for sk in plan.skipped:
        lines.append(f"    skipped  {sk.rel}: {sk.reason}")
    return lines
