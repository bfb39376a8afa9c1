"""The last step before vam replaces or removes a person's local file: is it still, byte for
byte, the version the plan compared?

The plan was made from a scan, and the scan may have taken a file's checksum from the cache; a
person may have saved the file since, even while the download that replaces it was running. So
the destroying step never trusts the plan's word: it looks at the file's stamp (size, mtime,
ctime, inode) and reads it again, right before it acts. When the file changed, the person's file
stays as it is; a download that was meant to replace it waits beside it under a conflict name
(keys.conflict_copy_name), and the run reports a conflict.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from vam.core import durable
from vam.core.filecopy import keep_copy
from vam.core.files import Stamp, is_link
from vam.s3sync.fingerprint import ChangingFile, Hasher, read_version
from vam.s3sync.keys import conflict_copy_name
from vam.s3sync.model import LocalEntry
from vam.s3sync.transfer import NotPublished


class ChangedHere(NotPublished):
    """The local file changed after the plan; nothing of it was replaced."""

    def __init__(self, rel: str, why: str, copy: Path | None = None) -> None:
        self.rel, self.why, self.copy = rel, why, copy
        super().__init__(f"{rel} {why}")


def changed_since(path: Path, seen: LocalEntry | None, hasher: Hasher) -> str | None:
    """Why `path` is no longer the version the plan saw as `seen` (None: no file was there), or
    None when it still is. Reads the file again: a cache or an earlier look is not evidence."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None if seen is None else "was deleted here meanwhile"
    if seen is None:
        return "appeared here meanwhile (a file of that name was saved)"
    if is_link(st):
        return "is a link here now"
    stamp = Stamp.of(st)
    if seen.stamp is not None and stamp != seen.stamp:
        return "was saved again here meanwhile"
    if seen.crc32 is None:
        return "was never compared (its checksum is not known)"
    try:
        read, crc = read_version(path, hasher)
    except ChangingFile:
        return "is being written here right now"
    if read != stamp or read.size != seen.size or crc != seen.crc32:
        return "changed here: its bytes are not the ones vam compared"
    return None


def set_aside(temp: Path, dest: Path, who: str, when: str) -> Path:
    """Give the verified download `temp` a conflict name beside `dest`, never over a file."""
    for attempt in range(1000):
        copy = dest.with_name(conflict_copy_name(dest.name, who, when, attempt))
        try:
            os.link(temp, copy)  # fails if the name is taken: nothing is ever clobbered
        except FileExistsError:
            continue
        except OSError:  # a disk without hard links (exFAT): check, then rename
            if copy.exists():
                continue
            durable.replace(temp, copy)
            return copy
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        durable.fsync_dir(dest.parent)
        return copy
    raise NotPublished(f"no free conflict name beside {dest}")


def publish_download(
    temp: Path,
    dest: Path,
    *,
    rel: str,
    seen: LocalEntry | None,
    hasher: Hasher,
    backup: Path | None,
    who: str,
    when: str,
) -> Path | None:
    """Move a verified download over `dest`, if `dest` is still the version the plan saw (or
    still absent). With `backup`, the version replaced is kept there first (a hard link: no
    bytes copied). Returns the backup's path. Raises ChangedHere, with the download set aside
    under a conflict name, when the local file changed."""
    why = changed_since(dest, seen, hasher)
    if why is not None:
        raise ChangedHere(rel, why, set_aside(temp, dest, who, when))
    kept = None
    if backup is not None and seen is not None:
        kept = keep_copy(dest, backup)
        durable.fsync_dir(backup.parent)
    if seen is None:
        _place_new(temp, dest, rel, who, when)
    else:
        durable.replace(temp, dest)
    return kept


def _place_new(temp: Path, dest: Path, rel: str, who: str, when: str) -> None:
    """A file that did not exist here: take the name only if it is still free."""
    try:
        os.link(temp, dest)
    except FileExistsError:
        copy = set_aside(temp, dest, who, when)
        raise ChangedHere(rel, "appeared here meanwhile", copy) from None
    except OSError:  # no hard links on this disk: the check above is the best there is
        durable.replace(temp, dest)
        return
    os.unlink(temp)
    durable.fsync_dir(dest.parent)
