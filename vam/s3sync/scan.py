"""Scanning a project: both sides and the base, fingerprinted as cheaply as possible, and the
plan (SPEC §4 "Change detection is by content")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import PurePosixPath

import botocore.exceptions as bce

from vam.core.files import FileRules, Skipped, excluded_part
from vam.s3sync import transfer
from vam.s3sync.fingerprint import ChecksumCache, Hasher, Hold, local_listing, resolve_foreign
from vam.s3sync.keys import is_conflict_copy, nfc, unsafe_reason
from vam.s3sync.model import RemoteEntry
from vam.s3sync.plan import make_plan
from vam.s3sync.remote import RemoteObject, list_project
from vam.s3sync.remoteindex import RemoteIndex, is_vam_key, read_index
from vam.s3sync.report import Scan
from vam.s3sync.syncrecord import load_record
from vam.s3sync.target import Target


def _head(s3, bucket: str, key: str) -> transfer.RemoteDetails | None:
    try:
        return transfer.head_checksum(s3, bucket, key)
    except bce.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return None  # deleted between the listing and now
        raise


def scan_project(
    s3,
    target: Target,
    *,
    user: str,
    rules: FileRules,
    hasher: Hasher | None = None,
    objects: Iterable[RemoteObject] | None = None,
    index: RemoteIndex | None = None,
    save_cache: bool = True,
    defer_new: bool = False,
    cache: ChecksumCache | None = None,
    hold: Hold | None = None,
) -> Scan:
    """Both sides and the base, fingerprinted as cheaply as possible, and the plan.

    Requests: one listing (unless `objects` is given), one GET of the index, and a HEAD only for
    objects whose ETag neither the index nor the sync record knows.

    `defer_new` (s3.up): a local file that neither S3 nor the sync record knows is not read
    here, since nothing is compared with it; its CRC32 is taken by the upload as the bytes go out,
    so a new 10 GB render is read once, not twice, and its first byte leaves at once.

    `hold` (vam watch): local files it gives a reason for are left unread and out of the plan's
    transfers (SKIPPED with that reason where S3 or the record knows them): still being written.

    Names are compared in NFC (keys.nfc). Left out, and reported with the reason: local files
    the walk skips (links, unreadable, still being written), conflict copies vam left beside a
    file, names invalid on Windows; remote keys on the exclude list; the zero-byte `folder/`
    markers the S3 console makes are not files at all and are ignored.
    """
    hasher = hasher or Hasher()
    cache = cache or ChecksumCache(target.state_dir)
    if objects is None:
        objects = list_project(s3, target.bucket, target.prefix)
    objects = [o for o in objects if not is_vam_key(o.rel) and not _folder_marker(o)]
    if index is None:
        index = read_index(s3, target.bucket, target.prefix) if objects else RemoteIndex({}, None)
    base = load_record(target.state_dir, user)
    known = {nfc(o.rel) for o in objects} | set(base)
    skipped: list[Skipped] = []
    local = []
    defer = (lambda rel: rel not in known) if defer_new else None
    for entry in local_listing(target.staging, rules, cache, hasher, skipped, defer, hold):
        shown = entry.name or entry.rel
        reason = unsafe_reason(entry.rel)
        if is_conflict_copy(PurePosixPath(shown).name):
            skipped.append(Skipped(shown, CONFLICT_COPY_REASON))
        elif reason:  # Jan (Windows) could never download it: rename it before it is uploaded
            skipped.append(Skipped(shown, f"not uploaded: {reason}; rename it"))
        else:
            local.append(entry)
    left_out = {nfc(s.rel): s.reason for s in skipped}
    for rel in base:
        part = excluded_part(rel, rules)
        if part is not None:
            left_out.setdefault(rel, _excluded_reason(part))
    by_local = {e.rel: e for e in local}
    remote: list[RemoteEntry] = []
    heads = 0
    for obj in objects:
        rel = nfc(obj.rel)
        entry = RemoteEntry(
            rel,
            obj.key,
            obj.size,
            obj.etag,
            obj.last_modified,
            name=obj.rel if obj.rel != rel else None,
        )
        reason = unsafe_reason(obj.rel)
        if reason:
            remote.append(replace(entry, unsafe=reason))
            continue
        part = excluded_part(obj.rel, rules)
        if part is not None:  # .DS_Store, Thumbs.db uploaded by another tool: not a project file
            left_out.setdefault(rel, _excluded_reason(part))
            remote.append(entry)
            continue
        known = index.entries.get(obj.rel) or index.entries.get(rel)
        b = base.get(rel)
        if known and known.etag == obj.etag and known.size == obj.size:
            entry = replace(
                entry,
                crc32=known.crc32,
                version_id=known.version_id,
                uploaded_by=known.uploaded_by,
                mtime_ns=known.mtime_ns,
            )
        elif b and b.etag == obj.etag and b.size == obj.size:
            entry = replace(
                entry,
                crc32=b.crc32,
                version_id=b.version_id,
                uploaded_by=b.uploaded_by,
                mtime_ns=b.mtime_ns,
            )
        else:
            heads += 1
            details = _head(s3, target.bucket, obj.key)
            if details is None:
                continue
            entry = replace(
                entry,
                size=details.size,
                etag=details.etag,
                crc32=details.crc32,
                version_id=details.version_id,
                uploaded_by=details.uploaded_by,
                mtime_ns=details.mtime_ns,
            )
            entry = resolve_foreign(
                entry, by_local.get(rel), target.staging, cache, hasher, details.part_size
            )
        remote.append(entry)
    if save_cache and (local or target.state_dir.is_dir()):
        cache.save()
    plan = make_plan(local, remote, base, left_out)
    return Scan(target, plan, tuple(skipped), heads, len(objects), cache, index)


CONFLICT_COPY_REASON = (
    "a version vam kept beside its file when that file changed here during a download: compare "
    "the two, keep one under the file's own name and delete the other"
)


def _excluded_reason(part: str) -> str:
    return f"{part!r} is on the exclude list (brands.toml [files] exclude): ignored"


def _folder_marker(obj: RemoteObject) -> bool:
    """The zero-byte `name/` object the S3 console's "Create folder" leaves: not a file."""
    return obj.key.endswith("/") and obj.size == 0
