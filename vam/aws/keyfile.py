"""Where a new access key goes: a 0600 hand-over file (never overwritten), or an AWS profile in
this machine's credentials/config files (written atomically, 0600). The only module that writes
a secret; nothing here prints or logs one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from vam.core.atomicfile import write_text_atomic
from vam.core.errors import ConfigError, SafetyError, UsageError


@dataclass(frozen=True)
class AccessKey:
    """An IAM access key; the secret never shows in repr, logs or tracebacks' locals summaries."""

    iam_user: str
    access_key_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class KeyFile:
    """What a hand-over file holds: the key plus what the receiver's machine needs to use it."""

    key: AccessKey
    user: str  # the person (brands.toml [users.NAME])
    profile: str
    region: str
    bucket: str
    endpoint_url: str | None = None
    staging_prefix: str | None = None  # one prefix the key may use: proves it works on import


def default_keys_dir(env: Mapping[str, str] | None = None) -> Path:
    """Hand-over files go next to the vam settings, never into a (git) project folder."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    return home / ".config" / "vam" / "keys"


def key_file_name(key: AccessKey) -> str:
    # one file per key: a rotation never meets the previous key's file
    return f"{key.iam_user}-{key.access_key_id}.toml"


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def render_key_file(kf: KeyFile) -> str:
    lines = [
        f"# AWS access key for {kf.user} (IAM user {kf.key.iam_user}), written by vam "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "# SECRET: send it over a private channel, then delete it. The receiver runs:",
        "#   vam aws.import-key --file <this file>",
        f"user = {_toml(kf.user)}",
        f"profile = {_toml(kf.profile)}",
        f"iam_user = {_toml(kf.key.iam_user)}",
        f"region = {_toml(kf.region)}",
        f"bucket = {_toml(kf.bucket)}",
    ]
    if kf.endpoint_url:
        lines.append(f"endpoint_url = {_toml(kf.endpoint_url)}")
    if kf.staging_prefix:
        lines.append(f"staging_prefix = {_toml(kf.staging_prefix)}")
    lines += [
        f"aws_access_key_id = {_toml(kf.key.access_key_id)}",
        f"aws_secret_access_key = {_toml(kf.key.secret)}",
    ]
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str, *, replace: bool) -> None:
    """Write `text` to a 0600 temporary file beside `path`, then give it the real name: a crash
    never leaves half a key under the real name. replace=False never clobbers an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".vam-part", dir=path.parent)
    try:
        os.chmod(tmp, 0o600)  # mkstemp already makes it 0600; say so for other platforms
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the name exists: no race with another writer
            except FileExistsError:
                raise SafetyError(
                    f"{path} already exists; move it away or choose another file with --out"
                ) from None
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_key_file_target(path: Path) -> None:
    """Before any key is created: the hand-over file must be new and its folder writable."""
    if path.exists():
        raise SafetyError(f"{path} already exists; move it away or choose another file with --out")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write into {folder}; choose another file with --out")


