"""S3 keys <-> local relative paths, refusing anything that would land outside a project folder.

A key suffix becomes a local path only if it is relative, has no '.'/'..' parts, no drive letter,
no backslash, and every part is a valid file name on Windows too (Jan is on Windows).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

from vam.core.errors import SafetyError

_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)
_WINDOWS_BAD_CHARS = re.compile(r'[<>:"|?*\\\x00-\x1f]')


def nfc(rel: str) -> str:
    """The name a file has in S3 and in vam's records: Unicode NFC. macOS hands out decomposed
    (NFD) names, Windows and Linux keep what they were given; `café.mov` is one file whichever
    form a disk or a key spells it in."""
    return unicodedata.normalize("NFC", rel)


def fold(rel: str) -> str:
    """What two names must differ in to be two files on every OS: NTFS and default APFS ignore
    case, and APFS ignores the Unicode form. Names with the same fold are one path for Jan or
    David, so vam treats them as one path everywhere, Linux included."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", rel).casefold())


# `raw (conflict, from david 2026-12-02 0433).mp4`: a download vam kept beside a file that changed
# here while it was coming down. Valid on Windows (no colon), sorted next to the file it belongs
# to, and never uploaded (the scan skips it: it is the other person's version, already in S3).
_CONFLICT_COPY = re.compile(r" \(conflict, from [^()/]* \d{4}-\d{2}-\d{2} \d{4}(?: \d+)?\)")


def conflict_copy_name(name: str, who: str, when: str, attempt: int = 0) -> str:
    """The name for the other person's version of `name` (a file name, no folder), `when` as
    YYYY-MM-DD HHMM (UTC); `attempt` > 0 when that name is taken already."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    again = f" {attempt + 1}" if attempt else ""
    tag = f" (conflict, from {who} {when}{again})"
    return f"{stem}{tag}.{suffix}" if suffix else f"{stem}{tag}"


def is_conflict_copy(name: str) -> bool:
    return _CONFLICT_COPY.search(name) is not None


def unsafe_reason(rel: str) -> str | None:
    """Why a relative path (from a remote key) must not be written locally, or None if fine."""
    if not rel:
        return "empty name"
    if rel.startswith("/") or rel.startswith("\\"):
        return "absolute path"
    if re.match(r"^[A-Za-z]:", rel):
        return "drive letter"
    if "\\" in rel:
        return "backslash in name"
    parts = rel.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            return "'..' or empty path part" if part == ".." else "empty or '.' path part"
        if _WINDOWS_BAD_CHARS.search(part):
            return f"character not allowed on Windows in {part!r}"
        if _WINDOWS_RESERVED.match(part):
            return f"{part!r} is a reserved name on Windows"
        if part.endswith((" ", ".")):
            return f"{part!r} ends with a space or dot (invalid on Windows)"
    return None


def check_relative(rel: str, key: str | None = None) -> PurePosixPath:
    """The relative path, or SafetyError naming the key and why it was refused."""
    reason = unsafe_reason(rel)
    if reason:
        raise SafetyError(
            f"refused remote key {key or rel!r}: {reason}; it would land outside the project "
            "folder or is invalid on Windows. Rename or delete it in S3"
        )
    return PurePosixPath(rel)


def project_prefix(staging_prefix: str, project_id: str) -> str:
    return f"{staging_prefix}{project_id}/"


def key_for(staging_prefix: str, project_id: str, rel: str) -> str:
    """S3 key of a file at `rel` (POSIX) inside a project's s3-staging folder."""
    return f"{project_prefix(staging_prefix, project_id)}{rel}"
