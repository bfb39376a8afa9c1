"""Reading both sides of `archive.cloud` before anything is sent: the project's archive objects
(one listing) and index (one GET), the source folder's files (their CRC32 read only where the
archive holds a file of the same size, and then through a checksum cache kept like git's index),
and a HEAD for each object the index does not vouch for. Then the plan (vam.archive.plan).
"""

from __future__ import annotations

from pathlib import Path

from vam.archive.index import EMPTY, ArchivedFile, ArchiveIndex, read_index
from vam.archive.listing import ArchivedObject, list_project
from vam.archive.plan import CloudPlan, SourceFile, make_plan
from vam.archive.target import INDEX_REL, ArchiveTarget
from vam.core.files import FileRules, Skipped
from vam.core.projectfiles import project_files
from vam.core.units import iso_utc
from vam.s3sync.fingerprint import CachedFile, ChangingFile, ChecksumCache, Hasher
from vam.s3sync.keys import nfc, unsafe_reason
from vam.s3sync.samecontent import same_content
from vam.s3sync.transfer import head_checksum


def read_source(
    source: Path,
    rules: FileRules,
    cache: ChecksumCache,
    hasher: Hasher,
    skipped: list[Skipped],
    need: dict[str, int],
) -> list[SourceFile]:
    """The files an archive of `source` carries, under their NFC names; the CRC32 of those whose
    rel and size are in `need` (read, or from the cache), of the others only when cached (a new
    file is checksummed as it is sent)."""
    files = []
    for lf in project_files(source, rules, skipped):
        rel = nfc(lf.rel)
        bad = unsafe_reason(rel)
        if bad:
            reason = f"{bad}: it could not be restored on every computer; rename it"
            skipped.append(Skipped(lf.rel, reason, problem=True))
            continue
        try:
            if need.get(rel) == lf.size:
                stamp, crc = cache.crc32(rel, lf.path, lf.stamp, hasher)
            else:
                stamp, crc = lf.stamp, cache.known_crc32(rel, lf.stamp)
        except ChangingFile:
            reason = "changed while vam read it (still being written?): run again once it is saved"
            skipped.append(Skipped(lf.rel, reason, problem=True))
            continue
        except OSError as exc:
            reason = (
                f"cannot read: {exc.strerror or exc} (its permissions, or a program holding it)"
            )
            skipped.append(Skipped(lf.rel, reason, problem=True))
            continue
        files.append(SourceFile(rel, lf.path, stamp, crc))
    cache.prune(f.rel for f in files)
    return files


def _proven(
    s3,
    target: ArchiveTarget,
    obj: ArchivedObject,
    local: SourceFile | None,
    cache: ChecksumCache,
    hasher: Hasher,
) -> ArchivedFile | None:
    """What an object the index does not vouch for holds, from a HEAD (HEAD works on archived
    objects): its CRC32, or for an object another tool uploaded, the local file's when its ETag
    proves they are the same bytes. None: cannot tell."""
    details = head_checksum(s3, target.bucket, obj.key)
    crc = details.crc32
    if crc is None and local is not None:
        here = CachedFile(local.rel, local.path, local.stamp, cache, hasher)
        proof = same_content(
            here, size=details.size, etag=details.etag, part_size=details.part_size
        )
        if proof.same:
            crc = here.crc32()
    if crc is None:
        return None
    return ArchivedFile(
        size=details.size,
        crc32=crc,
        etag=details.etag,
        version_id=details.version_id,
        storage_class=obj.storage_class,
        archived_at=iso_utc(details.last_modified),
        archived_by=details.uploaded_by,
        mtime_ns=details.mtime_ns,
    )


def _crc_now(f: SourceFile, cache: ChecksumCache) -> int | None:
    return f.crc32 if f.crc32 is not None else cache.known_crc32(f.rel, f.stamp)


def scan_archive(
    s3,
    target: ArchiveTarget,
    source: Path,
    rules: FileRules,
    *,
    state_dir: Path,
    update: bool = False,
    hasher: Hasher | None = None,
) -> CloudPlan:
    """Read both sides and plan. `state_dir`: where the checksum cache of this source lives."""
    hasher = hasher or Hasher()
    listed = list_project(s3, target.bucket, target.brand_prefix, target.project_id)
    objects = {o.rel: o for o in listed if not o.is_state}
    index: ArchiveIndex = (
        read_index(s3, target) if any(o.rel == INDEX_REL for o in listed) else EMPTY
    )
    need = {rel: f.size for rel, f in index.files.items()}
    need.update({rel: o.size for rel, o in objects.items()})
    cache = ChecksumCache(state_dir)
    skipped: list[Skipped] = []
    files = read_source(source, rules, cache, hasher, skipped, need)
    by_rel = {f.rel: f for f in files}
    known: dict[str, ArchivedFile] = {}
    for rel, obj in objects.items():
        entry = index.files.get(rel)
        if entry is not None and entry.etag == obj.etag and entry.size == obj.size:
            known[rel] = entry
            continue
        proven = _proven(s3, target, obj, by_rel.get(rel), cache, hasher)
        if proven is not None:
            known[rel] = proven
    # a CRC32 read for a proof is the file's: the plan compares with it
    files = [SourceFile(f.rel, f.path, f.stamp, _crc_now(f, cache)) for f in files]
    cache.save()
    return make_plan(target, source, files, known, objects, index, skipped=skipped, update=update)
