"""manifest.generate on the sample root: every kind of project, SSD unplugged, S3 there or not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.test_cli import one_line_error
from vam.catalog.manifest import MANIFEST_NAME
from vam.catalog.registry import REGISTRY_NAME, generate
from vam.core.config import load_config
from vam.core.projects import find_brand, projects_root
from vam.demo.sample import write_media, write_text

B65 = "b65-guy-monroe-marketing-plan"
PREFIX = f"staging/v-appydave/{B65}/"


@pytest.fixture
def config(sample, as_user):
    as_user("david")
    return load_config(cwd=sample.root)


def by_id(data: dict) -> dict:
    return {p["id"]: p for p in data["projects"]}


def kinds(data: dict) -> set[tuple[str | None, str]]:
    return {(w["project"], w["kind"]) for w in data["warnings"]}


def run(config, brands=None, **kw):
    root = projects_root(config)
    written, registry = generate(config, root, brands or list(config.team.brands), **kw)
    return {w.brand: w for w in written}, registry


def test_every_kind_of_project_offline(config, sample):
    # a project whose only video sits three folders deep: the old tool said "no heavy files"
    deep = sample.root / "v-appydave" / "b67-deep-video"
    write_text(deep / "notes.md", "# b67\n")
    write_media(deep / "a" / "b" / "c" / "clip.MP4", 1000)

    written, registry_path = run(config, use_s3=False)
    ad = written["appydave"]
    assert ad.path == sample.root / "v-appydave" / MANIFEST_NAME
    on_disk = json.loads(ad.path.read_text())
    assert on_disk["format"] == 1 and on_disk["brand"]["shortcut"] == "ad"
    p = by_id(on_disk)

    flat = p[B65]["storage"]
    assert p[B65]["type"] == "flivideo" and p[B65]["range"] == "b50-b99"
    assert flat["local"]["structure"] == "flat" and flat["local"]["has_heavy_files"]
    assert flat["local"]["has_light_files"] and flat["local"]["bytes"] > 0
    assert flat["ssd"]["exists"] is False  # not on the SSD: false, never null
    assert flat["ssd"]["path"].endswith(f"appydave/b50-b99/{B65}")
    assert "s3" not in flat  # S3 not read

    deep_local = p["b67-deep-video"]["storage"]["local"]
    assert deep_local["has_heavy_files"] is True and deep_local["heavy_bytes"] == 1000

    both = p["b63-flivideo"]["storage"]
    assert both["local"]["structure"] == "archived" and not both["local"]["has_heavy_files"]
    assert both["ssd"]["exists"] is True and both["ssd"]["bytes"] > both["local"]["bytes"]

    ssd_only = p["b12-ssd-only"]["storage"]
    assert ssd_only["local"]["exists"] is False and ssd_only["ssd"]["exists"] is True
    assert p["b12-ssd-only"]["range"] == "b00-b49"

    legacy = p["006-ac-carnivore-90"]
    assert legacy["type"] == "legacy" and legacy["range"] == "-01-25"
    assert p["003-first-video"]["storage"]["ssd"]["exists"] is True

    assert p["Misc Stuff"]["valid_id"] is False
    w = kinds(on_disk)
    assert ("Misc Stuff", "invalid_id") in w
    assert ("b40-heavy-left-behind", "heavy_in_archived") in w
    assert ("b66-context-engineering", "not_backed_up") in w
    # b63's heavy files are on the SSD alone (the cloud archive was not read offline)
    (b63,) = [m for m in p["b63-flivideo"]["warnings"] if m.startswith("fewer than two")]
    assert b63 == (
        "fewer than two copies of its heavy files: only on the SSD (the cloud archive was not "
        "read); `vam archive.cloud --brand appydave --project b63-flivideo` makes one in the cloud"
    )
    assert p["b63-flivideo"]["copies"] == {
        "local": False,
        "ssd": True,
        "cloud": None,
        "count": 1,
        "unknown": ["cloud"],
        "cloud_missing": [],
        "heavy": True,
    }

    t = on_disk["totals"]
    assert (t["active"], t["archived"], t["on_ssd"]) == (6, 3, 3)
    assert t["projects"] == len(on_disk["projects"]) == 10
    assert on_disk["ssd"]["mounted"] and on_disk["ssd"]["free_bytes"] > 0
    assert on_disk["disk"]["free_bytes"] > 0

    voz = by_id(written["voz"].manifest)
    assert voz["boy-baker"]["type"] == "storyline" and voz["boy-baker"]["range"] is None
    assert voz["boy-baker"]["storage"]["ssd"]["exists"] is False
    ss = by_id(written["supportsignal"].manifest)
    assert ss["a12-onboarding"]["storage"]["local"]["path"].endswith("projects/a12-onboarding")

    registry = json.loads(registry_path.read_text())
    assert registry_path == sample.root / REGISTRY_NAME
    order = ["appydave", "voz", "aitldr", "kiros", "beauty-and-joy", "supportsignal"]
    assert [b["brand"]["key"] for b in registry["brands"]] == order
    assert registry["totals"]["projects"] == 10 + 2 + 1
    # written atomically: no temp files left beside the results
    assert not [f for f in (sample.root / "v-appydave").iterdir() if f.name.endswith(".tmp")]


def test_one_brand_updates_its_entry_in_the_registry(config, sample):
    run(config, use_s3=False)
    write_text(sample.root / "v-voz" / "new-story" / "notes.md", "# new\n")
    _written, registry_path = run(config, [find_brand(config, "voz")], use_s3=False)
    registry = json.loads(registry_path.read_text())
    assert len(registry["brands"]) == 6  # the other brands are kept
    voz = next(b for b in registry["brands"] if b["brand"]["key"] == "voz")
    assert "new-story" in by_id(voz)


def test_ssd_unplugged_gives_null_ssd_fields_and_a_warning(sample, as_user):
    as_user("david", ssd_root=str(sample.root / "unplugged" / "youtube-PUBLISHED"))
    config = load_config(cwd=sample.root)
    written, _ = run(config, use_s3=False)
    data = written["appydave"].manifest
    assert data["ssd"]["mounted"] is False
    assert all(p["storage"]["ssd"]["exists"] is None for p in data["projects"])
    assert (None, "ssd_unmounted") in kinds(data)
    # the SSD-only project is unknown without the SSD; local projects are all still there
    assert "b12-ssd-only" not in by_id(data) and B65 in by_id(data)
    assert not any(w["kind"] == "not_backed_up" for w in data["warnings"])


def put(s3c, key: str, body: bytes) -> None:
    s3c.put_object(Bucket="video-projects", Key=key, Body=body)


def test_s3_staging_fields_uploader_and_expiry(config, sample, s3):
    s3c = boto3.client("s3")
    s3c.create_bucket(Bucket="video-projects")
    put(s3c, PREFIX + "raw.mp4", b"x" * 1000)
    put(s3c, PREFIX + "brief.md", b"cut it")
    index = {"files": {"raw.mp4": {"size": 1000, "uploaded_by": "david", "uploaded_at": "x"}}}
    put(s3c, PREFIX + ".vam/index.json", json.dumps(index).encode())
    put(s3c, "staging/v-appydave/b99-remote-only/edit.mov", b"e" * 10)

    written, _ = run(config)
    data = written["appydave"].manifest
    assert data["s3"]["available"] and data["s3"]["error"] is None
    p = by_id(data)
    s3e = p[B65]["storage"]["s3"]
    assert (s3e["files"], s3e["bytes"], s3e["state"]) == (2, 1006, "staged")  # .vam/ not counted
    objects = {o["path"]: o for o in s3e["objects"]}
    assert objects["raw.mp4"]["uploaded_by"] == "david"
    assert objects["brief.md"]["uploaded_by"] is None
    expires = datetime.fromisoformat(s3e["expires"]).date()
    assert expires == datetime.now(UTC).date() + timedelta(days=90)
    assert p["b64-bmad-claude-sdk"]["storage"]["s3"]["state"] == "none"
    # only in S3: listed, with no local or SSD copy
    assert p["b99-remote-only"]["storage"]["local"]["exists"] is False
    assert data["totals"]["in_s3"] == 2 and data["totals"]["s3_files"] == 3
    # S3 staging, which expires, is not a copy: b65's heavy files are on this computer alone
    w = kinds(data)
    assert ("b66-context-engineering", "not_backed_up") in w
    assert (B65, "not_backed_up") in w
    assert p[B65]["copies"]["count"] == 1 and p[B65]["storage"]["cloud"]["files"] == 0
    assert not any(k == "staging_expiring" for _p, k in w)

    later = datetime.now(UTC) + timedelta(days=80)
    written, _ = run(config, [find_brand(config, "ad")], now=later)
    assert (B65, "staging_expiring") in kinds(written["appydave"].manifest)


def test_s3_unreachable_is_a_warning_not_a_failure(config, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    written, _ = run(config)
    for w in written.values():
        assert w.manifest["s3"]["available"] is False
        # the endpoint, not a full request URL; the setting that points there
        assert w.manifest["s3"]["error"].startswith(
            "cannot reach S3 at http://127.0.0.1:9; check the network or $AWS_ENDPOINT_URL"
        )
        assert all("s3" not in p["storage"] for p in w.manifest["projects"])
        assert (None, "s3_unavailable") in kinds(w.manifest)


def test_no_credentials_is_a_warning(config):
    written, _ = run(config, [find_brand(config, "ad")])
    assert "no AWS credentials" in written["appydave"].manifest["s3"]["error"]


def test_cli_generate_all_prints_a_summary(vam_cli, sample):
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}
    result = vam_cli("manifest.generate", "--all", "--no-s3", env=env)
    assert result.returncode == 0, result.stderr
    assert "appydave: 9 projects (5 active, 3 archived), 3 on SSD" in result.stdout
    assert "b40-heavy-left-behind: 1 heavy file(s)" in result.stdout
    assert (sample.root / REGISTRY_NAME).is_file()


def test_cli_unknown_brand(vam_cli, sample):
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}
    one_line_error(vam_cli("manifest.generate", "--brand", "apydave", env=env), "unknown brand")


def test_scan_reads_no_file_contents(config, sample, monkeypatch):
    import builtins
    import io

    real_open = io.open
    opened = []

    def guarded(file, *args, **kwargs):
        name = str(file)
        if "/v-" in name and not name.endswith((MANIFEST_NAME, ".tmp", ".env")):
            opened.append(name)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(io, "open", guarded)
    run(config, use_s3=False)
    assert opened == []


def test_fast_matcher_agrees_with_classify():
    from vam.core.files import FileRules, _Matcher, classify, is_excluded

    rules = FileRules()
    m = _Matcher(rules)
    names = (
        "a.mp4 B.MOV x.srt notes.md cut.prproj big.bin .DS_Store clip.mov:Zone.Identifier "
        "raw.mp4.vam-part .vam Thumbs.db noext archive.tar.gz thumb.PNG"
    ).split()
    for name in names:
        for size in (10, rules.heavy_min_bytes):
            assert m.excluded(name) == is_excluded(name, rules), name
            if not m.excluded(name):
                assert m.kind(name, size) == classify(name, size, rules), (name, size)


def test_cli_dry_run_says_what_it_would_write_and_writes_nothing(vam_cli, sample):
    """The README promises --dry-run on every task that writes; manifest.generate had none."""
    env = {"VAM_SETTINGS": str(sample.write_settings("david"))}
    repo = sample.root / "v-appydave"
    before = sorted(p.name for p in sample.root.rglob("*.json"))
    result = vam_cli("manifest.generate", "--all", "--no-s3", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in sample.root.rglob("*.json")) == before
    assert not (repo / MANIFEST_NAME).exists() and not (sample.root / REGISTRY_NAME).exists()
    out = result.stdout
    assert f"would write {repo / MANIFEST_NAME}" in out
    assert f"would write the registry {sample.root / REGISTRY_NAME}" in out
    assert "appydave: " in out and " projects (" in out  # the project counts
    assert "dry run: nothing written" in out
    # the same as a JSON document, for scripts
    doc = json.loads(
        vam_cli("manifest.generate", "--all", "--no-s3", "--dry-run", "--json", env=env).stdout
    )
    assert doc["ok"] and doc["dry_run"] is True and doc["written"] == []
    ad = next(b for b in doc["brands"] if b["brand"] == "appydave")
    assert ad["path"] == str(repo / MANIFEST_NAME) and ad["projects"] > 0
    assert doc["registry"] == str(sample.root / REGISTRY_NAME)
    assert not (repo / MANIFEST_NAME).exists()


# --------------------------------------------------------------------------- where the copies are


def settings_without_ssd(sample, user: str = "jan"):
    path = sample.write_settings(user)
    path.write_text("".join(x for x in path.read_text().splitlines(True) if "ssd_root" not in x))
    return path


def test_no_ssd_configured_is_not_an_unplugged_ssd(sample, monkeypatch, vam_cli):
    """Jan has no archive SSD at all: the manifest filed that under "SSD not plugged in"."""
    path = settings_without_ssd(sample)
    monkeypatch.setenv("VAM_SETTINGS", str(path))
    written, _ = run(load_config(cwd=sample.root), use_s3=False)
    data = written["appydave"].manifest
    assert data["ssd"] == {
        "path": None,
        "mounted": False,
        "free_bytes": None,
        "total_bytes": None,
    }
    brand_level = [w for w in data["warnings"] if w["project"] is None]
    message = (
        'no SSD configured: to archive to one, set ssd_root = "/Volumes/T7/youtube-PUBLISHED" '
        f'(or [ssd] appydave = "…") in {path}'
    )
    assert brand_level == [{"project": None, "kind": "ssd_not_configured", "message": message}]
    result = vam_cli(
        "manifest.generate", "--brand", "ad", "--no-s3", env={"VAM_SETTINGS": str(path)}
    )
    assert result.returncode == 0, result.stderr
    assert "no SSD configured" in result.stdout and "not mounted" not in result.stdout


def test_a_file_whose_only_copy_is_in_s3_staging_is_a_warning_with_its_expiry(config, sample, s3):
    """Staging expires: a file that is nowhere else (Jan's new file David never downloaded, a
    project only in S3) is lost on that date. A file at the same path here or on the SSD copy
    counts as being there (the manifest reads no contents; s3.status compares versions)."""
    s3c = boto3.client("s3")
    s3c.create_bucket(Bucket="video-projects")
    raw = sample.project("v-appydave", B65) / "s3-staging" / "raw.mp4"
    put(s3c, PREFIX + "raw.mp4", raw.read_bytes())  # the same file as here
    put(s3c, PREFIX + "edit-v1.mp4", b"e" * 1200)  # Jan's edit, not downloaded
    put(s3c, PREFIX + "brief.md", b"a different brief")  # here too, in another version
    put(s3c, "staging/v-appydave/b99-remote-only/edit.mov", b"e" * 10)
    ssd_copy = sample.ssd_root / "appydave" / "b50-b99" / "b63-flivideo" / "s3-staging"
    write_media(ssd_copy / "final-cut.mp4", 300)
    put(
        s3c,
        "staging/v-appydave/b63-flivideo/final-cut.mp4",
        (ssd_copy / "final-cut.mp4").read_bytes(),
    )

    written, _ = run(config, [find_brand(config, "ad")])
    data = written["appydave"].manifest
    p = by_id(data)
    today = datetime.now(UTC).date()
    expiry = (today + timedelta(days=90)).isoformat()

    objects = {o["path"]: o for o in p[B65]["storage"]["s3"]["objects"]}
    for name, elsewhere, only in [
        ("raw.mp4", ["local"], False),
        ("brief.md", ["local"], False),
        ("edit-v1.mp4", [], True),
    ]:
        assert (objects[name]["elsewhere"], objects[name]["only_in_staging"]) == (elsewhere, only)
    assert objects["edit-v1.mp4"]["expires"] == expiry
    b63 = p["b63-flivideo"]["storage"]["s3"]["objects"]
    assert b63[0]["elsewhere"] == ["ssd"] and b63[0]["only_in_staging"] is False

    only = {w["project"]: w["message"] for w in data["warnings"] if w["kind"] == "only_in_staging"}
    assert set(only) == {B65, "b99-remote-only"}
    assert only[B65] == (
        f"only copy in S3 staging: 1 file, 1.2 KB (edit-v1.mp4), deleted by the "
        f"staging expiry on {expiry}; `vam s3.down --brand appydave --project {B65}` keeps a "
        "copy here"
    )
    assert only["b99-remote-only"].startswith("only copy in S3 staging: 1 file, 10 B (edit.mov)")
    assert only[B65] in p[B65]["warnings"]
