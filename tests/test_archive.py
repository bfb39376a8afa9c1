"""ssd.archive: nothing local is deleted unless the SSD copy verified, file by file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

from tests.conftest import REPO, run_vam
from tests.edits import edit_in_place, flip_byte, replace_keeping_mtime
from tests.test_cli import one_line_error
from vam.core import durable
from vam.core.checksum import file_crc32
from vam.core.config import load_config
from vam.core.errors import SafetyError
from vam.core.files import walk
from vam.core.layout import PARTIAL_SUFFIX
from vam.core.projects import find_brand, find_project, projects_root
from vam.demo.sample import write_media, write_text
from vam.ssd.archive import execute_archive
from vam.ssd.archive_plan import Hooks, pick_oldest, plan_archive, plan_lines
from vam.ssd.staging_cleanup import execute_cleanup, plan_cleanup, staging_state

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
    from vam.core.files import FileRules

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
        f"{B65}.srt",
        "notes.md",
        "assets/thumb.png",
        "recording-transcripts/01-1-intro.txt",
        "s3-staging/brief.md",
    }
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
        from vam.ssd.archive import execute_archive
        from vam.ssd.archive_plan import Hooks, plan_archive
        from vam.core.config import load_config
        from vam.core.projects import find_brand, find_project
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
    def archive(*args: str, settings: Path):
        return vam_cli("ssd.archive", "--brand", "ad", *args, env={"VAM_SETTINGS": str(settings)})

    unplugged = sample.write_settings("jan", ssd_root=str(sample.root / "nope" / "T7"))
    one_line_error(
        archive("--project", "b65", settings=unplugged), "SSD not mounted", "plug in the SSD"
    )
    david = sample.write_settings("david")
    one_line_error(
        archive("--project", "b67", settings=david), "no project 'b67' in brand appydave"
    )
    one_line_error(archive("--project", "b63", settings=david), "already archived")
    one_line_error(
        archive("--project", "b65", "--reserve", "900TB", settings=david),
        "not enough space on the SSD",
    )


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
    part = s3c.upload_part(
        Bucket="video-projects",
        Key=prefix + cafe,
        UploadId=mpu["UploadId"],
        PartNumber=1,
        Body=body,
    )
    s3c.complete_multipart_upload(
        Bucket="video-projects",
        Key=prefix + cafe,
        UploadId=mpu["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    etag = s3c.head_object(Bucket="video-projects", Key=prefix + cafe)["ETag"].strip('"')
    entry = {
        "size": len(body),
        "crc32": file_crc32(b65.staging / cafe),
        "etag": etag,
        "version_id": None,
        "uploaded_by": "david",
        "uploaded_at": "2026-11-24T10:00:00Z",
        "mtime_ns": None,
    }
    index = {"files": {cafe: entry}}  # as vam writes it (vam.s3sync.remoteindex)
    s3c.put_object(
        Bucket="video-projects", Key=prefix + ".vam/index.json", Body=json.dumps(index).encode()
    )

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
    s3c.put_object(
        Bucket="video-projects", Key=prefix + "raw.mp4", Body=(staged / "raw.mp4").read_bytes()
    )
    s3c.put_object(
        Bucket="video-projects", Key=prefix + "brief.md", Body=(staged / "brief.md").read_bytes()
    )
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}

    dry = vam_cli(
        "ssd.archive", "--brand", "ad", "--project", "b65", "--dry-run", "--cleanup-s3", env=env
    )
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
    from vam.demo.sample import write_text

    write_text(b66.path / ".DS_Store", "clutter")
    write_text(b66.path / ".vam" / "sync.json", "{}")
    write_text(b66.path / "tools" / "node_modules" / "x.js", "code")
    write_text(b66.path / ".git" / "HEAD", "ref: refs/heads/main\n")
    result = execute_archive(plan_archive(config, sample.root, b66), config)
    assert result.removed_local
    assert sorted(str(p.relative_to(b66.path)) for p in b66.path.rglob("*") if p.is_file()) == [
        ".git/HEAD",
        "tools/node_modules/x.js",
    ]
    assert any(".git/HEAD" in note for note in result.notes)
    assert not (b66.path / "recordings").exists()  # archived files are gone


# --------------------------------------------------------------------------- issue 12, item 8:
# the versions `s3.down --force` and `ssd.sync --overwrite` keep in .vam/backups travel with the
# project; the SSD copy is on the disk itself before anything local goes; the delete re-hashes.

STAMP = "20250301T101500Z"


def _ssd_dir(sample, pid=B65):
    return sample.ssd_root / "appydave" / "b50-b99" / pid


def test_backups_kept_by_force_travel_to_the_ssd_verified_and_stay_there(config, ad, sample):
    """David's s3.down --force kept his raw cut and his brief in .vam/backups: archiving b65 must
    not throw them away. They go to the SSD copy, verified; vam's own state does not."""
    b65 = project(config, ad, B65)
    backups = b65.path / ".vam" / "backups"
    write_media(backups / STAMP / "raw.mp4", 48 * 1024, seed=7)  # heavy: the cut Jan replaced
    write_text(backups / STAMP / "brief.md", "David: 25 seconds!\n")
    write_text(b65.path / ".vam" / "sync-david.json", "{}")
    write_text(b65.path / ".vam" / "checksums.json", "{}")
    write_text(b65.path / ".vam" / "uploads" / "0a1b.json", "{}")
    kept_before = snapshot(backups)

    plan = plan_archive(config, sample.root, b65)
    actions = {s.rel: s.action for s in plan.steps}
    assert actions[f".vam/backups/{STAMP}/raw.mp4"] == "copy"
    assert actions[f".vam/backups/{STAMP}/brief.md"] == "copy"
    assert not any(rel.startswith(".vam/") and "/backups/" not in f"/{rel}" for rel in actions)
    text = "\n".join(plan_lines(plan))
    assert f"copy     .vam/backups/{STAMP}/raw.mp4" in text
    assert "backups:" in text and str(plan.ssd_dir / ".vam" / "backups") in text

    class FlipTheBackup(Hooks):  # verified like every other file
        def before_verify(self, plan):
            flip_byte(plan.ssd_dir / ".vam" / "backups" / STAMP / "raw.mp4", 500)

    with pytest.raises(SafetyError, match=f"backups/{STAMP}/raw.mp4: checksum differs"):
        execute_archive(plan, config, hooks=FlipTheBackup())
    assert snapshot(backups) == kept_before

    result = execute_archive(plan_archive(config, sample.root, b65), config)
    assert result.removed_local and not b65.path.exists()
    assert snapshot(plan.ssd_dir / ".vam" / "backups") == kept_before  # bytes and mtimes
    assert sorted(p.name for p in (plan.ssd_dir / ".vam").iterdir()) == ["backups"]
    # the light files come back; the backups (a heavy one among them) stay with the full copy
    archived = sample.root / "v-appydave" / "archived" / "b50-b99" / B65
    assert (archived / "notes.md").is_file() and not (archived / ".vam").exists()


