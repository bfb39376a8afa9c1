"""Medians, ratios against the best peer, and the printed table. Pure: values in, text out.

Every metric of the benchmark is "lower is better" (seconds, bytes, RSS), so the best peer is the
one with the smallest median, and `vam / best peer` ≤ 1.00 means vam is at least as good.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SUBJECT = "vam"

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


def median(values: Iterable[float | int | None]) -> float | None:
    """Median of the values that exist (failed runs are None and do not count); None if none do."""
    present = [float(v) for v in values if v is not None]
    return statistics.median(present) if present else None


def best_peer(
    medians: Mapping[str, float | None], subject: str = SUBJECT
) -> tuple[str, float] | None:
    """The peer (any tool but the subject) with the lowest median, or None if no peer has one."""
    peers = [(v, name) for name, v in medians.items() if name != subject and v is not None]
    if not peers:
        return None
    value, name = min(peers)
    return name, value


def ratio(subject_value: float | None, best_value: float | None) -> float | None:
    """subject / best; None when either side is missing. 0 / 0 is 1.0 (equally good: both zero)."""
    if subject_value is None or best_value is None:
        return None
    if best_value == 0:
        return 1.0 if subject_value == 0 else float("inf")
    return subject_value / best_value


def format_bytes(n: float | None) -> str:
    """Binary units, as the case sizes are given (64 MiB, 1 GiB)."""
    if n is None:
        return "-"
    n = float(n)
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)} B"


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "bytes":
        return format_bytes(value)
    if unit == "ratio":
        return "inf" if value == float("inf") else f"{value:.2f}"
    return f"{value:g}"


def render_table(result: Mapping[str, Any]) -> str:
    """The benchmark result as a fixed-width table, then the notes (skips, failures, tools)."""
    tools: Sequence[str] = result["tool_order"]
    labels = {name: result["tools"][name].get("label", name) for name in tools}
    header = ["case", "metric", *[labels[t] for t in tools], f"{SUBJECT}/best"]
    rows: list[list[str]] = []
    notes: list[str] = []
    server = result.get("server") or {}
    if server.get("note"):
        notes.append(f"server: {server['note']}")
    for name, tool in result["tools"].items():
        if tool.get("note"):
            notes.append(f"{labels.get(name, name)}: {tool['note']}")
    for case_name, case in result["cases"].items():
        title = case.get("title", case_name)
        if case.get("skipped"):
            rows.append([title, "skipped", *["" for _ in tools], ""])
            notes.append(f"{title}: {case['skipped']}")
            continue
        for i, metric in enumerate(case["metrics"]):
            key, unit = metric["key"], metric["unit"]
            medians = case["medians"].get(key, {})
            cells = [format_value(medians.get(t), unit) for t in tools]
            r = case["ratios"].get(key)
            best = case["best"].get(key)
            ratio_cell = (
                "-" if r is None else f"{format_value(r, 'ratio')} ({labels.get(best, best)})"
            )
            rows.append([title if i == 0 else "", metric["label"], *cells, ratio_cell])
        notes.extend(f"{title}: {note}" for note in case.get("notes", []))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
        rest = [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)]
        return "  ".join(first + rest).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    if notes:
        out.append("")
        out.extend(f"note: {n}" for n in notes)
    return "\n".join(out)
