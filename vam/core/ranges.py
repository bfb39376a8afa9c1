"""Range folders that group archived projects by 50 (SPEC §2): a01-a49, b50-b99, -01-25, …

Existing folder names are parsed as intervals and the one that contains an id wins; only when none
does is a new `{l}00-{l}49` / `{l}50-{l}99` folder named.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_RANGE = re.compile(r"^(?P<l1>[a-z]?)(?P<lo>\d{1,3})-(?P<l2>[a-z]?)(?P<hi>\d{1,3})$")
_LEGACY_RANGE = re.compile(r"^-(?P<lo>\d{1,3})-(?P<hi>\d{1,3})$")
_ID = re.compile(r"^(?P<letter>[a-z]?)(?P<number>\d{2,3})-")


@dataclass(frozen=True, order=True)
class Range:
    letter: str  # '' for legacy numeric ids
    low: int
    high: int
    name: str

    def contains(self, letter: str, number: int) -> bool:
        return letter == self.letter and self.low <= number <= self.high


def parse_range(name: str) -> Range | None:
    """'b50-b99' -> Range('b', 50, 99); '-01-25' -> Range('', 1, 25); anything else -> None."""
    m = _RANGE.match(name)
    if m and m.group("l1") == m.group("l2"):
        letter, low, high = m.group("l1"), int(m.group("lo")), int(m.group("hi"))
    else:
        m = _LEGACY_RANGE.match(name)
        if not m:
            return None
        letter, low, high = "", int(m.group("lo")), int(m.group("hi"))
    if low > high:
        return None
    return Range(letter, low, high, name)


def id_key(project_id: str) -> tuple[str, int] | None:
    """'b65-guy-monroe' -> ('b', 65); '006-ac-carnivore-90' -> ('', 6); storyline names -> None."""
    m = _ID.match(project_id)
    if not m:
        return None
    return m.group("letter"), int(m.group("number"))


def range_for(project_id: str, existing: Iterable[str] = ()) -> str | None:
    """The range folder an id belongs in: an existing one that contains it, else a new name.

    None for ids without a number (storyline names), which archive without a range folder.
    """
    key = id_key(project_id)
    if key is None:
        return None
    letter, number = key
    matches = sorted(r for r in map(parse_range, existing) if r and r.contains(letter, number))
    if matches:
        # the narrowest interval wins if folders overlap
        return min(matches, key=lambda r: (r.high - r.low, r.name)).name
    low = number // 50 * 50
    return f"{letter}{low:02d}-{letter}{low + 49:02d}"


def range_names(folder: Path) -> list[str]:
    """Range folders directly under `folder` (an SSD brand folder or a repo's archived/)."""
    try:
        return sorted(e.name for e in os.scandir(folder) if e.is_dir() and parse_range(e.name))
    except OSError:
        return []