def test_cli_a_force_down_backup_is_archived_and_never_taken_for_a_project_file(
    sample, s3, vam_cli
):
    """As David types it: his brief is replaced by Jan's with `s3.down --force`, then he archives
    b65. The dry run names the backup, the SSD keeps it; ssd.sync, ssd.status and the manifest
    do not mistake the SSD's .vam/backups for files of the project."""
    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket="video-projects")
    client.put_bucket_versioning(
        Bucket="video-projects", VersioningConfiguration={"Status": "Enabled"}
    )
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}
    folder = sample.project("v-appydave", B65)
    assert vam_cli("s3.up", cwd=folder, env=env).returncode == 0
    client.put_object(
        Bucket="video-projects",
        Key=f"staging/v-appydave/{B65}/brief.md",
        Body=b"Jan: 15 seconds.\n",
        Metadata={"uploaded-by": "jan"},
    )
    brief = folder / "s3-staging" / "brief.md"
    brief.write_text("David: 25 seconds, and keep the joke!\n")
    os.utime(brief, ns=(brief.stat().st_mtime_ns + 2 * 10**9,) * 2)
    down = vam_cli("s3.down", "--force", cwd=folder, env=env)
    assert down.returncode == 0, down.stderr
    [backup] = (folder / ".vam" / "backups").rglob("brief.md")
    rel = backup.relative_to(folder).as_posix()

    dry = vam_cli("ssd.archive", "--brand", "ad", "--project", "b65", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"copy     {rel}" in dry.stdout and "backups:" in dry.stdout
    assert backup.is_file()

    run = vam_cli("ssd.archive", "--brand", "ad", "--project", "b65", env=env)
    assert run.returncode == 0, run.stderr
    ssd_dir = _ssd_dir(sample)
    assert (ssd_dir / rel).read_text() == "David: 25 seconds, and keep the joke!\n"
    assert (ssd_dir / "s3-staging" / "brief.md").read_text() == "Jan: 15 seconds.\n"
    assert not folder.exists()
    archived = sample.root / "v-appydave" / "archived" / "b50-b99" / B65
    assert (archived / "s3-staging" / "brief.md").read_text() == "Jan: 15 seconds.\n"
    assert not (archived / ".vam").exists()

    sync = vam_cli("ssd.sync", "--brand", "ad", env=env)
    assert sync.returncode == 0, sync.stderr
    assert ".vam" not in sync.stdout and not (archived / ".vam").exists()
    status = vam_cli("ssd.status", "--brand", "ad", env=env)
    assert status.returncode == 0, status.stderr
    both = next(line for line in status.stdout.splitlines() if "on both" in line)
    assert B65 in both and ".vam" not in status.stdout
    gen = vam_cli("manifest.generate", "--brand", "ad", "--no-s3", env=env)
    assert gen.returncode == 0, gen.stderr
    data = json.loads((sample.root / "v-appydave" / "projects.json").read_text())
    ids = [p["id"] for p in data["projects"]]
    assert ".vam" not in ids and "backups" not in ids
    entry = next(p for p in data["projects"] if p["id"] == B65)
    project_bytes = sum(f.size for f in walk(ssd_dir, _rules()))  # walk never enters .vam
    assert entry["storage"]["ssd"] == {"exists": True, "path": str(ssd_dir), "bytes": project_bytes}
    assert entry["storage"]["local"]["structure"] == "archived"
    # one copy, on the SSD (the cloud archive was not read: --no-s3), and nothing else to say
    assert [w.split(":")[0] for w in entry["warnings"]] == [
        "fewer than two copies of its heavy files"
    ]


def test_a_heavy_file_edited_in_place_after_its_copy_verified_is_kept(config, ad, sample):
    """Premiere re-renders the final in place (same size, mtime restored) while the archive runs:
    the delete re-hashes it, keeps it, and does not call the older SSD copy its archive."""
    b65 = project(config, ad, B65)
    final = b65.path / "final" / f"{B65}-v1.mp4"
    old = final.read_bytes()

    class Rerender(Hooks):
        def before_verify(self, plan):
            flip_byte(final, 1000)

    plan = plan_archive(config, sample.root, b65)
    result = execute_archive(plan, config, hooks=Rerender())
    assert final.is_file() and final.read_bytes() != old  # the edit survived
    assert not result.removed_local
    [kept] = result.kept
    assert kept.rel == f"final/{B65}-v1.mp4" and "changed since it was copied" in kept.reason
    # the SSD's copy is the older version: moved aside, kept, not left as the archive of it
    assert not (plan.ssd_dir / "final" / final.name).exists()
    [aside] = (plan.ssd_dir / ".vam" / "backups").rglob(final.name)
    assert aside.read_bytes() == old and kept.aside == aside
    assert not (b65.path / "recordings").exists()  # the files that matched went

    again = plan_archive(config, sample.root, b65)
    assert [s.rel for s in again.to_copy] == [f"final/{B65}-v1.mp4"]
    edited = final.read_bytes()
    assert execute_archive(again, config).removed_local and not b65.path.exists()
    assert (plan.ssd_dir / "final" / final.name).read_bytes() == edited


def test_a_light_file_edited_in_place_after_its_copy_is_kept_and_not_restored_stale(
    config, ad, sample
):
    b65 = project(config, ad, B65)
    notes = b65.path / "notes.md"

    class Edit(Hooks):
        def before_verify(self, plan):
            edit_in_place(notes, "## ")  # same size, mtime restored

    plan = plan_archive(config, sample.root, b65)
    result = execute_archive(plan, config, hooks=Edit())
    assert notes.read_text().startswith("## ")
    assert [k.rel for k in result.kept] == ["notes.md"]
    archived = sample.root / "v-appydave" / "archived" / "b50-b99" / B65
    # the archived folder does not get the old notes as if they were the project's
    assert not (archived / "notes.md").exists() and (archived / f"{B65}.srt").is_file()
    execute_archive(plan_archive(config, sample.root, b65), config)
    assert (archived / "notes.md").read_text().startswith("## ") and not b65.path.exists()


def test_a_backup_made_while_the_archive_runs_is_not_deleted(config, ad, sample):
    """s3.down --force in another terminal keeps David's version in .vam/backups while the
    archive copies: that backup is in no plan, so nothing local goes (as for any file added
    meanwhile), and the same command again archives it too."""
    b65 = project(config, ad, B65)
    late = b65.path / ".vam" / "backups" / STAMP / "brief.md"

    class ForceDownMeanwhile(Hooks):
        def before_verify(self, plan):
            write_text(late, "David's brief, kept by s3.down --force\n")

    plan = plan_archive(config, sample.root, b65)
    with pytest.raises(SafetyError, match=f"new: .vam/backups/{STAMP}/brief.md"):
        execute_archive(plan, config, hooks=ForceDownMeanwhile())
    assert late.read_text() == "David's brief, kept by s3.down --force\n"
    assert (b65.path / "s3-staging" / "raw.mp4").is_file()
    execute_archive(plan_archive(config, sample.root, b65), config)
    assert not b65.path.exists()
    kept = plan.ssd_dir / ".vam" / "backups" / STAMP / "brief.md"
    assert kept.read_text() == "David's brief, kept by s3.down --force\n"


def test_a_backup_made_while_the_local_files_are_being_removed_is_left_and_said(config, ad, sample):
    """Later still, while the verified files are being deleted: it is left in place, listed."""
    b65 = project(config, ad, B65)
    late = b65.path / ".vam" / "backups" / STAMP / "brief.md"

    class ForceDownDuringRemoval(Hooks):
        def before_unlink(self, step):
            if not late.exists():
                write_text(late, "David's brief, kept by s3.down --force\n")

    write_text(b65.path / ".vam" / "sync-david.json", "{}")
    result = execute_archive(
        plan_archive(config, sample.root, b65), config, hooks=ForceDownDuringRemoval()
    )
    assert late.read_text() == "David's brief, kept by s3.down --force\n"
    assert any(f".vam/backups/{STAMP}/brief.md" in note for note in result.notes)
    assert not (b65.path / ".vam" / "sync-david.json").exists()  # vam's state went
    left = sorted(p.relative_to(b65.path).as_posix() for p in b65.path.rglob("*") if p.is_file())
    assert left == [f".vam/backups/{STAMP}/brief.md"]


def test_the_ssd_copy_is_durable_and_read_back_uncached_before_any_local_file_goes(
    config, ad, sample, monkeypatch
):
    """Every SSD file flushed to the disk itself (F_FULLFSYNC on macOS), every SSD folder that
    got a new entry fsynced, every read-back made uncached — all while every local file still
    exists. vam.durable's own functions are wrapped (they still run) to see the calls."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to name the file behind a descriptor")
    b65 = project(config, ad, B65)
    plan = plan_archive(config, sample.root, b65)
    n = len(plan.steps)
    events = []

    def local_files():
        return sum(1 for _ in walk(b65.path, _rules()))

    def wrap(name, of_fd):
        real = getattr(durable, name)

        def watched(target, *a, **kw):
            path = Path(os.readlink(f"/proc/self/fd/{target}")) if of_fd else Path(target)
            events.append((name, path, local_files()))
            return real(target, *a, **kw)

        monkeypatch.setattr(durable, name, watched)

    wrap("flush", True)
    wrap("uncached", True)
    wrap("fsync_dir", False)
    execute_archive(plan, config)
    assert not b65.path.exists()

    ssd = [(name, p, left) for name, p, left in events if p.is_relative_to(sample.ssd_root)]
    copies = {s.dst for s in plan.steps}
    # flushed under the temporary name, before the rename gives it the real one
    flushed = {p.with_name(p.name.removesuffix(PARTIAL_SUFFIX)) for n, p, _ in ssd if n == "flush"}
    assert copies <= flushed
    assert copies <= {p for name, p, _ in ssd if name == "uncached"}
    folders = {d.parent for d in copies} | {plan.ssd_dir.parent}  # b50-b99 got b65's entry
    assert folders <= {p for name, p, _ in ssd if name == "fsync_dir"}
    assert all(left == n for _name, _path, left in ssd)  # nothing local gone yet


def test_an_archived_light_file_with_the_same_size_and_mtime_but_other_bytes_stops_it(
    config, ad, sample
):
    """archived/b65/notes.md already exists (an old restore) with the same size and mtime but
    other words: an mtime match is no proof, so the clash stops the archive before any delete."""
    b65 = project(config, ad, B65)
    archived = sample.root / "v-appydave" / "archived" / "b50-b99" / B65
    ours = b65.path / "notes.md"
    theirs = archived / "notes.md"
    write_text(theirs, ours.read_text().replace("Notes.", "Other."))
    os.utime(theirs, ns=(ours.stat().st_atime_ns, ours.stat().st_mtime_ns))
    before = snapshot(b65.path)
    with pytest.raises(SafetyError, match="already holds different versions of notes.md"):
        execute_archive(plan_archive(config, sample.root, b65), config)
    assert snapshot(b65.path) == before and "Other" in theirs.read_text()


def test_an_archive_stopped_after_its_deletes_is_finished_by_the_same_command(config, ad, sample):
    """A run killed after it removed the files but before vam's state: the folder holds only
    .vam; the same command finishes (it used to say 'no files to archive' forever)."""
    b65 = project(config, ad, B65)
    execute_archive(plan_archive(config, sample.root, b65), config, keep_local=True)
    for f in walk(b65.path, _rules()):
        f.path.unlink()
    write_text(b65.path / ".vam" / "sync-david.json", "{}")
    plan = plan_archive(config, sample.root, b65)
    assert plan.steps == ()
    result = execute_archive(plan, config)
    assert result.removed_local and not b65.path.exists()
    archived = sample.root / "v-appydave" / "archived" / "b50-b99" / B65
    assert (archived / "notes.md").read_text() == f"# {B65}\n\nNotes.\n"


@pytest.mark.parametrize(
    "edit",
    [flip_byte, lambda p: replace_keeping_mtime(p, _same_size(p))],
    ids=["in-place", "saved-by-rename"],
)
def test_an_edit_made_right_before_the_delete_is_kept(config, ad, sample, edit):
    """The last moment: after the verify and the light files, as vam reaches the file. Whether
    the editor writes in place or saves by rename, with the mtime restored, the re-hash sees it."""
    b65 = project(config, ad, B65)
    raw = b65.staging / "raw.mp4"
    old = raw.read_bytes()

    class EditAtTheLastMoment(Hooks):
        def before_unlink(self, step):
            if step.rel == "s3-staging/raw.mp4":
                edit(raw)

    plan = plan_archive(config, sample.root, b65)
    result = execute_archive(plan, config, hooks=EditAtTheLastMoment())
    assert [k.rel for k in result.kept] == ["s3-staging/raw.mp4"]
    assert raw.read_bytes() != old and len(raw.read_bytes()) == len(old)
    assert result.kept[0].aside.read_bytes() == old
    assert not (plan.ssd_dir / "s3-staging" / "raw.mp4").exists()
    assert not (b65.path / "recordings").exists()


def _same_size(path):
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    return bytes(data)


def test_a_file_whose_ssd_copy_vanished_before_the_delete_is_kept(config, ad, sample):
    """The SSD copy is looked at again right before each delete, not trusted from the verify."""
    b65 = project(config, ad, B65)

    class SomeoneTidiesTheSsd(Hooks):
        def before_unlink(self, step):
            if step.rel == "s3-staging/raw.mp4":
                step.dst.unlink()

    result = execute_archive(
        plan_archive(config, sample.root, b65), config, hooks=SomeoneTidiesTheSsd()
    )
    [kept] = result.kept
    assert kept.rel == "s3-staging/raw.mp4" and "SSD copy cannot be seen" in kept.reason
    assert kept.aside is None and (b65.staging / "raw.mp4").is_file()
    assert not result.removed_local


def test_an_archive_killed_while_deleting_is_finished_by_the_same_command(config, ad, sample):
    """A real SIGKILL between two deletes: every file is either still here or on the SSD (and,
    if light, back under archived/); the same command finishes the job."""
    b65 = project(config, ad, B65)
    before = snapshot(b65.path)
    write_text(b65.path / ".vam" / "sync-david.json", "{}")
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from vam.ssd.archive import execute_archive
        from vam.ssd.archive_plan import Hooks, plan_archive
        from vam.core.config import load_config
        from vam.core.projects import find_brand, find_project
        config = load_config()
        proj = find_project(Path({str(sample.root)!r}), find_brand(config, "ad"), {B65!r})
        plan = plan_archive(config, Path({str(sample.root)!r}), proj)
        class Killer(Hooks):
            seen = 0
            def before_unlink(self, step):
                self.seen += 1
                if self.seen == 4:
                    os.kill(os.getpid(), signal.SIGKILL)
        execute_archive(plan, config, hooks=Killer())
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    ssd_dir = _ssd_dir(sample)
    archived = sample.root / "v-appydave" / "archived" / "b50-b99" / B65
    here = snapshot(b65.path)
    assert 0 < len(here) < len(before)
    assert snapshot(ssd_dir) == before  # the SSD has every file
    for rel in set(before) - set(here):
        if rel.endswith((".md", ".srt", ".txt", ".png")):
            assert (archived / rel).read_bytes() == (ssd_dir / rel).read_bytes()

    result = execute_archive(plan_archive(config, sample.root, b65), config)
    assert result.removed_local and not b65.path.exists()
    assert snapshot(archived) == {
        rel: v for rel, v in before.items() if rel.endswith((".md", ".srt", ".txt", ".png"))
    }


def test_cli_a_file_changed_during_the_archive_is_kept_and_the_exit_says_so(sample):
    """The real `vam ssd.archive` with one injected edit (the final re-rendered in place after
    its copy verified): the file is named, the exit is non-zero with one line; again, it works."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "VAM_SETTINGS": str(sample.write_settings("david")),
    }
    final = sample.project("v-appydave", B65) / "final" / f"{B65}-v1.mp4"
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from tests.edits import flip_byte
        import vam.tasks.ssd as tasks
        tasks._Progress.before_verify = lambda self, plan: flip_byte(Path({str(final)!r}), 99)
        from vam.cli import main
        sys.argv = ["vam", "ssd.archive", "--brand", "ad", "--project", "b65"]
        main()
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1, proc.stderr
    assert f"kept final/{B65}-v1.mp4: changed since it was copied (checksum here" in proc.stdout
    assert "the SSD's older copy is now" in proc.stdout
    one_line_error(proc, "changed after their SSD copy verified", "run the same command again")
    assert final.is_file()
    again = run_vam("ssd.archive", "--brand", "ad", "--project", "b65", env=env)
    assert again.returncode == 0, again.stderr
    assert not final.exists() and not final.parent.parent.exists()
