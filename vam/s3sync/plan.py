"""The three-way decision (SPEC §4), pure: (local listing, remote listing, sync record) -> Plan,
and Plan -> the actions of `s3.up` or `s3.down`. No disk, no network: tested by comparing values.

Content equality is decided by fingerprints (size + CRC32) only; a remote object whose checksum is
unknown is "different from this computer's file" (the scanner already resolved foreign ETags by
recomputing MD5 / multipart ETags locally, and sets `crc32` when they match).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vam.s3sync.keys import fold
from vam.s3sync.model import (
    Action,
    ActionKind,
    BaseEntry,
    FileRow,
    FileState,
    LocalEntry,
    Plan,
    RemoteEntry,
)


def remote_changed(remote: RemoteEntry, base: BaseEntry) -> bool:
    """S3's object differs from the base: another ETag and not provably the same bytes."""
    if remote.etag == base.etag:
        return False
    return not remote.fingerprint.same_content(base.fingerprint)


def local_changed(local: LocalEntry, base: BaseEntry) -> bool:
    return not local.fingerprint.same_content(base.fingerprint)


def classify(
    local: LocalEntry | None, remote: RemoteEntry | None, base: BaseEntry | None
) -> tuple[FileState, str]:
    """One file's state and the reason, from its three sides."""
    if remote is not None and remote.unsafe:
        return FileState.REFUSED, f"unsafe S3 key: {remote.unsafe}"
    if local is not None and remote is not None:
        if local.fingerprint.same_content(remote.fingerprint):
            return FileState.SYNCED, "same content on both sides"
        if base is None:
            return FileState.CONFLICT, "new on both sides with different content"
        here, there = local_changed(local, base), remote_changed(remote, base)
        if here and not there:
            return FileState.UPLOAD, "changed here since the last sync"
        if there and not here:
            return FileState.DOWNLOAD, "changed in S3 since the last sync"
        if here and there:
            return FileState.CONFLICT, "changed on both sides since the last sync"
        # neither side moved from the base, yet they differ: the record is not trustworthy
        return (
            FileState.CONFLICT,
            "both sides differ and the sync record cannot tell which is newer",
        )
    if local is not None:
        if base is None:
            return FileState.UPLOAD, "new here"
        if local_changed(local, base):
            return FileState.CONFLICT, "deleted in S3 but changed here since the last sync"
        return FileState.DELETED_THERE, "deleted in S3 since the last sync"
    if remote is not None:
        if base is None:
            return FileState.DOWNLOAD, "new in S3"
        if remote_changed(remote, base):
            return FileState.CONFLICT, "deleted here but changed in S3 since the last sync"
        return FileState.DELETED_HERE, "deleted here since the last sync"
    return FileState.GONE, "deleted on both sides"


def make_plan(
    local: Iterable[LocalEntry],
    remote: Iterable[RemoteEntry],
    base: Mapping[str, BaseEntry],
    skipped: Mapping[str, str] | None = None,
) -> Plan:
    """Every file known to any side, sorted by path, with its state.

    `skipped`: rel -> why vam leaves that file alone (a link or an unreadable file here, a name
    on the exclude list); such a file is never transferred, and never "deleted" on the side where
    it was skipped. Names that are one file on Windows or macOS (they differ only by case or by
    Unicode form) are name clashes: each is named, none is written (see `name_clashes`)."""
    skipped = skipped or {}
    local, remote = list(local), list(remote)
    clashes = name_clashes(
        [e for e in local if e.rel not in skipped],
        [e for e in remote if e.rel not in skipped],
        base,
    )
    taken = {rel for row in clashes for rel in _rels(row)}
    by_local = {e.rel: e for e in local if e.rel not in taken}
    by_remote = {e.rel: e for e in remote if e.rel not in taken}
    rows = list(clashes)
    for rel in sorted((set(by_local) | set(by_remote) | set(base)) - taken):
        lo, re_, ba = by_local.get(rel), by_remote.get(rel), base.get(rel)
        if rel in skipped:
            state, reason = FileState.SKIPPED, skipped[rel]
        else:
            state, reason = classify(lo, re_, ba)
        rows.append(FileRow(rel, state, lo, re_, ba, reason))
    return Plan(tuple(sorted(rows, key=lambda r: r.rel)))


def _rels(row: FileRow) -> set[str]:
    return {e.rel for e in (row.local, row.remote) if e is not None}


def _spelling(entry: LocalEntry | RemoteEntry) -> str:
    """The name as the disk or the key spells it (`rel` is its NFC form)."""
    return entry.name or entry.rel


