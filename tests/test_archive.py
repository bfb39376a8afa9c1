"""ssd.archive: nothing local is deleted unless the SSD copy verified, file by file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import boto3
import pytest

from tests.conftest import REPO
from tests.test_cli import one_line_error
from vam.archive import (
    Hooks,
    execute_archive,
    execute_cleanup,
    pick_oldest,
    plan_archive,
    plan_cleanup,
    staging_state,
)
from vam.checksum import file_crc32
from vam.config import PARTIAL_SUFFIX, load_config
from vam.errors import SafetyError
from vam.files import walk
from vam.projects import find_brand, find_project, projects_root

B65 = "b65-guy-monroe-marketing-plan"


@pytest.fixture
def config(sample, as_user):
    as_user("david")
    return load_config(cwd=sample.root)


@pytest.fixture
def ad(config):
    return find_brand(config, "ad")


def project(config, brand, pid):
    return find_project(projects_root(config), brand, pid)


def snapshot(folder):
    """rel -> (size, crc32, mtime_ns) of every file under folder."""
    return {f.rel: (f.size, file_crc32(f.path), f.mtime_ns) for f in walk(folder, _rules())}


def _rules():
    from vam.config import FileRules

    return FileRules()


def test_clean_archive_copies_verifies_removes_and_keeps_light_files(config, ad, sample):
    b65 = project(config, ad, B65)
    before = snapshot(b65.path)
    plan = plan_archive(config, sample.root, b65)
    assert plan.ssd_dir == sample.ssd_root / "appydave" / "b50-b99" / B65  # existing range folder
    assert {s.action for s in plan.steps} == {"copy"}
    result = execute_archive(plan, config)

    assert result.removed_local and not b65.path.exists()
    assert snapshot(plan.ssd_dir) == before  # content and mtimes
    archived = sample.root / "v-appydave" / "archived" / "b50-b99" / B65
    light = snapshot(archived)
    assert set(light) == {
        f"{B65}.srt", "notes.md", "assets/thumb.png", "recording-transcripts/01-1-intro.txt",
        "s3-staging/brief.md",
    }  # fmt: skip
    assert all(light[rel] == before[rel] for rel in light)
    assert not list(plan.ssd_dir.rglob(f"*{PARTIAL_SUFFIX}"))


def test_corrupted_copy_deletes_nothing_then_a_clean_run_succeeds(config, ad, sample):
    b65 = project(config, ad, B65)
    before = snapshot(b65.path)

    class FlipAByte(Hooks):
        def before_verify(self, plan):
            target = plan.ssd_dir / "s3-staging" / "raw.mp4"
            data = bytearray(target.read_bytes())
            data[len(data) // 2] ^= 0xFF
            target.write_bytes(bytes(data))

    plan = plan_archive(config, sample.root, b65)
    with pytest.raises(SafetyError, match="did not verify.*s3-staging/raw.mp4: checksum differs"):
        execute_archive(plan, config, hooks=FlipAByte())
    assert snapshot(b65.path) == before  # the local project is untouched
    assert not (sample.root / "v-appydave" / "archived" / "b50-b99" / B65).exists()

    again = plan_archive(config, sample.root, b65)
    assert [s.rel for s in again.to_copy] == ["s3-staging/raw.mp4"]  # the rest was accepted
    execute_archive(again, config)
    assert not b65.path.exists()
    assert snapshot(again.ssd_dir) == before


def test_differing_ssd_copy_stops_with_a_per_file_report(config, ad, sample, vam_cli):
    b65 = project(config, ad, B65)
    ssd_dir = sample.ssd_root / "appydave" / "b50-b99" / B65
    (ssd_dir).mkdir(parents=True)
    (ssd_dir / "notes.md").write_text("# somebody else's notes\n")
    plan = plan_archive(config, sample.root, b65)
    assert [s.rel for s in plan.differs] == ["notes.md"]
    with pytest.raises(SafetyError, match="1 file.s. differ; nothing copied or deleted"):
        execute_archive(plan, config)
    assert b65.path.is_dir() and sorted(p.name for p in ssd_dir.iterdir()) == ["notes.md"]

    env = {"VAM_SETTINGS": str(sample.settings["david"])}
    result = vam_cli("ssd.archive", "--brand", "ad", "--project", "b65", env=env)
    one_line_error(result, "different copy of " + B65)
    assert "notes.md: size here" in result.stdout


def test_matching_ssd_copy_is_accepted_without_copying(config, ad, sample):
    b64 = project(config, ad, "b64-bmad-claude-sdk")
    first = plan_archive(config, sample.root, b64)
    execute_archive(first, config, keep_local=True)
    assert b64.path.is_dir()  # --keep-local
    again = plan_archive(config, sample.root, b64)
    assert {s.action for s in again.steps} == {"present"}
    result = execute_archive(again, config)
    assert result.copied == () and result.removed_local


def test_interrupted_copy_completes_on_rerun(config, ad, sample, tmp_path):
    """A real SIGKILL in the middle of a file: only a *.vam-part is left, the re-run completes."""
    b65 = project(config, ad, B65)
    before = snapshot(b65.path)
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from vam.archive import Hooks, execute_archive, plan_archive
        from vam.config import load_config
        from vam.projects import find_brand, find_project
        config = load_config()
        brand = find_brand(config, "ad")
        proj = find_project(Path({str(sample.root)!r}), brand, {B65!r})
        plan = plan_archive(config, Path({str(sample.root)!r}), proj)
        class Killer(Hooks):
            seen = 0
            def on_bytes(self, n):
                self.seen += n
                if self.seen > 100_000:  # inside the third file, after two complete ones
                    os.kill(os.getpid(), signal.SIGKILL)
        execute_archive(plan, config, hooks=Killer(), chunk=4096)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    ssd_dir = sample.ssd_root / "appydave" / "b50-b99" / B65
    partial = list(ssd_dir.rglob(f"*{PARTIAL_SUFFIX}"))
    assert len(partial) == 1
    real = partial[0].with_name(partial[0].name.removesuffix(PARTIAL_SUFFIX))
    assert not real.exists()  # never a half-written file under the real name
    assert snapshot(b65.path) == before

    plan = plan_archive(config, sample.root, b65)
    assert {s.action for s in plan.steps} == {"copy", "present"}
    execute_archive(plan, config)
    assert snapshot(ssd_dir) == before
    assert not list(ssd_dir.rglob(f"*{PARTIAL_SUFFIX}")) and not b65.path.exists()


def test_not_enough_space_is_refused_before_copying(config, ad, sample):
    b65 = project(config, ad, B65)
    plan = plan_archive(config, sample.root, b65, reserve=10**18)
    assert not plan.fits
    with pytest.raises(SafetyError, match="not enough space on the SSD"):
        execute_archive(plan, config)
    assert not plan.ssd_dir.exists() and b65.path.is_dir()


def test_next_two_picks_the_two_oldest(config, ad, sample, vam_cli):
    picked = pick_oldest(sample.root, config, ad, 2)
    assert [p.id for p in picked] == ["006-ac-carnivore-90", "b64-bmad-claude-sdk"]
    env = {"VAM_SETTINGS": str(sample.settings["david"])}
    result = vam_cli("ssd.archive", "--brand", "ad", "--next", "2", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "oldest 2 active project(s): 006-ac-carnivore-90, b64-bmad-claude-sdk" in result.stdout
    assert "-01-25/006-ac-carnivore-90" in result.stdout  # legacy range folder
    assert "dry run: nothing copied" in result.stdout
    assert (sample.root / "v-appydave" / "b64-bmad-claude-sdk").is_dir()
    assert not (sample.ssd_root / "appydave" / "b50-b99" / "b64-bmad-claude-sdk").exists()

    result = vam_cli("ssd.archive", "--brand", "ad", "--next", "2", env=env)
    assert result.returncode == 0, result.stderr
    assert not (sample.root / "v-appydave" / "b64-bmad-claude-sdk").exists()
    assert (sample.root / "v-appydave" / "archived" / "-01-25" / "006-ac-carnivore-90").is_dir()
    assert "S3 staging: unknown" in result.stdout


def test_next_minus_one_archives_nothing(config, ad, sample, vam_cli):
    """`--next -1` used to slice [:-1]: every active project but the newest, for real."""
    assert pick_oldest(sample.root, config, ad, -1) == []
    assert pick_oldest(sample.root, config, ad, 0) == []
    env = {"VAM_SETTINGS": str(sample.settings["david"])}
    result = vam_cli("ssd.archive", "--brand", "ad", "--next=-1", env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("vam: --next -1: give how many projects to archive, e.g. --next 1\n")
    assert (sample.root / "v-appydave" / "b64-bmad-claude-sdk").is_dir()


def test_storyline_project_archives_without_a_range(config, sample):
    voz = find_brand(config, "voz")
    story = project(config, voz, "boy-baker")
    plan = plan_archive(config, sample.root, story)
    assert plan.range is None and plan.ssd_dir == sample.ssd_root / "voz" / "boy-baker"
    execute_archive(plan, config)
    assert (sample.root / "v-voz" / "archived" / "boy-baker" / "data" / "storyline.json").is_file()


def test_cli_one_line_errors(vam_cli, sample):
    unplugged = sample.write_settings("jan", ssd_root=str(sample.root / "nope" / "T7"))
    one_line_error(
        vam_cli("ssd.archive", "--brand", "ad", "--project", "b65",
                env={"VAM_SETTINGS": str(unplugged)}),
        "SSD not mounted", "plug in the SSD",
    )  # fmt: skip
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}
    one_line_error(vam_cli("ssd.archive", "--brand", "ad", "--project", "b67", env=env),
                   "no project 'b67' in brand appydave")  # fmt: skip
    one_line_error(vam_cli("ssd.archive", "--brand", "ad", "--project", "b63", env=env),
                   "already archived")  # fmt: skip
    one_line_error(vam_cli("ssd.archive", "--brand", "ad", "--project", "b65", "--reserve",
                           "900TB", env=env), "not enough space on the SSD")  # fmt: skip


def test_cleanup_s3_deletes_only_what_the_ssd_copy_has(config, ad, sample, s3):
    b65 = project(config, ad, B65)
    s3c = boto3.client("s3")
    s3c.create_bucket(Bucket="video-projects")
    prefix = f"staging/v-appydave/{B65}/"
    raw = (b65.staging / "raw.mp4").read_bytes()
    s3c.put_object(Bucket="video-projects", Key=prefix + "raw.mp4", Body=raw)
    s3c.put_object(Bucket="video-projects", Key=prefix + "brief.md", Body=b"another brief\n")
    s3c.put_object(Bucket="video-projects", Key=prefix + "jan-edit.mov", Body=b"only in S3")
    # a multipart object: its ETag is no MD5; the sync index's CRC32 proves the content
    cafe = "b-roll café – take 2.mov"
    body = (b65.staging / cafe).read_bytes()
    mpu = s3c.create_multipart_upload(Bucket="video-projects", Key=prefix + cafe)
    part = s3c.upload_part(Bucket="video-projects", Key=prefix + cafe, UploadId=mpu["UploadId"],
                           PartNumber=1, Body=body)  # fmt: skip
    s3c.complete_multipart_upload(
        Bucket="video-projects", Key=prefix + cafe, UploadId=mpu["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )  # fmt: skip
    index = {"files": {cafe: {"size": len(body), "crc32": file_crc32(b65.staging / cafe)}}}
    s3c.put_object(Bucket="video-projects", Key=prefix + ".vam/index.json",
                   Body=json.dumps(index).encode())  # fmt: skip

    staging = staging_state(config, sample.root, b65)
    assert len(staging.projects[B65]) == 4
    plan = plan_archive(config, sample.root, b65)
    execute_archive(plan, config, keep_local=True)
    decisions = {d.obj.rel: d for d in plan_cleanup(plan, staging)}
    assert decisions["raw.mp4"].delete and "MD5 matches" in decisions["raw.mp4"].reason
    assert decisions[cafe].delete and "CRC32 matches" in decisions[cafe].reason
    assert not decisions["brief.md"].delete  # same name, other content
    assert (
        not decisions["jan-edit.mov"].delete
        and "not on the SSD" in decisions["jan-edit.mov"].reason
    )
    deleted = execute_cleanup(config, sample.root, plan, list(decisions.values()), staging)
    assert sorted(deleted) == sorted([prefix + "raw.mp4", prefix + cafe])
    left = {o["Key"] for o in s3c.list_objects_v2(Bucket="video-projects")["Contents"]}
    assert left == {prefix + "brief.md", prefix + "jan-edit.mov", prefix + ".vam/index.json"}


def test_cli_archive_with_cleanup_s3(sample, s3, vam_cli):
    s3c = boto3.client("s3")
    s3c.create_bucket(Bucket="video-projects")
    prefix = f"staging/v-appydave/{B65}/"
    staged = sample.root / "v-appydave" / B65 / "s3-staging"
    s3c.put_object(Bucket="video-projects", Key=prefix + "raw.mp4",
                   Body=(staged / "raw.mp4").read_bytes())  # fmt: skip
    s3c.put_object(Bucket="video-projects", Key=prefix + "brief.md",
                   Body=(staged / "brief.md").read_bytes())  # fmt: skip
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}

    dry = vam_cli("ssd.archive", "--brand", "ad", "--project", "b65", "--dry-run",
                  "--cleanup-s3", env=env)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert f"S3 staging: 2 file(s), 131.1 KB under {prefix}" in dry.stdout
    assert len(s3c.list_objects_v2(Bucket="video-projects")["Contents"]) == 2

    result = vam_cli("ssd.archive", "--brand", "ad", "--project", "b65", "--cleanup-s3", env=env)
    assert result.returncode == 0, result.stderr
    assert "delete raw.mp4: MD5 matches the SSD copy" in result.stdout
    assert "S3 staging: deleted 2 file(s)" in result.stdout
    assert s3c.list_objects_v2(Bucket="video-projects").get("KeyCount") == 0
    assert not (sample.root / "v-appydave" / B65).exists()


def test_what_the_archive_skips_is_left_in_place_not_deleted(config, ad, sample):
    b66 = project(config, ad, "b66-context-engineering")
    from vam.sample import write_text

    write_text(b66.path / ".DS_Store", "clutter")
    write_text(b66.path / ".vam" / "sync.json", "{}")
    write_text(b66.path / "tools" / "node_modules" / "x.js", "code")
    write_text(b66.path / ".git" / "HEAD", "ref: refs/heads/main\n")
    result = execute_archive(plan_archive(config, sample.root, b66), config)
    assert result.removed_local
    assert sorted(str(p.relative_to(b66.path)) for p in b66.path.rglob("*") if p.is_file()) == [
        ".git/HEAD", "tools/node_modules/x.js",
    ]  # fmt: skip
    assert any(".git/HEAD" in note for note in result.notes)
    assert not (b66.path / "recordings").exists()  # archived files are gone
