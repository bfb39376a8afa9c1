"""Handoff notes: who handed which files of a project to whom, when, with what message.

A note is a small JSON object stored with the project in S3 under
`{staging prefix}{project}/.vam/handoff/{UTC stamp}-{from}.json` (vam's own folder, never synced
as a project file), so the receiver's `s3.status` and `receive` can show the latest one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from vam.core.units import format_size, human_utc, iso_utc
from vam.s3sync.remote import iter_objects

HANDOFF_FOLDER = ".vam/handoff/"


@dataclass(frozen=True)
class NoteFile:
    rel: str
    size: int
    crc32: str  # 8 hex digits, as stored on the object
    url: str | None = None


@dataclass(frozen=True)
class HandoffNote:
    brand: str
    project: str
    from_user: str
    to_users: tuple[str, ...]
    created_at: datetime
    message: str
    files: tuple[NoteFile, ...] = ()
    links_expire_at: datetime | None = None
    receive_command: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data["created_at"] = iso_utc(self.created_at)
        data["links_expire_at"] = iso_utc(self.links_expire_at) if self.links_expire_at else None
        data["to_users"] = list(self.to_users)
        return json.dumps({"format": 1, **data}, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> HandoffNote:
        data = json.loads(text)
        data.pop("format", None)
        files = tuple(NoteFile(**f) for f in data.pop("files", []))
        expires = data.pop("links_expire_at", None)
        return cls(
            files=files,
            created_at=_parse_iso(data.pop("created_at")),
            links_expire_at=_parse_iso(expires) if expires else None,
            to_users=tuple(data.pop("to_users", ())),
            **data,
        )

    def addressed_to(self, user: str | None) -> bool:
        return not self.to_users or user is None or user in self.to_users

    def is_receiver(self, user: str | None) -> bool:
        """Whether `user` is someone the note hands the files to (never the one who wrote it)."""
        return user is not None and user != self.from_user and self.addressed_to(user)

    def summary_lines(self, *, files: bool = True, receive_hint: bool = True) -> list[str]:
        """What a person reads: who, when, message, files (left out where listed already), and
        the command that receives it (only for a receiver who has not received it yet)."""
        when = human_utc(self.created_at)
        to = ", ".join(self.to_users) or "the team"
        total = sum(f.size for f in self.files)
        size = format_size(total)
        lines = [f"handoff from {self.from_user} to {to}, {when}: {len(self.files)} files, {size}"]
        if self.message:
            lines.append(f"  “{self.message}”")
        if files:
            lines.extend(f"  {f.rel}  {format_size(f.size)}  crc32 {f.crc32}" for f in self.files)
        if self.receive_command and receive_hint:
            lines.append(f"  to receive: {self.receive_command}")
        return lines


def received(note: HandoffNote, plan) -> bool:
    """Whether the person whose plan this is has received every file of the note: the file here
    has the note's content, or their sync record holds that content or was written since the
    note (they synced it: editing it afterwards does not make it unreceived)."""
    for item in note.files:
        row = plan.row(item.rel)
        if row is None:
            continue  # gone from both sides since: nothing left to receive
        crc = int(item.crc32, 16)
        if row.local is not None and row.local.crc32 == crc:
            continue
        base = row.base
        if base is not None and (base.crc32 == crc or _synced_since(base.synced_at, note)):
            continue
        return False
    return True


def _synced_since(synced_at: str, note: HandoffNote) -> bool:
    try:
        stamp = datetime.fromisoformat(synced_at.replace("Z", "+00:00"))
    except ValueError:
        return False
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp >= note.created_at


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def note_key(project_prefix: str, note: HandoffNote) -> str:
    stamp = note.created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{project_prefix}{HANDOFF_FOLDER}{stamp}-{note.from_user}.json"


def store_note(s3, bucket: str, project_prefix: str, note: HandoffNote) -> str:
    key = note_key(project_prefix, note)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=note.to_json().encode("utf-8"),
        ContentType="application/json; charset=utf-8",
    )
    return key


def latest_note(
    s3,
    bucket: str,
    project_prefix: str,
    *,
    for_user: str | None = None,
    keys: Iterable[str] | None = None,
) -> HandoffNote | None:
    """The newest note of a project (addressed to `for_user` when given), or None.

    `keys`: the project's keys from a listing the caller already made (no second listing)."""
    folder = f"{project_prefix}{HANDOFF_FOLDER}"
    if keys is None:
        keys = (obj["Key"] for obj in iter_objects(s3, bucket, folder))
    notes = [k for k in keys if k.startswith(folder) and k.endswith(".json")]
    for key in sorted(notes, reverse=True):  # the UTC stamp sorts by time
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        try:
            note = HandoffNote.from_json(body)
        except (ValueError, TypeError, KeyError):
            continue  # a damaged or foreign note is skipped, not fatal
        if note.addressed_to(for_user):
            return note
    return None


def receivers(members: tuple[str, ...], me: str, to: str | None) -> tuple[str, ...]:
    """Who a handoff goes to: --to, else the brand's other members."""
    if to:
        return tuple(n.strip() for n in to.split(",") if n.strip())
    return tuple(m for m in members if m != me)


def slack_payload(note: HandoffNote) -> dict:
    """A Slack-compatible incoming-webhook body (plain `text`, mrkdwn)."""
    total = sum(f.size for f in note.files)
    lines = [
        f"*{note.from_user}* handed off *{note.brand}/{note.project}* to "
        f"{', '.join(note.to_users) or 'the team'}: {len(note.files)} files, {format_size(total)}"
    ]
    if note.message:
        lines.append(f"> {note.message}")
    for f in note.files:
        name = f"<{f.url}|{f.rel}>" if f.url else f.rel
        lines.append(f"• {name} ({format_size(f.size)})")
    if note.receive_command:
        lines.append(f"Receive with `{note.receive_command}`")
    return {"text": "\n".join(lines)}


# --------------------------------------------------------------------------- the handoff itself


def note_from_scan(
    plan,
    *,
    brand: str,
    project: str,
    me: str,
    to: tuple[str, ...],
    message: str,
    links: dict[str, str],
    links_expire_at: datetime | None,
    now: datetime | None = None,
) -> HandoffNote:
    """A note describing every file that is now in S3 with the same content on both sides."""
    from vam.s3sync.model import FileState

    files = tuple(
        NoteFile(r.rel, r.remote.size, f"{r.remote.crc32:08x}", links.get(r.rel))
        for r in plan.rows
        if r.state is FileState.SYNCED and r.remote is not None and r.remote.crc32 is not None
    )
    return HandoffNote(
        brand=brand,
        project=project,
        from_user=me,
        to_users=to,
        created_at=(now or datetime.now(UTC)).replace(microsecond=0),
        message=message,
        files=files,
        links_expire_at=links_expire_at,
        receive_command=f"vam receive --brand {brand} --project {project}",
    )
