"""How sync results read (issue 13 item 6): every state's size column, every outcome's words.
Pure: plain values in, text out (no S3, no disk)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

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
from vam.s3sync.report import Outcome, ProjectStatus, SyncReport
from vam.s3sync.syncview import file_lines, report_dict, report_lines, status_dict, status_lines
from vam.s3sync.target import Target

T = Target("appydave", "b65-x", Path("/p/v-appydave/b65-x"), "video-projects", "staging/v-ad/")
WHEN = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def local(rel: str, size: int, crc: int = 1) -> LocalEntry:
    return LocalEntry(rel, size, 1_700_000_000 * 10**9, crc)


def remote(rel: str, size: int, crc: int = 2, who: str = "jan") -> RemoteEntry:
    return RemoteEntry(rel, f"staging/v-ad/b65-x/{rel}", size, "e" * 32, WHEN, crc, None, who)


def base(rel: str, size: int, crc: int = 3) -> BaseEntry:
    synced_at = "2026-11-20T10:00:00+00:00"
    return BaseEntry(rel, size, crc, "b" * 32, synced_at=synced_at, uploaded_by="david")


def row(rel: str, state: FileState, why: str = "", *, here=None, there=None, synced=None):
    """One file of a plan: its local entry (here), its S3 object (there), its sync base."""
    return FileRow(rel, state, local=here, remote=there, base=synced, reason=why)


def row_line(row: FileRow) -> str:
    [line] = [x for x in file_lines(Plan((row,))) if x.endswith(row.rel)]
    return line


def test_a_download_row_shows_the_size_that_will_be_downloaded():
    """Before: `download 30 B` for a 16 B object (the local size)."""
    brief = row(
        "brief.md",
        FileState.DOWNLOAD,
        "changed in S3",
        here=local("brief.md", 30, 3),
        there=remote("brief.md", 16),
        synced=base("brief.md", 30),
    )
    line = row_line(brief)
    assert "16 B" in line and "30 B" not in line
    assert status_dict(_status(brief))["files"][0]["size"] == 16


HERE_30, THERE_16, BASE_16 = local("a.md", 30), remote("a.md", 16), base("a.md", 16)


@pytest.mark.parametrize(
    "file, shown, hidden",
    [
        # upload: what goes up is the local file
        (
            row(
                "a.md",
                FileState.UPLOAD,
                "changed here",
                here=HERE_30,
                there=remote("a.md", 16, 3),
                synced=BASE_16,
            ),
            ["30 B"],
            ["16 B"],
        ),
        # new here, nothing in S3
        (row("a.md", FileState.UPLOAD, "new here", here=HERE_30), ["30 B", "not in S3"], []),
        # synced: the same bytes on both sides
        (
            row("a.md", FileState.SYNCED, here=local("a.md", 30, 2), there=remote("a.md", 30)),
            ["30 B"],
            [],
        ),
        # conflict: nothing moves until the person chooses, so both sizes (here / in S3)
        (
            row(
                "a.md",
                FileState.CONFLICT,
                "changed on both sides",
                here=HERE_30,
                there=THERE_16,
                synced=base("a.md", 20),
            ),
            ["30 B / 16 B"],
            [],
        ),
        # deleted here: the S3 object is what `up --delete` removes or `down --force` restores
        (
            row("a.md", FileState.DELETED_HERE, "deleted here", there=THERE_16, synced=BASE_16),
            ["16 B"],
            [],
        ),
        # deleted in S3: the local file is all there is
        (
            row(
                "a.md",
                FileState.DELETED_THERE,
                "deleted in S3",
                here=HERE_30,
                synced=base("a.md", 30),
            ),
            ["30 B"],
            [],
        ),
        # refused: the S3 object that will never be written here
        (
            row(
                "../a.md",
                FileState.REFUSED,
                "unsafe S3 key: escapes the project",
                there=remote("../a.md", 16),
            ),
            ["16 B"],
            [],
        ),
    ],
)
def test_every_state_shows_an_honest_size(file, shown, hidden):
    line = row_line(file)
    for text in shown:
        assert text in line, line
    for text in hidden:
        assert text not in line, line


def test_the_columns_stay_aligned_when_a_conflict_shows_two_sizes():
    raw = row(
        "raw.mp4",
        FileState.SYNCED,
        here=local("raw.mp4", 4_200_000, 2),
        there=remote("raw.mp4", 4_200_000),
    )
    brief = row(
        "brief.md",
        FileState.CONFLICT,
        "changed on both sides",
        here=local("brief.md", 1_000_000),
        there=remote("brief.md", 4_200_000),
        synced=base("brief.md", 20),
    )
    rows = (raw, brief)
    header, *lines = file_lines(Plan(rows))
    column = header.index("uploaded by")
    assert all(line[column:].startswith("jan ") for line in lines), [header, *lines]


def _status(*rows: FileRow) -> ProjectStatus:
    return ProjectStatus(T, Plan(rows), (), None, None)


def _report(direction: str, actions, outcomes, after_rows=(), dry_run=False) -> SyncReport:
    return SyncReport(
        direction=direction,
        target=T,
        plan=Plan(()),
        actions=tuple(actions),
        dry_run=dry_run,
        outcomes=tuple(outcomes),
        after=Plan(tuple(after_rows)),
    )


def done(kind: ActionKind, rel: str, state: FileState, nbytes: int = 0, message: str = ""):
    """A transfer or deletion that was carried out."""
    return Outcome.done(Action(kind, rel, state), nbytes, message)


def test_result_lines_use_real_words_for_every_kind_of_outcome():
    """Before: `✓ delete-remoteed 0 B  edit-notes.md`."""
    backup = "/p/v-appydave/b65-x/.vam/backups/20261124T010000Z/old.md"
    outcomes = [
        done(ActionKind.UPLOAD, "raw.mp4", FileState.UPLOAD, 4_200_000),
        done(ActionKind.DOWNLOAD, "cut.mov", FileState.DOWNLOAD, 1_000_000),
        done(
            ActionKind.DELETE_REMOTE,
            "notes.md",
            FileState.DELETED_HERE,
            message="deleted in S3; bucket versioning keeps the old version",
        ),
        done(
            ActionKind.DELETE_LOCAL, "old.md", FileState.DELETED_THERE, message=f"moved to {backup}"
        ),
    ]
    text = "\n".join(report_lines(_report("up", [], outcomes)))
    assert "✓ uploaded 4.2 MB  raw.mp4" in text
    assert "✓ downloaded 1.0 MB  cut.mov" in text
    assert "✓ deleted in S3  notes.md  (bucket versioning keeps the old version)" in text
    assert "✓ removed here  old.md  (moved to /p/v-appydave/b65-x/.vam/backups/" in text
    # no made-up words, and no "0 B" for something that moved no bytes
    assert not re.search(r"\w-\w+ed\b|\b(recorded|forgeted|skiped)\b", text), text
    assert "0 B  notes.md" not in text


def test_a_run_that_only_deleted_says_so_in_its_summary():
    """Before: `0 uploaded (0 B), 0 synced now` after `s3.up --delete` deleted a file."""
    outcomes = [Outcome("notes.md", ActionKind.DELETE_REMOTE, FileState.DELETED_HERE, True)]
    lines = report_lines(_report("up", [], outcomes))
    assert lines[-1].strip() == "1 deleted in S3, 0 synced now", lines
    outcomes = [Outcome("old.md", ActionKind.DELETE_LOCAL, FileState.DELETED_THERE, True)]
    lines = report_lines(_report("down", [], outcomes))
    assert lines[-1].strip() == "1 removed here (kept in .vam/backups/), 0 synced now", lines


def test_a_dry_run_counts_deletions_too():
    actions = [
        Action(ActionKind.UPLOAD, "raw.mp4", FileState.UPLOAD, size=4_200_000),
        Action(ActionKind.DELETE_REMOTE, "notes.md", FileState.DELETED_HERE, size=50),
    ]
    text = "\n".join(report_lines(_report("up", actions, [], dry_run=True)))
    assert "would upload" in text and "would delete in S3  notes.md" in text
    assert "1 to upload (4.2 MB), 1 to delete in S3, 0 already synced" in text


def test_a_resumed_transfer_says_so_in_its_result_line():
    outcome = Outcome("raw.mp4", ActionKind.UPLOAD, FileState.UPLOAD, True, 1000, resumed=620)
    lines = report_lines(_report("up", [], [outcome]))
    assert "  ✓ uploaded 1.0 KB  raw.mp4  (resumed at 62%)" in lines
    assert report_dict(_report("up", [], [outcome]))["results"][0]["resumed_bytes"] == 620


def test_report_lines_leave_the_header_to_the_task_which_prints_it_before_the_transfer():
    lines = report_lines(_report("up", [], []))
    assert not any("s3://video-projects" in line for line in lines)


def test_status_lines_still_start_with_the_project_header():
    assert status_lines(_status())[0].startswith("appydave b65-x  (s3://video-projects/")
