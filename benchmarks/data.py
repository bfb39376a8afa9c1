"""Generated test data, cached under .bench/data keyed by its shape, and hard-linked into the
projects the tools work on (no copy; every tool reads the same bytes).

Contents are random (incompressible, like video); a tree is written under a temporary name and
renamed when complete, so an interrupted generation never passes for a cached one.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

CHUNK = 8 * 1024 * 1024
SMALL_MIN, SMALL_MAX = 2 * 1024, 256 * 1024


@dataclass(frozen=True)
class Dataset:
    """A cached tree of files: `folder`, and (relative POSIX path, size) for each file."""

    folder: Path
    files: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return sum(size for _, size in self.files)

    @property
    def largest(self) -> int:
        return max(size for _, size in self.files)


def single_file(cache: Path, size: int, name: str = "render.mp4") -> Dataset:
    """One big file (the 1 GiB and 5 GiB cases)."""
    return _cached(cache / "data" / f"single-{size}", ((name, size),))


def project_files(n_small: int, large_size: int) -> tuple[tuple[str, int], ...]:
    """The layout of an editor's s3-staging folder: light files of a few KB each (transcripts,
    thumbnails, subtitles; some names with spaces and accents) and two large recordings."""
    rng = random.Random(n_small)
    kinds = (
        "transcripts/part-{:03d}.txt",
        "assets/thumb-{:03d}.png",
        "subtitles/cut {:03d} – café.srt",
        "notes/scene-{:03d}.md",
    )
    files = []
    for i in range(n_small):
        size = int(SMALL_MIN * (SMALL_MAX / SMALL_MIN) ** rng.random())
        files.append((kinds[i % len(kinds)].format(i), size))
    files.append(("raw-a.mp4", large_size))
    files.append(("raw-b.mov", large_size))
    return tuple(files)


def project(cache: Path, n_small: int, large_size: int) -> Dataset:
    return _cached(
        cache / "data" / f"project-{n_small}-{large_size}", project_files(n_small, large_size)
    )


def _cached(folder: Path, files: tuple[tuple[str, int], ...]) -> Dataset:
    if not _complete(folder, files):
        shutil.rmtree(folder, ignore_errors=True)
        tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        for rel, size in files:
            _write_random(tmp / rel, size)
        try:
            tmp.rename(folder)
        except OSError:
            # another run generated the same data meanwhile: keep theirs if complete
            shutil.rmtree(tmp, ignore_errors=True)
            if not _complete(folder, files):
                raise
    return Dataset(folder, files)


def _complete(folder: Path, files: tuple[tuple[str, int], ...]) -> bool:
    try:
        return all((folder / rel).stat().st_size == size for rel, size in files)
    except OSError:
        return False


def _write_random(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        left = size
        while left > 0:
            n = min(CHUNK, left)
            fh.write(os.urandom(n))
            left -= n


def link_tree(dataset: Dataset, dest: Path) -> Path:
    """Hard-link the dataset's files under `dest` (copy where links are impossible)."""
    for rel, _ in dataset.files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(dataset.folder / rel, target)
        except OSError:
            shutil.copy2(dataset.folder / rel, target)
    return dest


def tree_sizes(folder: Path) -> dict[str, int]:
    """rel → size of every file under `folder` (the check that a download is complete)."""
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()
    }


def free_bytes(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(path).free


def drop(dataset: Dataset) -> None:
    """Delete a cached dataset (the 5 GiB file: disk is limited)."""
    shutil.rmtree(dataset.folder, ignore_errors=True)
