"""The sync record: per project and per person, the common base of the three-way state.

`{project}/.vam/sync-{user}.json`, written atomically after every successful transfer, never
synced (`.vam` is excluded everywhere). Per person, so David and Jan sharing a disk (the demo) or
a copied project folder never mistake each other's base.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from vam.core.atomicfile import write_text_atomic
from vam.core.errors import VamError
from vam.s3sync.keys import nfc
from vam.s3sync.model import BaseEntry

VERSION = 1


def record_path(state_dir: Path, user: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", user)
    return state_dir / f"sync-{safe}.json"


def load_record(state_dir: Path, user: str) -> dict[str, BaseEntry]:
    """rel -> BaseEntry; an absent record is empty (first sync)."""
    path = record_path(state_dir, user)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise VamError(
            f"sync record {path} is unreadable ({exc}); move it aside and run again (every file "
            "will be compared by content, nothing is overwritten)"
        ) from None
    entries = {}
    for raw, e in data.get("files", {}).items():
        rel = nfc(raw)  # records written on a Mac before names were NFC may hold NFD names
        entries[rel] = BaseEntry(
            rel=rel,
            size=int(e["size"]),
            crc32=int(e["crc32"]),
            etag=str(e["etag"]),
            version_id=e.get("version_id"),
            mtime_ns=e.get("mtime_ns"),
            synced_at=e.get("synced_at", ""),
            uploaded_by=e.get("uploaded_by"),
        )
    return entries


def save_record(state_dir: Path, user: str, project: str, entries: dict[str, BaseEntry]) -> Path:
    """Write the whole record atomically (temp file + rename)."""
    path = record_path(state_dir, user)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "version": VERSION,
        "project": project,
        "user": user,
        "files": {
            rel: {
                "size": e.size,
                "crc32": e.crc32,
                "etag": e.etag,
                "version_id": e.version_id,
                "mtime_ns": e.mtime_ns,
                "synced_at": e.synced_at,
                "uploaded_by": e.uploaded_by,
            }
            for rel, e in sorted(entries.items())
        },
    }
    return write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True))
