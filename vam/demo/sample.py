"""A realistic sample projects root, generated on demand (the demo and the tests use the same one).

    root/
      vam/brands.toml                   the team's brands (copied from this checkout)
      v-appydave/                       flivideo brand: flat projects, archived ranges, legacy ids
      v-voz/                            storyline brand: free-form names, data/storyline.json
      v-supportsignal/projects/…        a brand whose projects sit in a subfolder
      ssd/youtube-PUBLISHED/{brand}/{range}/{id}/   the SSD's full copies
      settings/{david,jan}.toml         one user settings file per person

Media files are pseudo-random bytes of a chosen size (no real codec needed): each file's content
depends on its path and a seed, so two builds with the same seed are byte-identical.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from vam.core.config import CHECKOUT

DAY = 86400
# 2026-01-01, so generated mtimes are stable and "older" means a lower project number
EPOCH = 1767225600


def write_media(path: Path, size: int, seed: int | str = 0, chunk: int = 1 << 20) -> Path:
    """Write `size` deterministic pseudo-random bytes (content varies with path name and seed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(f"{path.name}:{seed}".encode()).digest()
    rng = random.Random(digest)
    with path.open("wb") as fh:
        left = size
        while left > 0:
            n = min(chunk, left)
            fh.write(rng.randbytes(n))
            left -= n
    return path


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def set_tree_mtime(folder: Path, when: float) -> None:
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            os.utime(Path(dirpath, name), (when, when))
        os.utime(dirpath, (when, when))


@dataclass
class SampleRoot:
    root: Path
    brands_file: Path
    ssd_root: Path
    media_bytes: int
    settings: dict[str, Path] = field(default_factory=dict)

    def repo(self, repo_name: str) -> Path:
        return self.root / repo_name

    def project(self, repo_name: str, project_id: str) -> Path:
        return self.root / repo_name / project_id

    def write_settings(self, user: str, **extra: object) -> Path:
        """A user settings file for `user` pointing at this root and its SSD."""
        values: dict[str, object] = {
            "user": user,
            "projects_root": str(self.root),
            "ssd_root": str(self.ssd_root),
            "brands_file": str(self.brands_file),
        }
        values.update(extra)
        lines = [f"{k} = {_toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
        for k, v in values.items():
            if isinstance(v, dict):
                lines.append(f"\n[{k}]")
                lines.extend(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
        path = write_text(self.root / "settings" / f"{user}.toml", "\n".join(lines) + "\n")
        self.settings[user] = path
        return path


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def build_sample_root(
    root: Path,
    *,
    media_bytes: int = 256 * 1024,
    seed: int = 0,
    with_ssd: bool = True,
) -> SampleRoot:
    """Build the sample projects root under `root` (created if needed) and return its paths."""
    root.mkdir(parents=True, exist_ok=True)
    brands_file = root / "vam" / "brands.toml"
    write_text(brands_file, (CHECKOUT / "brands.toml").read_text(encoding="utf-8"))
    ssd_root = root / "ssd" / "youtube-PUBLISHED"
    sample = SampleRoot(root, brands_file, ssd_root, media_bytes)
    m = media_bytes

    def media(path: Path, scale: float = 1.0) -> None:
        write_media(path, max(1, int(m * scale)), seed)

    # ---- appydave: flivideo, flat projects + archived ranges + a legacy id
    ad = root / "v-appydave"
    write_text(ad / ".gitignore", "projects.json\n")
    flat = {
        "b64-bmad-claude-sdk": 60,
        "b65-guy-monroe-marketing-plan": 62,
        "b66-context-engineering": 64,
    }
    for pid, days in flat.items():
        p = ad / pid
        media(p / "recordings" / "01-1-intro.mov")
        write_text(p / "recording-transcripts" / "01-1-intro.txt", f"Transcript of {pid} intro.\n")
        write_media(p / "assets" / "thumb.png", 2048, seed)
        write_text(p / f"{pid}.srt", "1\n00:00:00,000 --> 00:00:02,000\nHello\n")
        write_text(p / "notes.md", f"# {pid}\n\nNotes.\n")
        set_tree_mtime(p, EPOCH + days * DAY)
    b65 = ad / "b65-guy-monroe-marketing-plan"
    media(b65 / "final" / "b65-guy-monroe-marketing-plan-v1.mp4", 1.5)
    media(b65 / "s3-staging" / "raw.mp4", 2)
    write_text(b65 / "s3-staging" / "brief.md", "Cut the intro to 20 seconds.\n")
    # spaces and non-ASCII characters in a staged file name
    media(b65 / "s3-staging" / "b-roll café – take 2.mov", 0.5)
    set_tree_mtime(b65, EPOCH + 62 * DAY)
    # heavy file only in a subfolder: the old manifest missed these
    media(ad / "b66-context-engineering" / "recordings" / "deep" / "screen.mkv", 0.25)
    # legacy numeric id, flat
    legacy = ad / "006-ac-carnivore-90"
    media(legacy / "final" / "006-ac-carnivore-90.mp4", 0.5)
    write_text(legacy / "notes.md", "Legacy project.\n")
    set_tree_mtime(legacy, EPOCH + 5 * DAY)
    # an invalid id (the manifest warns about it)
    write_text(ad / "Misc Stuff" / "readme.txt", "not a project id\n")
    # archived: light files only, full copy on the SSD
    arch = ad / "archived" / "b50-b99" / "b63-flivideo"
    write_text(arch / "b63-flivideo.srt", "1\n00:00:00,000 --> 00:00:01,000\nArchived\n")
    write_text(arch / "notes.md", "# b63\n")
    write_media(arch / "assets" / "thumb.png", 2048, seed)
    set_tree_mtime(arch, EPOCH + 40 * DAY)
    # archived legacy range, and an archived folder that still holds a heavy file (warning)
    write_text(ad / "archived" / "-01-25" / "003-first-video" / "notes.md", "# 003\n")
    left = ad / "archived" / "b00-b49" / "b40-heavy-left-behind"
    write_text(left / "notes.md", "# b40\n")
    media(left / "final" / "b40-heavy-left-behind.mp4", 0.25)

    # ---- voz: storyline brand
    voz = root / "v-voz"
    bb = voz / "boy-baker"
    write_text(bb / "data" / "storyline.json", '{"title": "Boy Baker", "scenes": 3}\n')
    media(bb / "recordings" / "scene-1.mov")
    media(bb / "s3-staging" / "scene-1-raw.mov", 0.5)
    write_text(bb / "s3-staging" / "notes.md", "Scene 1 raw.\n")
    write_text(voz / "ocean-story" / "data" / "storyline.json", '{"title": "Ocean"}\n')
    set_tree_mtime(voz / "ocean-story", EPOCH + 10 * DAY)

    # ---- supportsignal: projects in a subfolder
    ss = root / "v-supportsignal" / "projects"
    media(ss / "a12-onboarding" / "final" / "a12-onboarding.mp4", 0.5)
    write_text(ss / "a12-onboarding" / "notes.md", "# a12\n")

    # ---- the other brands exist with an empty repo
    for repo in ("v-aitldr", "v-kiros", "v-beauty-and-joy"):
        (root / repo).mkdir(exist_ok=True)

    if with_ssd:
        ssd_ad = ssd_root / "appydave"
        full = ssd_ad / "b50-b99" / "b63-flivideo"
        write_text(full / "b63-flivideo.srt", "1\n00:00:00,000 --> 00:00:01,000\nArchived\n")
        write_text(full / "notes.md", "# b63\n")
        write_media(full / "assets" / "thumb.png", 2048, seed)
        media(full / "final" / "b63-flivideo.mp4")
        set_tree_mtime(full, EPOCH + 40 * DAY)
        only = ssd_ad / "b00-b49" / "b12-ssd-only"
        write_text(only / "notes.md", "# b12\n")
        media(only / "final" / "b12-ssd-only.mp4", 0.25)
        write_text(ssd_ad / "-01-25" / "003-first-video" / "notes.md", "# 003\n")
        (ssd_root / "voz").mkdir(parents=True, exist_ok=True)
    return sample
