"""Benchmark case: `manifest.generate --all` on 6 brands x 120 projects x 40 files (issue 7;
the quick preset: 20 projects a brand).

Files are tiny (the manifest reads metadata only, so their size does not matter); names include
heavy extensions in subfolders, a quarter of the projects also have a full copy on the SSD, and
S3 is not read (the listing is timed by the sync benchmarks).
"""

from __future__ import annotations

import time
from pathlib import Path

from vam.catalog.registry import generate
from vam.core.config import CHECKOUT, load_config
from vam.core.projects import projects_root
from vam.core.ranges import range_for

BRANDS = 6
PROJECTS = 120
FILES = 40

# 40 names per project: 6 heavy by extension (some deep in subfolders), 34 light
_NAMES = (
    [
        "recordings/01-intro.mov",
        "recordings/02-main.mov",
        "recordings/raw/cam-b.MP4",
        "final/render-v1.mp4",
        "final/old/render-v0.mkv",
        "s3-staging/raw.mp4",
    ]
    + [f"recording-transcripts/{i:02d}-part.txt" for i in range(12)]
    + [f"assets/thumb-{i}.png" for i in range(10)]
    + [f"subs/part-{i}.srt" for i in range(6)]
    + [
        "notes.md",
        "data/storyline.json",
        "s3-staging/brief.md",
        "README.md",
        "shot-list.md",
        "links.yml",
    ]
)
assert len(_NAMES) == FILES


def _ids(workflow: str) -> list[str]:
    if workflow == "storyline":
        return [f"story-{i:03d}" for i in range(PROJECTS)]
    return [f"{'abcdefgh'[i // 100]}{i % 100:02d}-project-{i}" for i in range(PROJECTS)]


def _fill(folder: Path, seed: int) -> int:
    for n, name in enumerate(_NAMES):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * ((seed + n) % 97 + 1))
    return len(_NAMES)


def build(workdir: Path, projects_per_brand: int = PROJECTS) -> tuple[dict[str, str], int, int]:
    """The projects root, SSD and settings under workdir; returns (env, projects, files)."""
    root = workdir / "video-projects"
    brands_file = root / "vam" / "brands.toml"
    brands_file.parent.mkdir(parents=True, exist_ok=True)
    brands_file.write_text((CHECKOUT / "brands.toml").read_text(encoding="utf-8"), encoding="utf-8")
    ssd_root = workdir / "ssd" / "youtube-PUBLISHED"
    ssd_root.mkdir(parents=True, exist_ok=True)
    settings = workdir / "settings.toml"
    settings.write_text(
        f'user = "david"\nprojects_root = "{root}"\nssd_root = "{ssd_root}"\n'
        f'brands_file = "{brands_file}"\n',
        encoding="utf-8",
    )
    env = {"VAM_SETTINGS": str(settings), "HOME": str(workdir)}
    config = load_config(cwd=root, env=env)
    projects = files = 0
    for brand in config.team.brands[:BRANDS]:
        repo = root / brand.repo
        base = repo / brand.projects_dir if brand.projects_dir else repo
        for i, pid in enumerate(_ids(brand.workflow)[:projects_per_brand]):
            files += _fill(base / pid, i)
            projects += 1
            if i % 4 == 0:  # a quarter also archived on the SSD
                rng = range_for(pid)
                where = ssd_root / brand.ssd_folder
                _fill(where / rng / pid if rng else where / pid, i)
    return env, projects, files


def bench_manifest(workdir: Path, projects: int = PROJECTS) -> dict:
    env, projects, files = build(workdir, projects)
    config = load_config(cwd=workdir, env=env)
    root = projects_root(config)
    started = time.perf_counter()
    written, _registry = generate(config, root, list(config.team.brands), use_s3=False)
    seconds = time.perf_counter() - started
    found = sum(w.manifest["totals"]["projects"] for w in written)
    assert found == projects, (found, projects)
    return {
        "case": f"manifest.generate --all ({BRANDS}×{projects // BRANDS}×{FILES})",
        "seconds": round(seconds, 3),
        "projects": projects,
        "files": files,
    }


if __name__ == "__main__":  # python -m benchmarks.manifest_case
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(bench_manifest(Path(tmp)), ensure_ascii=False))