def write_key_file(path: Path, kf: KeyFile) -> Path:
    """The hand-over file, mode 0600, never over an existing file."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    _write_private(path, render_key_file(kf), replace=False)
    return path


def read_key_file(path: Path) -> KeyFile:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"key file not found: {path}; check the path") from None
    except tomllib.TOMLDecodeError:
        # never echo the parser's message: it may quote the line holding the secret
        raise ConfigError(
            f"{path}: not a vam key file (not valid TOML); ask for a new one"
        ) from None
    need = (
        "user",
        "profile",
        "iam_user",
        "region",
        "bucket",
        "aws_access_key_id",
        "aws_secret_access_key",
    )
    missing = [k for k in need if not isinstance(data.get(k), str) or not data.get(k)]
    if missing:
        raise ConfigError(
            f"{path}: not a vam key file (missing {', '.join(missing)}); ask for a new one"
        )
    return KeyFile(
        key=AccessKey(data["iam_user"], data["aws_access_key_id"], data["aws_secret_access_key"]),
        user=data["user"],
        profile=data["profile"],
        region=data["region"],
        bucket=data["bucket"],
        endpoint_url=data.get("endpoint_url") or None,
        staging_prefix=data.get("staging_prefix") or None,
    )


# --------------------------------------------------------------------------- ~/.aws files


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("AWS_SHARED_CREDENTIALS_FILE"):
        return Path(env["AWS_SHARED_CREDENTIALS_FILE"]).expanduser()
    return Path("~/.aws/credentials").expanduser()


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("AWS_CONFIG_FILE"):
        return Path(env["AWS_CONFIG_FILE"]).expanduser()
    return Path("~/.aws/config").expanduser()


_SECTION = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*$")


def read_section(text: str, section: str) -> dict[str, str] | None:
    """key = value pairs of one INI section (None when absent)."""
    values: dict[str, str] | None = None
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            if values is not None:
                break
            if m.group(1) == section:
                values = {}
            continue
        if values is not None and "=" in line and not line.lstrip().startswith(("#", ";")):
            k, _, v = line.partition("=")
            values[k.strip()] = v.strip()
    return values


def set_section(text: str, section: str, values: Mapping[str, str]) -> str:
    """`text` with `section` replaced by `values` (appended when absent); every other line kept,
    comments included (configparser would drop them)."""
    lines = text.splitlines()
    body = [f"[{section}]"] + [f"{k} = {v}" for k, v in values.items()]
    start = next(
        (i for i, ln in enumerate(lines) if (m := _SECTION.match(ln)) and m.group(1) == section),
        None,
    )
    if start is None:
        out = lines + ([""] if lines and lines[-1].strip() else []) + body
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if _SECTION.match(lines[i])), len(lines)
        )
        # keep a blank line before the next section
        tail = lines[end:]
        out = lines[:start] + body + ([""] if tail else []) + tail
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class ProfileWrite:
    """What writing a profile would do: for the plan, and so a key is never created that cannot
    be stored."""

    profile: str
    credentials: Path
    config: Path
    existing_key_id: str | None  # the key the profile holds now (None: no such profile)

    def line(self) -> str:
        if self.existing_key_id is None:
            return f"profile {self.profile}: new, in {self.credentials}"
        return f"profile {self.profile}: replaces key {self.existing_key_id} in {self.credentials}"


def plan_profile(profile: str, env: Mapping[str, str] | None = None) -> ProfileWrite:
    creds = credentials_path(env)
    text = creds.read_text(encoding="utf-8") if creds.exists() else ""
    section = read_section(text, profile)
    existing = section.get("aws_access_key_id") if section is not None else None
    if section is not None and not existing:
        existing = "(none)"
    return ProfileWrite(profile, creds, config_path(env), existing)


def write_profile(pw: ProfileWrite, key: AccessKey, region: str) -> None:
    """Store the key as `pw.profile` (credentials, 0600) with its region (config), atomically."""
    creds = pw.credentials
    text = creds.read_text(encoding="utf-8") if creds.exists() else ""
    new = set_section(
        text,
        pw.profile,
        {"aws_access_key_id": key.access_key_id, "aws_secret_access_key": key.secret},
    )
    creds.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_private(creds, new, replace=True)
    cfg = pw.config
    ctext = cfg.read_text(encoding="utf-8") if cfg.exists() else ""
    name = "default" if pw.profile == "default" else f"profile {pw.profile}"
    current = read_section(ctext, name) or {}
    # only the region: an endpoint_url in a profile would apply to IAM and STS calls too;
    # vam takes the S3 endpoint from brands.toml instead
    wanted = {**current, "region": region}
    if wanted != current:
        _write_private(cfg, set_section(ctext, name, wanted), replace=True)


# --------------------------------------------------------------------------- where a new key goes


@dataclass(frozen=True)
class KeyTarget:
    """Where a new key will be written: a hand-over file, a folder (file named after the key), or
    an AWS profile on this machine. Built, and checked, before the key exists."""

    kind: str  # "file", "dir" or "profile"
    path: Path  # the file, the folder, or the credentials file
    profile: ProfileWrite | None = None

    def describe(self, iam_user: str) -> str:
        if self.profile is not None:
            return self.profile.line()
        if self.kind == "dir":
            return f"key file {self.path}/{iam_user}-<new key id>.toml (mode 0600)"
        return f"key file {self.path} (mode 0600)"

    def write(self, kf: KeyFile) -> Path:
        """Store the key; returns the file that now holds it."""
        if self.profile is not None:
            write_profile(self.profile, kf.key, kf.region)
            return self.profile.credentials
        path = self.path / key_file_name(kf.key) if self.kind == "dir" else self.path
        return write_key_file(path, kf)


def key_target(
    iam_user: str,
    out: str | Path | None = None,
    profile: str | None = None,
    *,
    replace: bool = False,
    env: Mapping[str, str] | None = None,
) -> KeyTarget:
    """Decide and check where a new key goes, so that no key is created that cannot be stored:
    a new file (`out`), an AWS profile (refused if it holds another key, unless `replace`), or
    by default a file in the vam keys folder."""
    if out and profile:
        raise UsageError("give --out or --profile, not both")
    if profile:
        pw = plan_profile(profile, env)
        if pw.existing_key_id and not replace:
            raise SafetyError(
                f"profile {profile} in {pw.credentials} already holds key {pw.existing_key_id}; "
                "add --replace to overwrite it, or choose another --profile"
            )
        return KeyTarget("profile", pw.credentials, pw)
    if out:
        path = Path(out).expanduser().resolve()
        check_key_file_target(path)
        return KeyTarget("file", path)
    folder = default_keys_dir(env)
    check_key_file_target(folder / f"{iam_user}-NEWKEYID.toml")
    return KeyTarget("dir", folder)


# --------------------------------------------------------------------------- vam settings


def settings_with_profile(text: str, profile: str) -> str:
    """The settings TOML with `aws_profile` set (a top-level key: before the first table)."""
    lines = text.splitlines()
    line = f"aws_profile = {_toml(profile)}"
    for i, ln in enumerate(lines):
        if re.match(r"^\s*aws_profile\s*=", ln):
            lines[i] = line
            return "\n".join(lines) + "\n"
        if ln.lstrip().startswith("["):
            return "\n".join([*lines[:i], line, *lines[i:]]) + "\n"
    return "\n".join([*lines, line]) + "\n"


def write_settings_profile(path: Path, profile: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    write_text_atomic(path, settings_with_profile(text, profile), newline=None)
