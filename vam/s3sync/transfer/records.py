"""Resume records: one small JSON file per unfinished transfer in the project's `.vam/`
(`uploads/` for a multipart upload to continue, `downloads/` for a partial download), named by a
hash of what identifies the transfer, replaced in one step and never claiming more than is done.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path


def record_path(state_dir: Path | None, kind: str, *identity: str) -> Path | None:
    if state_dir is None:
        return None
    digest = hashlib.sha256("\0".join(identity).encode("utf-8")).hexdigest()[:32]
    return Path(state_dir) / kind / f"{digest}.json"


def read_record(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # missing or unreadable: start over, the server side is checked anyway
    return data if isinstance(data, dict) else None


def write_record(path: Path | None, data: dict) -> None:
    """Replace the record in one step. On a full disk the temporary file goes again and the old
    record stays (it never claims more than it did), so nothing of ours keeps the disk full."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True).encode("utf-8")
    temp = path.with_name(path.name + ".tmp")
    try:
        temp.write_bytes(text)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc.errno != errno.ENOSPC or not path.exists():
            raise
        _rewrite_in_place(path, text)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _rewrite_in_place(path: Path, text: bytes) -> None:
    """On a full disk a new file cannot be made, but the record's own block can be rewritten.
    Not atomic: a record torn by a crash does not parse, and the download then starts over, so
    it can never claim bytes that are not on the disk."""
    with open(path, "r+b") as fh:
        fh.write(text)
        fh.truncate()


def drop_record(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)
