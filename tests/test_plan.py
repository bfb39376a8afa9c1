"""The three-way table of SPEC §4, row by row, as pure values (no disk, no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vam.s3sync.model import Action, ActionKind, BaseEntry, FileState, LocalEntry, RemoteEntry
from vam.s3sync.plan import classify, download_actions, make_plan, upload_actions

T = datetime(2026, 11, 24, tzinfo=UTC)
S = FileState


def L(size=10, crc=1):  # noqa: N802 - reads like the table: L, R, B
    return LocalEntry("f.mov", size, 111, crc)


def R(size=10, crc=1, etag="e1", unsafe=None, by="jan"):  # noqa: N802
    return RemoteEntry("f.mov", "p/f.mov", size, etag, T, crc, "v1", by, 111, unsafe)


def B(size=10, crc=1, etag="e1"):  # noqa: N802
    return BaseEntry("f.mov", size, crc, etag)


@pytest.mark.parametrize(
    "local, remote, base, state",
    [
        # both sides present
        (L(), R(), None, S.SYNCED),  # both new, same content
        (L(), R(crc=2, etag="e2"), None, S.CONFLICT),  # both new, different
        (L(), R(), B(), S.SYNCED),
        (L(crc=2), R(), B(), S.UPLOAD),  # changed here
        (L(size=11, crc=2), R(), B(), S.UPLOAD),
        (L(), R(crc=2, etag="e2"), B(), S.DOWNLOAD),  # changed there
        (L(), R(crc=None, etag="e2"), B(), S.DOWNLOAD),  # foreign object, other ETag: changed
        (L(crc=2), R(crc=3, etag="e3"), B(), S.CONFLICT),  # both changed, differently
        (L(crc=2), R(crc=2, etag="e2"), B(), S.SYNCED),  # both made the same change
        (L(crc=2), R(crc=1, etag="e9"), B(), S.UPLOAD),  # re-uploaded same bytes there
        (L(), R(crc=2, etag="e1"), B(), S.CONFLICT),  # record inconsistent: never guess
        # same size, different content: never size-only
        (L(size=10, crc=7), R(size=10, crc=1), B(size=10, crc=1), S.UPLOAD),
        # one side only
        (L(), None, None, S.UPLOAD),  # new here
        (None, R(), None, S.DOWNLOAD),  # new there
        (L(), None, B(), S.DELETED_THERE),
        (L(crc=2), None, B(), S.CONFLICT),  # deleted there, changed here
        (None, R(), B(), S.DELETED_HERE),
        (None, R(crc=2, etag="e2"), B(), S.CONFLICT),  # deleted here, changed there
        (None, None, B(), S.GONE),
        # unsafe keys are refused whatever the rest says
        (None, R(unsafe="'..' or empty path part"), None, S.REFUSED),
        (L(), R(unsafe="drive letter"), B(), S.REFUSED),
    ],
)
def test_three_way_table(local, remote, base, state):
    assert classify(local, remote, base)[0] is state


def test_unknown_checksums_are_never_equal():
    # same size, no checksum on the remote side: not "synced" (size-only is not a comparison)
    assert classify(L(), R(crc=None, etag="x"), None)[0] is S.CONFLICT


def test_make_plan_joins_all_three_sides_sorted():
    local = [LocalEntry("b.md", 1, 1, 5), LocalEntry("a.mov", 2, 1, 6)]
    remote = [RemoteEntry("c.srt", "p/c.srt", 3, "e", T, 9)]
    base = {"d.txt": BaseEntry("d.txt", 4, 4, "e")}
    plan = make_plan(local, remote, base)
    assert [(r.rel, r.state) for r in plan.rows] == [
        ("a.mov", S.UPLOAD),
        ("b.md", S.UPLOAD),
        ("c.srt", S.DOWNLOAD),
        ("d.txt", S.GONE),
    ]
    assert plan.counts() == {"upload": 2, "download": 1, "gone": 1}


def plan_of(local, remote, base):
    return make_plan(
        [local] if local else [], [remote] if remote else [], {"f.mov": base} if base else {}
    )


def test_upload_actions_conditional_writes():
    assert upload_actions(plan_of(L(), None, None)) == (
        Action(ActionKind.UPLOAD, "f.mov", S.UPLOAD, size=10, if_none_match=True),
    )
    assert upload_actions(plan_of(L(crc=2), R(), B())) == (
        Action(ActionKind.UPLOAD, "f.mov", S.UPLOAD, size=10, if_match="e1"),
    )
    assert upload_actions(plan_of(None, R(), None)) == ()  # a download is not up's business


def test_conflicts_are_skipped_unless_forced():
    conflict = plan_of(L(crc=2), R(crc=3, etag="e3"), B())
    (skip,) = upload_actions(conflict)
    assert skip.kind is ActionKind.SKIP and skip.state is S.CONFLICT
    assert upload_actions(conflict, force=True) == (
        Action(ActionKind.UPLOAD, "f.mov", S.CONFLICT, size=10, if_match="e3"),
    )
    assert download_actions(conflict)[0].kind is ActionKind.SKIP
    assert download_actions(conflict, force=True) == (
        Action(ActionKind.DOWNLOAD, "f.mov", S.CONFLICT, size=10, backup=True),
    )


def test_download_actions():
    assert download_actions(plan_of(L(), R(crc=2, etag="e2"), B())) == (
        Action(ActionKind.DOWNLOAD, "f.mov", S.DOWNLOAD, size=10, backup=False),
    )
    assert download_actions(plan_of(L(crc=2), R(), B())) == ()  # an upload is not down's business


def test_deletions_are_skipped_and_only_force_brings_the_file_back():
    gone_here = plan_of(None, R(), B())
    assert [a.kind for a in upload_actions(gone_here)] == [ActionKind.SKIP]
    assert [a.kind for a in download_actions(gone_here)] == [ActionKind.SKIP]
    assert download_actions(gone_here, force=True) == (
        Action(ActionKind.DOWNLOAD, "f.mov", S.DELETED_HERE, size=10, backup=False),
    )
    gone_there = plan_of(L(), None, B())
    assert [a.kind for a in download_actions(gone_there, force=True)] == [ActionKind.SKIP]
    assert upload_actions(gone_there, force=True) == (
        Action(ActionKind.UPLOAD, "f.mov", S.DELETED_THERE, size=10, if_none_match=True),
    )


def test_refused_keys_are_skipped_even_with_force():
    refused = plan_of(None, R(unsafe="absolute path"), None)
    assert [a.kind for a in download_actions(refused, force=True)] == [ActionKind.SKIP]


def test_synced_without_a_base_is_recorded_and_gone_is_forgotten():
    assert upload_actions(plan_of(L(), R(), None)) == (
        Action(ActionKind.RECORD, "f.mov", S.SYNCED),
    )
    assert download_actions(plan_of(L(), R(), B())) == ()  # base up to date: nothing at all
    assert upload_actions(plan_of(None, None, B())) == (Action(ActionKind.FORGET, "f.mov", S.GONE),)


def test_delete_flags_act_on_deletions_only():
    gone_here = plan_of(None, R(), B())
    assert upload_actions(gone_here, delete=True) == (
        Action(ActionKind.DELETE_REMOTE, "f.mov", S.DELETED_HERE, size=10, if_match="e1"),
    )
    gone_there = plan_of(L(), None, B())
    assert download_actions(gone_there, delete=True) == (
        Action(ActionKind.DELETE_LOCAL, "f.mov", S.DELETED_THERE, size=10, backup=True),
    )
    # a deletion on one side and an edit on the other is a conflict: --delete never touches it
    assert upload_actions(plan_of(None, R(crc=2, etag="e2"), B()), delete=True)[0].kind is (
        ActionKind.SKIP
    )
    assert download_actions(plan_of(L(crc=2), None, B()), delete=True)[0].kind is ActionKind.SKIP
