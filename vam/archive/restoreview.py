"""What `archive.restore` says: the plan (what is where, what a restore costs and how long it
takes per tier, as dated data), what was requested and when it is expected, what came down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vam.archive.classes import AS_OF, SOURCE, format_dollars
from vam.archive.fetch import Fetched
from vam.archive.restore import Requested, RestoreFile, RestorePlan, restored_until
from vam.core.units import format_size, human_utc


def _files(n: int) -> str:
    return f"{n} file" + ("" if n == 1 else "s")


def _sizes(files: tuple[RestoreFile, ...]) -> list[int]:
    return [f.entry.size for f in files]


def tier_costs(plan: RestorePlan, now: datetime | None = None) -> list[str]:
    """One line per tier the files to restore can use: the wait and the cost."""
    now = now or datetime.now(UTC)
    files = plan.to_request
    if not files:
        return []
    classes = {f.klass.name: f.klass for f in files}
    lines = []
    for klass in classes.values():
        mine = tuple(f for f in files if f.klass.name == klass.name)
        for tier in klass.tiers:
            cost = klass.restore_cost(tier, _sizes(mine))
            chosen = "  ← chosen" if tier.name == plan.tier else ""
            by = human_utc(now + timedelta(hours=tier.hours))
            lines.append(
                f"    {klass.label}, {tier.name:<9} {tier.wait:<16} ≈ {format_dollars(cost):>8}"
                f"  (done by {by}){chosen}"
            )
    lines.append(f"    ({SOURCE}, as of {AS_OF}; estimates, not a bill)")
    return lines


def plan_lines(plan: RestorePlan, *, folder_exists: bool) -> list[str]:
    t = plan.target
    files = plan.files
    total = sum(f.entry.size for f in files)
    classes = "/".join(sorted({f.entry.storage_class for f in files})) or "-"
    lines = [
        f"archive.restore {t.brand_key}/{t.project_id}: {_files(len(files))}, "
        f"{format_size(total)} in {t.where} ({classes})",
        f"  into:        {plan.dest}" + ("" if folder_exists else " (not here: it is made again)"),
    ]
    if plan.same:
        lines.append(f"  already here, same content: {_files(len(plan.same))}")
    for f in plan.differs:
        lines.append(f"  ! kept {f.rel}: another version is here ({f.detail}); not replaced")
    for rel, why in plan.refused:
        lines.append(f"  ✗ refused {rel}: {why}")
    if plan.ready:
        lines.append(
            f"  readable now: {_files(len(plan.ready))}, {format_size(sum(_sizes(plan.ready)))}"
            " (restored, or in a class that needs no restore): downloaded"
        )
    if plan.restoring:
        lines.append(
            f"  being restored already: {_files(len(plan.restoring))}, "
            f"{format_size(sum(_sizes(plan.restoring)))}" + _expected(plan)
        )
    if plan.to_request:
        lines.append(
            f"  to restore:  {_files(len(plan.to_request))}, "
            f"{format_size(sum(_sizes(plan.to_request)))}, tier {plan.tier}, "
            f"readable for {plan.days} days once restored"
        )
        lines += tier_costs(plan)
    return lines


def _expected(plan: RestorePlan) -> str:
    r = plan.record
    if r is None or r.expected is None:
        return " (requested earlier, not by vam or without a record)"
    return f" (requested by {r.requested_by}, {r.tier}: expected by {human_utc(r.expected)})"


def requested_lines(plan: RestorePlan, asked: Requested) -> list[str]:
    lines = []
    if asked.requested:
        r = asked.record
        when = human_utc(r.expected) if r and r.expected else "unknown"
        size = format_size(sum(_sizes(asked.requested)))
        lines.append(
            f"restore requested for {len(asked.requested)} file(s), {size} ({plan.tier}), "
            f"expected by {when}"
        )
    if asked.note:
        lines.append(f"  note: {asked.note}")
    return lines


def fetched_lines(
    plan: RestorePlan, asked: Requested, got: Fetched | None, *, again: str
) -> list[str]:
    """What came down, and what is still being restored (`again`: the command to run later)."""
    lines = []
    if got is not None:
        for f in got.restored:
            lines.append(f"  ✓ restored {format_size(f.entry.size)}  {f.rel}")
        for f, copy in got.set_aside:
            lines.append(
                f"  ! {f.rel} appeared here meanwhile and was kept; the archived version is "
                f"beside it: {copy.name}"
            )
        for f, why in got.failed:
            lines.append(f"  ✗ {f.rel}: {why}")
        if got.restored:
            until = restored_until(tuple(got.restored))
            lines.append(
                f"  {len(got.restored)} restored ({format_size(got.restored_bytes)}), verified, "
                f"into {plan.dest}"
                + (f"; S3's restored copies go again {human_utc(until)}" if until else "")
            )
    if asked.pending:
        r = asked.record
        when = (
            human_utc(r.expected)
            if r and r.expected
            else "unknown (requested before, without a record)"
        )
        lines.append(
            f"  {len(asked.pending)} file(s) ({format_size(sum(_sizes(asked.pending)))}) still "
            f"being restored, expected by {when}"
        )
        lines.append(f"  → {again}    # then, to download them")
    return lines
