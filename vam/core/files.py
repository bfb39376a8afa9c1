"""What a file is (heavy / light / other / excluded) and walking a project tree.

Pure classification plus the one local-disk walker other modules use, so excluded names, symlinks
and Windows download streams are handled the same way everywhere.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from vam.core.layout import LEGACY_ENV_FILE, PARTIAL_SUFFIX, STATE_DIR

DEFAULT_HEAVY_EXTENSIONS = ("mp4", "mov", "avi", "mkv", "webm", "m4v", "flv", "wmv", "mxf")
DEFAULT_LIGHT_EXTENSIONS = tuple("srt vtt txt md jpg jpeg png webp gif svg json yml yaml".split())
DEFAULT_EXCLUDE = (
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    "*:Zone.Identifier",
    ".git",
    "node_modules",
    STATE_DIR,
    f"*{PARTIAL_SUFFIX}",
    LEGACY_ENV_FILE,
)


@dataclass(frozen=True)
class FileRules:
    heavy_extensions: tuple[str, ...] = DEFAULT_HEAVY_EXTENSIONS
    light_extensions: tuple[str, ...] = DEFAULT_LIGHT_EXTENSIONS
    heavy_min_bytes: int = 100 * 1000 * 1000
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE


@dataclass(frozen=True)
class Stamp:
    """What the OS says about one version of a file without reading it: size, mtime and ctime to
    the nanosecond, inode and device (git's index keeps the same). A save in place with the mtime
    put back (`touch -r`, `cp -p`, `exiftool -P`) still moves the ctime; a save through a
    temporary file and a rename gives a new inode. Where the OS gives no inode (0), it compares
    equal and the other fields decide."""

    size: int
    mtime_ns: int
    ctime_ns: int = 0
    ino: int = 0
    dev: int = 0

    @classmethod
    def of(cls, st: os.stat_result) -> Stamp:
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)

    @classmethod
    def read(cls, path: Path) -> Stamp:
        """The stamp of `path` itself (a link is not followed)."""
        return cls.of(os.lstat(path))


class Kind(StrEnum):
    HEAVY = "heavy"
    LIGHT = "light"
    OTHER = "other"
    EXCLUDED = "excluded"


def is_excluded(name: str, rules: FileRules) -> bool:
    """One path component against the exclude list (exact names and glob patterns)."""
    return any(name == pattern or fnmatch.fnmatchcase(name, pattern) for pattern in rules.exclude)


def excluded_part(rel_path: str, rules: FileRules) -> str | None:
    """The first component of a POSIX relative path that the exclude list matches, or None."""
    return next((p for p in rel_path.split("/") if p and is_excluded(p, rules)), None)


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


# Windows reparse points that are links: symbolic links and junctions (mount points). Others
# (OneDrive placeholders, dedup) are ordinary files as far as vam is concerned.
_LINK_TAGS = {0xA000000C, 0xA0000003}


def is_link(st: os.stat_result) -> bool:
    """A symlink, or on Windows a junction (which os.path.islink does not see in 3.11)."""
    if stat.S_ISLNK(st.st_mode):
        return True
    attributes = getattr(st, "st_file_attributes", 0)
    if attributes & getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0x400):
        return getattr(st, "st_reparse_tag", 0) in _LINK_TAGS
    return False


def link_in_path(root: Path, rel: str) -> str | None:
    """The first component of `rel` under `root` (root itself not included) that is a link or a
    junction, or exists as something that is not a folder where a folder is needed; None when
    writing `root/rel` cannot land anywhere but inside root."""
    parts = rel.split("/")
    here = root
    for i, part in enumerate(parts):
        here = here / part
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            return None  # from here on vam creates the folders itself
        shown = "/".join(parts[: i + 1])
        if is_link(st):
            return shown
        if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            return shown
    return None


@dataclass(frozen=True)
class LocalFile:
    rel: str  # POSIX path relative to the walked root, as named on disk
    path: Path
    stamp: Stamp

    @property
    def size(self) -> int:
        return self.stamp.size

    @property
    def mtime_ns(self) -> int:
        return self.stamp.mtime_ns


@dataclass(frozen=True)
class Skipped:
    rel: str
    reason: str
    problem: bool = False  # could not be read (a fault to fix), not merely left out by design


def walk(root: Path, rules: FileRules, skipped: list[Skipped] | None = None) -> Iterator[LocalFile]:
    """Every regular file under root, sorted by relative path, minus excluded names.

    Links (symlinks, Windows junctions) are never followed, to files or folders, inside root or
    out of it: each is reported in `skipped` with what it points to, as are folders that cannot
    be read. (`root` itself may be a link: that is the person's own choice of where it lives.)
    """
    if not root.is_dir():
        return
    stack = [(root, "")]
    found: list[LocalFile] = []

    def skip(rel: str, reason: str, problem: bool = False) -> None:
        if skipped is not None:
            skipped.append(Skipped(rel, reason, problem))

    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            skip(prefix.rstrip("/") or ".", f"cannot read folder: {exc.strerror}", problem=True)
            continue
        for entry in entries:
            if is_excluded(entry.name, rules):
                continue
            rel = f"{prefix}{entry.name}"
            try:
                st = os.lstat(entry.path)
            except OSError as exc:
                skip(rel, f"cannot read: {exc.strerror}", problem=True)
                continue
            if is_link(st):
                target = _link_target(entry.path)
                skip(
                    rel, f"a link to {target}: vam does not follow links; put the file itself here"
                )
            elif stat.S_ISDIR(st.st_mode):
                stack.append((Path(entry.path), rel + "/"))
            elif stat.S_ISREG(st.st_mode):
                found.append(LocalFile(rel, Path(entry.path), Stamp.of(st)))
    yield from sorted(found, key=lambda f: f.rel)


def _link_target(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "somewhere else"


# --------------------------------------------------------------------------- tree stats


@dataclass(frozen=True)
class TreeStats:
    files: int = 0
    bytes: int = 0
    heavy_files: int = 0
    heavy_bytes: int = 0
    light_files: int = 0
    newest_mtime: float | None = None


class _Matcher:
    """FileRules compiled once per scan: exact excluded names, one regex for the glob patterns,
    extension sets. Same answers as classify, without re-checking every path part."""

    def __init__(self, rules: FileRules):
        exact = [p for p in rules.exclude if not any(ch in p for ch in "*?[")]
        globs = [fnmatch.translate(p) for p in rules.exclude if p not in exact]
        self.exact = frozenset(exact)
        self.glob = re.compile("|".join(globs)) if globs else None
        self.heavy = frozenset(rules.heavy_extensions)
        self.light = frozenset(rules.light_extensions)
        self.heavy_min = rules.heavy_min_bytes

    def excluded(self, name: str) -> bool:
        return name in self.exact or (self.glob is not None and self.glob.match(name) is not None)

    def kind(self, name: str, size: int) -> Kind:
        ext = name.rpartition(".")[2].lower() if "." in name else ""
        if ext in self.heavy or size >= self.heavy_min:
            return Kind.HEAVY
        return Kind.LIGHT if ext in self.light else Kind.OTHER


def tree_stats(root: Path, rules: FileRules) -> TreeStats:
    """Recursive counts of a folder from directory entries only (symlinks are not followed)."""
    match = _Matcher(rules)
    files = size = heavy = heavy_bytes = light = 0
    newest: float | None = None
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            if match.excluded(entry.name):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            kind = match.kind(entry.name, st.st_size)
            files += 1
            size += st.st_size
            if kind is Kind.HEAVY:
                heavy += 1
                heavy_bytes += st.st_size
            elif kind is Kind.LIGHT:
                light += 1
            if newest is None or st.st_mtime > newest:
                newest = st.st_mtime
    return TreeStats(files, size, heavy, heavy_bytes, light, newest)
