"""How a brand's folder on the SSD is laid out: `{brand folder}/{range}/{id}/` (or `{id}/` for
ids outside any range), read from directory entries only."""

from __future__ import annotations

import os
from pathlib import Path

from vam.core.ranges import parse_range


def ssd_projects(folder: Path) -> dict[str, tuple[str | None, Path]]:
    """Projects on a brand's SSD folder: {id: (range folder or None, path)}."""
    found: dict[str, tuple[str | None, Path]] = {}
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries:
        if not entry.is_dir() or entry.name.startswith((".", "_")) or entry.name == "$RECYCLE.BIN":
            continue
        if parse_range(entry.name):
            try:
                subs = sorted(os.scandir(entry.path), key=lambda e: e.name)
            except OSError:
                continue
            for sub in subs:
                if sub.is_dir() and not sub.name.startswith("."):
                    found.setdefault(sub.name, (entry.name, Path(sub.path)))
        else:
            found.setdefault(entry.name, (None, Path(entry.path)))
    return found
