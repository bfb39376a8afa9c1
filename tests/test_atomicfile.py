"""The one atomic text writer behind projects.json, the registry, the dashboard, sync records,
the checksum cache, .gitignore fixes and the settings file."""

import os
import stat

import pytest

from vam.core.atomicfile import write_text_atomic


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_is_readable_by_the_team_and_an_old_one_keeps_its_mode(tmp_path):
    fresh = write_text_atomic(tmp_path / "sub" / "projects.json", "{}\n")
    assert fresh.read_text() == "{}\n" and mode_of(fresh) == 0o644  # not mkstemp's 0600
    private = tmp_path / "settings.toml"
    private.write_text("old")
    private.chmod(0o600)
    write_text_atomic(private, "new")
    assert private.read_text() == "new" and mode_of(private) == 0o600
    write_text_atomic(private, "page", mode=0o640)
    assert mode_of(private) == 0o640


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(tmp_path):
    target = tmp_path / "record.json"
    target.write_text("the old record")

    with pytest.raises(TypeError):
        write_text_atomic(target, object())  # type: ignore[arg-type]
    assert target.read_text() == "the old record"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_line_endings_are_kept_when_asked(tmp_path):
    path = write_text_atomic(tmp_path / ".gitignore", "a\r\nb\r\n", newline="")
    assert path.read_bytes() == b"a\r\nb\r\n"
    path = write_text_atomic(tmp_path / "x.json", "a\nb\n", durable=True)
    assert path.read_bytes() == b"a\nb\n"
