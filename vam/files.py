"""What a file is (heavy / light / other / excluded) and walking a project tree.

Pure classification plus the one local-disk walker other modules use, so excluded names, symlinks
and Windows download streams are handled the same way everywhere.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from vam.config import FileRules


class Kind(StrEnum):
    HEAVY = "heavy"
    LIGHT = "light"
    OTHER = "other"
    EXCLUDED = "excluded"


def is_excluded(name: str, rules: FileRules) -> bool:
    """One path component against the exclude list (exact names and glob patterns)."""
    return any(name == pattern or fnmatch.fnmatchcase(name, pattern) for pattern in rules.exclude)


def classify(rel_path: str, size: int, rules: FileRules) -> Kind:
    """A file by its path (POSIX, relative) and size. Any component excluded -> EXCLUDED."""
    parts = PurePosixPath(rel_path).parts
    if any(is_excluded(part, rules) for part in parts):
        return Kind.EXCLUDED
    ext = PurePosixPath(rel_path).suffix.lower().lstrip(".")
    if ext in rules.heavy_extensions or size >= rules.heavy_min_bytes:
        return Kind.HEAVY
    if ext in rules.light_extensions:
        return Kind.LIGHT
    return Kind.OTHER


@dataclass(frozen=True)
class LocalFile:
    rel: str  # POSIX path relative to the walked root
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    rel: str
    reason: str


def walk(root: Path, rules: FileRules, skipped: list[Skipped] | None = None) -> Iterator[LocalFile]:
    """Every regular file under root, sorted by relative path, minus excluded names.

    Symlinks are not followed when they point outside root (reported in `skipped`); a symlink to a
    file inside root is listed under its own name.
    """
    if not root.is_dir():
        return
    root_real = root.resolve()
    stack = [(root, "")]
    found: list[LocalFile] = []
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            if skipped is not None:
                skipped.append(Skipped(prefix or ".", f"cannot read folder: {exc.strerror}"))
            continue
        for entry in entries:
            if is_excluded(entry.name, rules):
                continue
            rel = f"{prefix}{entry.name}"
            if entry.is_symlink():
                target = Path(entry.path).resolve()
                if not target.is_relative_to(root_real) or not target.exists():
                    if skipped is not None:
                        skipped.append(
                            Skipped(rel, "symlink pointing outside the project: not followed")
                        )
                    continue
                if target.is_dir():
                    if skipped is not None:
                        skipped.append(Skipped(rel, "symlink to a folder: not followed"))
                    continue
            if entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), rel + "/"))
            elif entry.is_file():
                st = entry.stat()
                found.append(LocalFile(rel, Path(entry.path), st.st_size, st.st_mtime_ns))
    yield from sorted(found, key=lambda f: f.rel)