def name_clashes(
    local: Iterable[LocalEntry],
    remote: Iterable[RemoteEntry],
    base: Mapping[str, BaseEntry] | None = None,
) -> list[FileRow]:
    """Rows for names that are one path on Windows or macOS but more than one file here or in S3:
    keys, local files, or a key and a local file that differ only by case or Unicode form.

    A group of names with the same fold (keys.fold) is fine when it holds one NFC name, at most
    once here and once in S3 (David's NFD `café.mov` and the NFC key are one file). Otherwise
    every spelling in it is a row of its own, in state NAME_CLASH, naming the others."""
    groups: dict[str, list[tuple[int, LocalEntry | RemoteEntry]]] = {}
    for side, entries in ((0, local), (1, remote)):
        for entry in entries:
            groups.setdefault(fold(entry.rel), []).append((side, entry))
    rows: list[FileRow] = []
    for group in groups.values():
        sides = [side for side, _entry in group]
        one_name = len({entry.rel for _side, entry in group}) == 1
        if one_name and sides.count(0) <= 1 and sides.count(1) <= 1:
            continue
        spellings: dict[str, list] = {}
        for side, entry in group:
            spellings.setdefault(_spelling(entry), [None, None])[side] = entry
        for name, (lo, re_) in spellings.items():
            others = " and ".join(repr(n) for n in sorted(spellings) if n != name)
            where = "here" if re_ is None else "in S3" if lo is None else "here and in S3"
            reason = (
                f"{where}, and one file with {others} on Windows and macOS (the names differ "
                "only by case or Unicode form)"
            )
            rel = (lo or re_).rel
            rows.append(FileRow(name, FileState.NAME_CLASH, lo, re_, (base or {}).get(rel), reason))
    return rows


def _needs_record(row: FileRow) -> bool:
    """A synced file whose base is missing or stale (e.g. both made the same edit)."""
    if row.local is None or row.remote is None:
        return False
    base = row.base
    return base is None or base.etag != row.remote.etag or local_changed(row.local, base)


def upload_actions(plan: Plan, *, force: bool = False, delete: bool = False) -> tuple[Action, ...]:
    """What `s3.up` does: new and changed local files; conflicts only with --force; files deleted
    here are deleted in S3 only with --delete (and only the version the base knows)."""
    actions = []
    for row in plan.rows:
        st = row.state
        if st is FileState.SYNCED:
            if _needs_record(row):
                actions.append(Action(ActionKind.RECORD, row.rel, st))
        elif st is FileState.GONE:
            actions.append(Action(ActionKind.FORGET, row.rel, st))
        elif (st is FileState.UPLOAD or (st is FileState.CONFLICT and force)) and row.local:
            actions.append(
                Action(
                    ActionKind.UPLOAD,
                    row.rel,
                    st,
                    size=row.local.size,
                    if_match=row.remote.etag if row.remote else None,
                    if_none_match=row.remote is None,
                )
            )
        elif st is FileState.DELETED_THERE and force and row.local:
            actions.append(
                Action(ActionKind.UPLOAD, row.rel, st, size=row.local.size, if_none_match=True)
            )
        elif st is FileState.DELETED_HERE and delete and row.remote:
            actions.append(
                Action(
                    ActionKind.DELETE_REMOTE,
                    row.rel,
                    st,
                    size=row.remote.size,
                    if_match=row.remote.etag,
                )
            )
        elif st is not FileState.DOWNLOAD:
            actions.append(Action(ActionKind.SKIP, row.rel, st, note=row.reason))
    return tuple(actions)


def download_actions(
    plan: Plan, *, force: bool = False, delete: bool = False
) -> tuple[Action, ...]:
    """What `s3.down` does: new and changed S3 files; conflicts only with --force (backup first);
    files deleted in S3 are removed here only with --delete (moved to the backups, not erased)."""
    actions = []
    for row in plan.rows:
        st = row.state
        if st is FileState.SYNCED:
            if _needs_record(row):
                actions.append(Action(ActionKind.RECORD, row.rel, st))
        elif st is FileState.GONE:
            actions.append(Action(ActionKind.FORGET, row.rel, st))
        elif (
            st is FileState.DOWNLOAD
            or (st in (FileState.CONFLICT, FileState.DELETED_HERE) and force)
        ) and row.remote:
            actions.append(
                Action(
                    ActionKind.DOWNLOAD,
                    row.rel,
                    st,
                    size=row.remote.size,
                    backup=row.local is not None and st is not FileState.DOWNLOAD,
                )
            )
        elif st is FileState.DELETED_THERE and delete and row.local:
            actions.append(
                Action(ActionKind.DELETE_LOCAL, row.rel, st, size=row.local.size, backup=True)
            )
        elif st is not FileState.UPLOAD:
            actions.append(Action(ActionKind.SKIP, row.rel, st, note=row.reason))
    return tuple(actions)
