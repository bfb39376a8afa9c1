"""Sizes, rates and durations as people write and read them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from vam.core.errors import ConfigError

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}


def parse_size(text: str | int, *, where: str = "size") -> int:
    """'100MB', '1.5 GiB', '4096' -> bytes."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    unit = m.group(2).lower() if m else None
    if not m or unit not in _SIZE_UNITS:
        raise ConfigError(
            f"{where}: cannot read {text!r} as a size; write e.g. 500MB, 2GiB or 1048576"
        )
    return int(float(m.group(1)) * _SIZE_UNITS[unit])


_BIT_UNITS = {"bit": 1, "kbit": 1000, "mbit": 1000**2, "gbit": 1000**3}
_NO_CAP = {"", "0", "none", "off"}
_RATE = re.compile(r"([0-9]*\.?[0-9]+)\s*([a-zA-Z]*?)\s*(/\s*s|ps)?")
RATE_EXAMPLES = "5MB/s, 20Mbit, 500KB/s"
# Under this (bytes a second) a bandwidth cap makes a real file seem to hang: worth a word, in case
# it is a slip (40KB/s for 40MB/s)
SLOW_RATE = 64_000


def parse_rate(text: str | int | None, *, where: str = "max_rate") -> int | None:
    """'5MB/s', '20Mbit', '20Mbps', '800k' -> bytes per second; 0, '0', 'off', '' -> None (no cap).

    A number without a unit is refused: `5` is far more likely 5 MB/s than 5 bytes a second."""
    if text is None:
        return None
    typed = str(text).strip()
    if typed.lower() in _NO_CAP:
        return None
    m = _RATE.fullmatch(typed)
    unit = m.group(2) if m else ""
    if m and not unit:
        if float(m.group(1)) == 0:
            return None
        raise ConfigError(
            f"{where} {typed} has no unit; give a unit: {RATE_EXAMPLES} (or 0 for no cap)"
        )
    per_bit = None
    if m and m.group(3) == "ps" and unit.endswith("b"):
        per_bit = unit.lower() + "it"  # Mbps, kbps: bits, as network speeds are sold; MBps: bytes
    elif m and unit.lower() in _BIT_UNITS:
        per_bit = unit.lower()
    if per_bit in _BIT_UNITS:
        return int(float(m.group(1)) * _BIT_UNITS[per_bit] / 8) or None
    if not m or unit.lower() not in _SIZE_UNITS:
        raise ConfigError(
            f"{where}: cannot read {typed!r} as a rate; give a unit: {RATE_EXAMPLES} "
            "(or 0 for no cap)"
        )
    return int(float(m.group(1)) * _SIZE_UNITS[unit.lower()]) or None


def slow_rate_warning(rate: int | None, *, where: str) -> str | None:
    """What to tell a person whose cap is so low that a transfer would seem to hang; else None."""
    if rate is None or rate >= SLOW_RATE:
        return None
    return (
        f"the bandwidth cap {format_size(rate)}/s (from {where}) is under 64 KB/s: "
        f"1 GB takes {format_duration(1e9 / rate)} at that rate"
    )


def format_size(n: int | float | None) -> str:
    """Bytes for people: 1.2 GB, 340 MB, 12 KB, 512 B (decimal units, like Finder and Explorer)."""
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{int(n)} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def iso_utc(when: datetime) -> str:
    """A moment for files and JSON: ISO 8601 in UTC with a Z (2026-11-23T10:00:00Z)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_utc(when: datetime) -> str:
    """A moment for people, the same for David and Jan on two continents: 2026-11-23 10:00 UTC."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
