"""ssd.sync (light files back from the SSD) and ssd.status (what is where)."""

from __future__ import annotations

import os

import pytest

from tests.test_cli import one_line_error
from vam.core.config import load_config
from vam.core.errors import NotFoundError, SafetyError
from vam.core.layout import PARTIAL_SUFFIX
from vam.core.projects import find_brand
from vam.demo.sample import write_text
from vam.ssd.lightsync import apply_light, backup_dir, brand_status, plan_sync


@pytest.fixture
def config(sample, as_user):
    as_user("david")
    return load_config(cwd=sample.root)


def actions(report):
    return {(p.id, a.rel): a.action for p in report.projects for a in p.actions}


def apply(report, **kw):
    for p in report.projects:
        apply_light(list(p.actions), backup_dir=backup_dir(p.target, "test-stamp"), **kw)


def test_sync_brings_light_files_back_and_skips_identical(config, sample):
    ad = find_brand(config, "ad")
    report = plan_sync(config, sample.root, ad)
    acts = actions(report)
    assert acts[("b12-ssd-only", "notes.md")] == "copy"
    assert acts[("b63-flivideo", "notes.md")] == "same"
    assert ("b63-flivideo", "final/b63-flivideo.mp4") not in acts  # heavy files stay on the SSD
    apply(report)
    src = sample.ssd_root / "appydave" / "b00-b49" / "b12-ssd-only" / "notes.md"
    dst = sample.root / "v-appydave" / "archived" / "b00-b49" / "b12-ssd-only" / "notes.md"
    assert dst.read_text() == "# b12\n"
    assert dst.stat().st_mtime_ns == src.stat().st_mtime_ns  # mtime preserved
    assert not list(dst.parent.glob(f"*{PARTIAL_SUFFIX}"))
    assert set(actions(plan_sync(config, sample.root, ad)).values()) == {"same"}


def test_same_content_with_other_mtime_is_identical_and_local_edits_are_kept(config, sample):
    ad = find_brand(config, "ad")
    local = sample.root / "v-appydave" / "archived" / "b50-b99" / "b63-flivideo"
    os.utime(local / "notes.md", (1, 1))  # same bytes, other mtime: checksum says identical
    write_text(local / "b63-flivideo.srt", "edited locally\n")
    acts = actions(plan_sync(config, sample.root, ad))
    assert acts[("b63-flivideo", "notes.md")] == "same"
    assert acts[("b63-flivideo", "b63-flivideo.srt")] == "differs"
    apply(plan_sync(config, sample.root, ad))
    assert (local / "b63-flivideo.srt").read_text() == "edited locally\n"  # never silently replaced
    apply(plan_sync(config, sample.root, ad), overwrite=True)
    assert "Archived" in (local / "b63-flivideo.srt").read_text()
    # the local edit the SSD's version replaced is kept, never lost
    kept = local / ".vam" / "backups" / "test-stamp" / "b63-flivideo.srt"
    assert kept.read_text() == "edited locally\n"
    assert actions(plan_sync(config, sample.root, ad))[("b63-flivideo", "b63-flivideo.srt")] == (
        "same"
    )  # .vam is never taken for a light file


def test_overwrite_without_a_place_for_the_local_versions_is_refused(config, sample):
    report = plan_sync(config, sample.root, find_brand(config, "ad"))
    with pytest.raises(ValueError, match="backup_dir"):
        apply_light(list(report.projects[0].actions), overwrite=True)


def test_ssd_sync_overwrite_on_the_cli_says_where_the_local_versions_are(vam_cli, sample):
    local = sample.root / "v-appydave" / "archived" / "b50-b99" / "b63-flivideo"
    write_text(local / "b63-flivideo.srt", "edited locally\n")
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}
    result = vam_cli("ssd.sync", "--brand", "ad", "--overwrite", env=env)
    assert result.returncode == 0, result.stderr
    assert f"your versions of the replaced files are kept in {local / '.vam' / 'backups'}" in (
        result.stdout
    )
    [kept] = (local / ".vam" / "backups").glob("*/b63-flivideo.srt")
    assert kept.read_text() == "edited locally\n"


def test_active_projects_on_the_ssd_are_skipped(config, sample):
    ad = find_brand(config, "ad")
    write_text(sample.ssd_root / "appydave" / "b50-b99" / "b64-bmad-claude-sdk" / "notes.md", "x\n")
    report = plan_sync(config, sample.root, ad)
    assert report.skipped_active == ("b64-bmad-claude-sdk",)


def test_sync_dry_run_and_unplugged_ssd_on_the_cli(vam_cli, sample):
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}
    result = vam_cli("ssd.sync", "--brand", "ad", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "would copy b12-ssd-only/notes.md" in result.stdout
    assert not (sample.root / "v-appydave" / "archived" / "b00-b49" / "b12-ssd-only").exists()
    unplugged = sample.write_settings("jan", ssd_root=str(sample.root / "nope" / "T7"))
    result = vam_cli("ssd.sync", "--brand", "ad", env={"VAM_SETTINGS": str(unplugged)})
    one_line_error(result, "SSD not mounted")


def test_status_per_brand(config, sample, vam_cli):
    st = brand_status(config, sample.root, find_brand(config, "ad"))
    assert st.mounted and st.free_bytes > 0
    assert st.ssd_only == ("b12-ssd-only",)
    assert st.both == ("003-first-video", "b63-flivideo")
    assert "b65-guy-monroe-marketing-plan" in st.local_only
    assert "Misc Stuff" not in st.heavy_local_only
    env = {"VAM_SETTINGS": str(sample.settings["david"])}
    result = vam_cli("ssd.status", env=env)
    assert result.returncode == 0, result.stderr
    assert "on SSD only (1): b12-ssd-only" in result.stdout
    assert "supportsignal: SSD" in result.stdout
    # inside a brand's repo, that brand only (as ssd.sync, s3.status and the rest)
    here = vam_cli("ssd.status", cwd=sample.root / "v-appydave", env=env)
    assert here.returncode == 0, here.stderr
    assert "appydave: SSD" in here.stdout and "supportsignal" not in here.stdout


def test_status_says_when_the_ssd_is_not_mounted(sample, as_user, vam_cli):
    path = as_user("jan", ssd_root=str(sample.root / "nope" / "T7"))
    config = load_config(cwd=sample.root)
    assert not brand_status(config, sample.root, find_brand(config, "ad")).mounted
    with pytest.raises(NotFoundError, match="SSD not mounted"):
        plan_sync(config, sample.root, find_brand(config, "ad"))
    result = vam_cli("ssd.status", "--brand", "ad", env={"VAM_SETTINGS": str(path)})
    assert result.returncode == 0
    assert result.stdout.startswith("appydave: SSD not mounted")


def test_a_light_file_saved_into_the_archived_folder_meanwhile_is_never_overwritten(config, sample):
    """David saves a new notes.md into archived/b12 between ssd.sync's plan and its copy: the copy
    stops with one line naming it and his file is untouched."""
    ad = find_brand(config, "ad")
    report = plan_sync(config, sample.root, ad)
    [b12] = [p for p in report.projects if p.id == "b12-ssd-only"]
    dst = b12.target / "notes.md"
    write_text(dst, "David's new notes, saved just now\n")
    with pytest.raises(SafetyError, match=f"{dst} appeared while it was being copied"):
        apply_light(list(b12.actions), backup_dir=backup_dir(b12.target, "test-stamp"))
    assert dst.read_text() == "David's new notes, saved just now\n"
    assert not list(dst.parent.glob(f"*{PARTIAL_SUFFIX}"))
