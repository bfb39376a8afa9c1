"""The archive's storage classes as data, with their date and source: what a GB costs a month,
how long a restore takes and what it costs per tier, the minimum storage duration and the
per-object overheads. Every cost vam prints (archive.status, archive.restore, the dashboard)
comes from here; nothing is asked of AWS.

Figures: Amazon S3 pricing, US East (N. Virginia), https://aws.amazon.com/s3/pricing/, as listed
in June 2026 (and restore times from the S3 User Guide, "Understanding archive retrieval
options"). Other regions differ by a few percent. They are estimates, not a bill: check the
pricing page before large decisions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vam.core.errors import UsageError

AS_OF = "2026-06"
SOURCE = "aws.amazon.com/s3/pricing, us-east-1"
GIB = 1024**3
STANDARD_PER_GB_MONTH = 0.023  # S3 Standard, first 50 TB: what an archived object's 8 KB cost
TIERS = ("bulk", "standard", "expedited")


@dataclass(frozen=True)
class Tier:
    """One way of restoring an archived object: how long, and what it costs."""

    name: str  # bulk | standard | expedited
    hours: float  # the wait AWS states as the upper bound ("within 48 hours")
    wait: str  # as AWS words it
    per_gb: float  # retrieval, per GB restored
    per_1000: float  # restore requests, per 1,000 objects


@dataclass(frozen=True)
class StorageClass:
    name: str  # as S3 names it: DEEP_ARCHIVE
    label: str  # as AWS's pages name it
    per_gb_month: float
    minimum_days: int  # deleting or replacing sooner is billed as if kept this long
    overhead_bytes: int  # billed on top of each object (archival classes: 32 KB + 8 KB Standard)
    minimum_bytes: int  # each object is billed as at least this big (IA, IR: 128 KB)
    tiers: tuple[Tier, ...]  # how to restore it; empty: readable at once
    read_per_gb: float = 0.0  # readable-at-once classes charge this per GB read

    @property
    def needs_restore(self) -> bool:
        return bool(self.tiers)

    def tier(self, name: str) -> Tier:
        """The restore tier `name`, or one line naming the tiers this class has."""
        for tier in self.tiers:
            if tier.name == name:
                return tier
        offered = ", ".join(f"{t.name} ({t.wait})" for t in self.tiers)
        raise UsageError(f"--tier {name}: {self.label} offers {offered}; choose one of them")

    def monthly_cost(self, sizes: Iterable[int]) -> float:
        """Dollars a month for objects of these sizes in this class."""
        total = 0.0
        for size in sizes:
            billed = max(size, self.minimum_bytes) + self.overhead_bytes
            total += billed / GIB * self.per_gb_month
            if self.overhead_bytes:  # the 8 KB of name and metadata kept at Standard's rate
                total += 8 * 1024 / GIB * STANDARD_PER_GB_MONTH
        return total

    def restore_cost(self, tier: Tier | None, sizes: Iterable[int]) -> float:
        """Dollars to restore (or, for a readable class, to read) objects of these sizes."""
        sizes = list(sizes)
        gb = sum(sizes) / GIB
        if tier is None:
            return gb * self.read_per_gb
        return gb * tier.per_gb + len(sizes) / 1000 * tier.per_1000


_ARCHIVAL_OVERHEAD = 32 * 1024  # (plus 8 KB at Standard's rate, in monthly_cost)

CLASSES: dict[str, StorageClass] = {
    c.name: c
    for c in (
        StorageClass(
            "DEEP_ARCHIVE",
            "S3 Glacier Deep Archive",
            per_gb_month=0.00099,
            minimum_days=180,
            overhead_bytes=_ARCHIVAL_OVERHEAD,
            minimum_bytes=0,
            tiers=(
                Tier("bulk", 48, "within 48 hours", per_gb=0.0025, per_1000=0.025),
                Tier("standard", 12, "within 12 hours", per_gb=0.02, per_1000=0.10),
            ),
        ),
        StorageClass(
            "GLACIER",
            "S3 Glacier Flexible Retrieval",
            per_gb_month=0.0036,
            minimum_days=90,
            overhead_bytes=_ARCHIVAL_OVERHEAD,
            minimum_bytes=0,
            tiers=(
                Tier("bulk", 12, "5-12 hours", per_gb=0.0, per_1000=0.0),
                Tier("standard", 5, "3-5 hours", per_gb=0.01, per_1000=0.05),
                Tier("expedited", 5 / 60, "1-5 minutes", per_gb=0.03, per_1000=10.0),
            ),
        ),
        StorageClass(
            "GLACIER_IR",
            "S3 Glacier Instant Retrieval",
            per_gb_month=0.004,
            minimum_days=90,
            overhead_bytes=0,
            minimum_bytes=128 * 1024,
            tiers=(),
            read_per_gb=0.03,
        ),
        StorageClass(
            "STANDARD_IA",
            "S3 Standard-Infrequent Access",
            per_gb_month=0.0125,
            minimum_days=30,
            overhead_bytes=0,
            minimum_bytes=128 * 1024,
            tiers=(),
            read_per_gb=0.01,
        ),
        # what an object uploaded without a class is in (the archive's small index, or an object
        # someone put there by hand): readable at once
        StorageClass(
            "STANDARD",
            "S3 Standard",
            per_gb_month=STANDARD_PER_GB_MONTH,
            minimum_days=0,
            overhead_bytes=0,
            minimum_bytes=0,
            tiers=(),
        ),
    )
}


def storage_class(name: str | None) -> StorageClass:
    """The class S3 names `name` (a listing leaves it out for STANDARD); an unknown one (another
    service's) is priced and read as Standard."""
    return CLASSES.get((name or "STANDARD").upper(), CLASSES["STANDARD"])


def price_note(names: Iterable[str]) -> str:
    """Where the figures come from, for the classes shown: one line."""
    shown = [storage_class(n) for n in dict.fromkeys(names)]
    prices = "; ".join(f"{c.label} ${c.per_gb_month:g}/GB-month" for c in shown)
    return f"prices: {prices} ({SOURCE}, as of {AS_OF}; estimates, not a bill)"


def format_dollars(amount: float) -> str:
    if amount == 0:
        return "$0.00"
    return "< $0.01" if amount < 0.01 else f"${amount:,.2f}"
