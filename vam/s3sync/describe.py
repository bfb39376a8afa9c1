"""The words for a file's state: when, how big, who; the line a person reads about a file
up/down leaves alone; the commands worth running next; when staging expires. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from vam.core.layout import STATE_DIR
from vam.core.units import format_size, human_utc
from vam.s3sync.model import FileRow, FileState, LocalEntry, Plan, RemoteEntry
from vam.s3sync.report import Recommendation
from vam.s3sync.s3guard import BACKUPS
from vam.s3sync.target import Target


def when(dt: datetime | str | None) -> str:
    if dt is None or dt == "":
        return "unknown time"
    if isinstance(dt, str):
        try:
            dt = datetime.fromisoformat(dt)
        except ValueError:
            return dt
    return human_utc(dt)


def describe_local(local: LocalEntry | None) -> str:
    if local is None:
        return "deleted here"
    stamp = datetime.fromtimestamp(local.mtime_ns / 1e9, UTC)
    return f"{format_size(local.size)}, saved {when(stamp)}"


def describe_remote(remote: RemoteEntry | None) -> str:
    if remote is None:
        return "deleted in S3"
    who = remote.uploaded_by or "another tool"
    return f"{format_size(remote.size)}, uploaded by {who} {when(remote.last_modified)}"


def row_message(target: Target, row: FileRow) -> str:
    """The one line a person reads about a file up/down leaves alone, with the way(s) out."""
    st = row.state
    if st is FileState.CONFLICT:
        theirs = row.remote.uploaded_by if row.remote and row.remote.uploaded_by else "S3's"
        theirs_label = f"{theirs}'s" if theirs != "S3's" else theirs
        return (
            f"conflict: {row.rel} ({row.reason}). Here: {describe_local(row.local)}; "
            f"in S3: {describe_remote(row.remote)}. Keep yours: `{target.command('up', '--force')}`"
            f" ({theirs_label} version is kept: by bucket versioning where it is on, else copied "
            f"to {STATE_DIR}/{BACKUPS}/ in S3); "
            f"take theirs: `{target.command('down', '--force')}` (yours is kept in "
            f"{STATE_DIR}/{BACKUPS}/)"
        )
    if st is FileState.DELETED_HERE:
        return (
            f"deleted here: {row.rel} is still in S3 ({describe_remote(row.remote)}). Delete it "
            f"there too: `{target.command('up', '--delete')}`; or get it back: "
            f"`{target.command('down', '--force')}`"
        )
    if st is FileState.DELETED_THERE:
        return (
            f"deleted in S3: {row.rel} is still here ({describe_local(row.local)}). Remove it here "
            f"too (kept in {STATE_DIR}/{BACKUPS}/): `{target.command('down', '--delete')}`; or "
            f"upload it again: `{target.command('up', '--force')}`"
        )
    if st is FileState.REFUSED:
        key = row.remote.key if row.remote else row.rel
        why = row.reason.removeprefix("unsafe S3 key: ")
        return f"refused S3 key {key!r}: {why}; never written locally. Rename or delete it in S3"
    if st is FileState.NAME_CLASH:
        where = []
        if row.remote is not None:
            url = f"s3://{target.bucket}/{row.remote.key}"
            where.append(f"in S3 rename or delete {url} (S3 console, or `aws s3 mv`)")
        if row.local is not None:
            where.append("here rename the file")
        return (
            f"name clash: {row.rel!r} is {row.reason}; neither is uploaded or downloaded. Keep "
            f"one name: {'; '.join(where)}"
        )
    if st is FileState.SKIPPED:
        return f"skipped {row.rel}: {row.reason}"
    return f"{st.value}: {row.rel} ({row.reason})"


def recommend(target: Target, plan: Plan) -> tuple[Recommendation, ...]:
    """One line per command worth running next, exact."""
    recs: list[Recommendation] = []
    ups = plan.with_state(FileState.UPLOAD)
    downs = plan.with_state(FileState.DOWNLOAD)
    conflicts = plan.with_state(FileState.CONFLICT)
    if ups:
        size = sum(r.local.size for r in ups if r.local)
        recs.append(
            Recommendation(target.command("up"), f"upload {_files(ups)} ({format_size(size)})")
        )
    if downs:
        size = sum(r.remote.size for r in downs if r.remote)
        who = sorted({r.remote.uploaded_by or "another tool" for r in downs if r.remote})
        recs.append(
            Recommendation(
                target.command("down"),
                f"download {_files(downs)} ({format_size(size)}) from {', '.join(who)}",
            )
        )
    if conflicts:
        recs.append(
            Recommendation(
                target.command("up", "--force"), f"keep your version of {_files(conflicts)}"
            )
        )
        recs.append(
            Recommendation(
                target.command("down", "--force"),
                f"take the S3 version of {_files(conflicts)} (yours is backed up)",
            )
        )
    gone_here = plan.with_state(FileState.DELETED_HERE)
    if gone_here:
        what = _files(gone_here)
        recs.append(Recommendation(target.command("up", "--delete"), f"delete {what} in S3 too"))
        recs.append(Recommendation(target.command("down", "--force"), f"or restore {what} here"))
    gone_there = plan.with_state(FileState.DELETED_THERE)
    if gone_there:
        what = _files(gone_there)
        recs.append(
            Recommendation(
                target.command("down", "--delete"), f"remove {what} here too (backed up)"
            )
        )
        recs.append(Recommendation(target.command("up", "--force"), f"or upload {what} again"))
    # one line per command: merge duplicates
    merged: dict[str, list[str]] = {}
    for rec in recs:
        merged.setdefault(rec.command, []).append(rec.why)
    return tuple(Recommendation(cmd, "; ".join(whys)) for cmd, whys in merged.items())


def _files(rows: Iterable[FileRow]) -> str:
    rows = list(rows)
    return rows[0].rel if len(rows) == 1 else f"{len(rows)} files"


def expiry(plan: Plan, staging_days: int) -> tuple[datetime | None, datetime | None]:
    """When S3's lifecycle rule removes the first and the last of the project's staging files."""
    stamps = [r.remote.last_modified for r in plan.rows if r.remote is not None]
    if not stamps:
        return None, None
    days = timedelta(days=staging_days)
    return min(stamps) + days, max(stamps) + days
