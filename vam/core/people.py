"""Who is running vam: a name S3 can keep (uploaded-by) and the team's brands.toml knows.

The name is recorded on every upload and names the person's sync record, so a slip (`dave` for
`david`) would split that record: the person's own uploads would look like someone else's and the
other person's next ordinary change like a conflict. Hence: refused before anything moves.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

from vam.core.errors import ConfigError
from vam.core.settings import Settings
from vam.core.team import Team
from vam.core.tomltable import line_of

# the name goes into S3 user metadata (ASCII only), the sync record's file name and IAM
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def user_source(settings: Settings) -> str:
    """Where the user name came from, as a person finds it: FILE:LINE, $VAM_USER, …"""
    source = settings.sources.get("user")
    if source is None:
        return str(settings.path or "~/.config/vam/settings.toml")
    if settings.path is not None and source == str(settings.path):
        line = line_of(settings.path, "user")
        return f"{source}:{line}" if line else source
    return source


def nearest_user(name: str, team: Team) -> str | None:
    """The team member `name` most likely meant (case-blind: `Jan` -> `jan`), if any is close."""
    folded = {u.name.lower(): u.name for u in team.users}
    near = difflib.get_close_matches(name.lower(), list(folded), n=1, cutoff=0.6)
    return folded[near[0]] if near else None


def unknown_user(name: str, team: Team) -> str | None:
    """Why the team does not know `name` (with the nearest known name), or None when it does.
    A brands.toml without [users] has nobody to check against: every name is fine."""
    known = [u.name for u in team.users]
    if not known or name in known:
        return None
    near = nearest_user(name, team)
    return f"{name!r} is not one of the team's users ({', '.join(known)})" + (
        f"; did you mean {near!r}?" if near else ""
    )


def require_user(settings: Settings, team: Team) -> str:
    """The person's name, or a ConfigError saying what is wrong with it and where it was set."""
    user = settings.user
    where = user_source(settings)
    if not user:
        raise ConfigError(
            f'who you are is not set: add user = "yourname" to {where} or set VAM_USER '
            "(it is recorded as uploaded-by and names your sync record)"
        )
    if not _USER_NAME.fullmatch(user):
        plain = unicodedata.normalize("NFKD", user).encode("ascii", "ignore").decode()
        plain = re.sub(r"[^A-Za-z0-9._-]+", "-", plain).strip("-._").lower() or "yourname"
        raise ConfigError(
            f"user {user!r} (from {where}) must be plain letters, digits, '.', '_' "
            f"or '-': S3 keeps it as uploaded-by, which allows only ASCII; write e.g. \"{plain}\""
        )
    known = [u.name for u in team.users]
    if known and user not in known:
        near = nearest_user(user, team)
        hint = f"; did you mean {near!r}?" if near else ""
        raise ConfigError(
            f"{where}: user {user!r} is not one of the team's users in {team.path} "
            f"({', '.join(known)}){hint} (a new person needs a [users.{user}] table there first)"
        )
    return user
