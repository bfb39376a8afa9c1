"""vam.filecopy: a copy never takes a name that is already someone's, a backup never replaces
another backup, and new folders are on the disk before anything is put in them."""

from __future__ import annotations

import pytest

from vam.core import durable
from vam.core.filecopy import copy_file_atomic, keep_copy
from vam.core.layout import PARTIAL_SUFFIX


def test_an_exclusive_copy_never_replaces_a_file_that_appeared(tmp_path):
    src, dst = tmp_path / "ssd" / "notes.md", tmp_path / "archived" / "notes.md"
    src.parent.mkdir()
    src.write_text("from the SSD\n")
    dst.parent.mkdir()
    dst.write_text("saved here a moment ago\n")
    with pytest.raises(FileExistsError):
        copy_file_atomic(src, dst, exclusive=True)
    assert dst.read_text() == "saved here a moment ago\n"
    assert not list(dst.parent.glob(f"*{PARTIAL_SUFFIX}"))
    copy_file_atomic(src, dst)  # without exclusive: the caller's own decision to replace
    assert dst.read_text() == "from the SSD\n"


def test_a_second_backup_under_the_same_name_keeps_the_first(tmp_path):
    """Two `s3.down --force` in the same second: the first backup used to be overwritten."""
    work = tmp_path / "brief.md"
    work.write_text("David's first version\n")
    dest = tmp_path / ".vam" / "backups" / "20250301T101500Z" / "brief.md"
    assert keep_copy(work, dest) == dest
    work.unlink()
    work.write_text("David's second version\n")
    second = keep_copy(work, dest)
    assert second == dest.with_name("brief (2).md")
    assert dest.read_text() == "David's first version\n"
    assert second.read_text() == "David's second version\n"


def test_new_folders_are_made_durable_before_the_file_is_renamed_into_them(tmp_path, monkeypatch):
    """Each new folder's entry fsynced in its parent, the file flushed, its folder fsynced after
    the rename (vam.durable's functions wrapped; they still run)."""
    calls = []

    def watch(name):
        real = getattr(durable, name)

        def watched(target):
            calls.append((name, target))
            return real(target)

        monkeypatch.setattr(durable, name, watched)

    watch("flush")
    watch("fsync_dir")
    src = tmp_path / "raw.mp4"
    src.write_bytes(b"\x00" * 4096)
    dst = tmp_path / "ssd" / "b50-b99" / "b65" / "raw.mp4"
    copy_file_atomic(src, dst)
    dirs = [x for n, x in calls if n == "fsync_dir"]
    assert dirs[:3] == [tmp_path, tmp_path / "ssd", tmp_path / "ssd" / "b50-b99"]
    assert dirs[-1] == dst.parent and [n for n, _ in calls].count("flush") == 1
    assert calls.index(("fsync_dir", dst.parent)) > [n for n, _ in calls].index("flush")
