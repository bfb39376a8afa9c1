"""brands.toml (the team's, committed) + user settings (one person's) -> validated frozen values.

Lookup order for brands.toml (SPEC §3): $VAM_BRANDS, `brands_file` in the user settings, the
nearest brands.toml walking up from the current directory, the checkout vam runs from.
User settings: $VAM_SETTINGS or ~/.config/vam/settings.toml, then env overrides, then a legacy
`.video-tools.env` in a brand repo as a fallback.

Every problem is a ConfigError naming the file, the key (and line when we can find it) and the fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vam.core.errors import ConfigError
from vam.core.files import (
    FileRules,
)
from vam.core.layout import LEGACY_ENV_FILE, PARTIAL_SUFFIX, STATE_DIR
from vam.core.units import parse_rate

CHECKOUT = Path(__file__).resolve().parents[2]  # vam/core/config.py -> the checkout

WORKFLOWS = ("flivideo", "storyline")
DEFAULT_ID_PATTERNS = {
    # b65-guy-monroe-marketing-plan, or a legacy 006-ac-carnivore-90
    "flivideo": r"^(?:[a-z]\d{2}|\d{3})-[a-z0-9]+(?:-[a-z0-9]+)*$",
    # any kebab name: boy-baker
    "storyline": r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
}


@dataclass(frozen=True)
class Storage:
    bucket: str
    region: str
    endpoint_url: str | None = None
    staging_prefix: str = "staging/v-{brand}/"
    staging_days: int = 90
    noncurrent_days: int = 14
    abort_multipart_days: int = 7

    def prefix_for(self, brand_key: str) -> str:
        """S3 key prefix of a brand's staging area, always ending in '/'."""
        prefix = self.staging_prefix.format(brand=brand_key)
        return prefix if prefix.endswith("/") else prefix + "/"


@dataclass(frozen=True)
class Brand:
    key: str
    name: str
    repo: str
    workflow: str = "flivideo"
    shortcut: str | None = None
    id_pattern: str = DEFAULT_ID_PATTERNS["flivideo"]
    ssd_folder: str = ""
    projects_dir: str = ""  # subfolder of the repo holding the projects ("projects" for some)
    members: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """Every name a person may use for this brand."""
        return tuple(n for n in (self.key, self.shortcut, self.repo, self.name) if n)

    def is_valid_id(self, project_id: str) -> bool:
        return re.match(self.id_pattern, project_id) is not None


@dataclass(frozen=True)
class TeamUser:
    name: str
    role: str = "editor"
    aws_profile: str | None = None
    brands: tuple[str, ...] | None = None  # None: every brand
    iam_user: str | None = None


@dataclass(frozen=True)
class Team:
    """What brands.toml says: the storage, the brands, the people."""

    path: Path
    storage: Storage
    brands: tuple[Brand, ...]
    users: tuple[TeamUser, ...] = ()
    files: FileRules = field(default_factory=FileRules)

    def user(self, name: str) -> TeamUser | None:
        return next((u for u in self.users if u.name == name), None)


@dataclass(frozen=True)
class Settings:
    """One person's settings. Never in brands.toml, never committed."""

    path: Path | None  # the settings file read, or None when there was none
    user: str | None = None
    projects_root: Path | None = None
    ssd_root: Path | None = None
    ssd_brands: Mapping[str, Path] = field(default_factory=dict)  # per-brand SSD folder overrides
    aws_profile: str | None = None
    max_rate: int | None = None  # bytes per second
    webhook_url: str | None = None
    brands_file: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  # key -> where its value came from


EXAMPLE_SSD_ROOT = "/Volumes/T7/youtube-PUBLISHED"


def ssd_setting_hint(settings: Settings, brand_key: str = "BRAND") -> str:
    """What to write, and where, to give vam an archive SSD (doctor, manifest)."""
    where = settings.path or "~/.config/vam/settings.toml"
    return f'set ssd_root = "{EXAMPLE_SSD_ROOT}" (or [ssd] {brand_key} = "…") in {where}'


# --------------------------------------------------------------------------- helpers


_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")


def _table_name(header: str) -> str:
    """`brands."beauty-and-joy"` -> `brands.beauty-and-joy`, as tomllib names the table."""
    return ".".join(part.strip().strip("\"'") for part in header.split("."))


def line_of(path: Path, key: str) -> int | None:
    """Best-effort line number of a `[table]` header, else of `key = …` inside its table
    (`users.jan.role`: the `role =` below `[users.jan]`), else of any `key = …`."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    table, _, last = key.rpartition(".")
    assignment = re.compile(rf"^\s*[\"']?{re.escape(last)}[\"']?\s*=")
    for number, line in enumerate(lines, 1):
        header = _HEADER.match(line)
        if header and _table_name(header.group(1)) == key:
            return number
    current = ""
    for number, line in enumerate(lines, 1):
        header = _HEADER.match(line)
        if header:
            current = _table_name(header.group(1))
        elif current == table and assignment.match(line):
            return number
    for number, line in enumerate(lines, 1):
        if assignment.match(line):
            return number
    return None


def misplaced(path: Path, table: str, key: str, fix: str) -> ConfigError:
    """A key that TOML filed under the table above it: it was written below that table's header
    (TOML has no way back to the top level once a [table] has begun)."""
    line = line_of(path, f"{table}.{key}" if table else key)
    where = f"{path} line {line}" if line else str(path)
    inside = f"inside [{table}]" if table else "outside any table"
    return ConfigError(f"{key!r} is {inside} in {where}; {fix}")


def _where(path: Path, key: str) -> str:
    line = line_of(path, key)
    return f"{path}:{line}" if line else str(path)


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}; create it or fix the path") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}; {_toml_fix(path, exc)}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror}") from None


def _toml_fix(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    """What to do about a TOML error; a Windows path in double quotes gets its own advice
    (`"D:\\video-projects"` reads `\\v` as an escape: "Unescaped '\\'", "Invalid hex value")."""
    found = re.search(r"at line (\d+)", str(exc))
    try:
        line = path.read_text(encoding="utf-8").splitlines()[int(found.group(1)) - 1]
    except (AttributeError, IndexError, OSError, UnicodeDecodeError, ValueError):
        line = ""
    if "\\" in line and '"' in line:
        return (
            'write Windows paths with forward slashes ("D:/video-projects") or in single '
            "quotes ('D:\\video-projects')"
        )
    return "fix that line"


class _Table:
    """A TOML table read key by key, so unknown keys and wrong types name file, key and line."""

    def __init__(
        self,
        path: Path,
        name: str,
        data: Any,
        allowed: set[str],
        homes: Mapping[str, str] | None = None,
    ):
        """`homes`: key -> the one table it belongs in, to tell a key written below the wrong
        table header from a typo."""
        if not isinstance(data, dict):
            raise ConfigError(f"{_where(path, name)}: [{name}] must be a table")
        self.path, self.name, self.data = path, name, data
        unknown = sorted(set(data) - allowed)
        for key in unknown:
            home = (homes or {}).get(key)
            if home is not None and home != name:
                raise misplaced(path, name, key, f"it belongs in [{home}]: move it under [{home}]")
        if unknown:
            key = unknown[0]
            hint = _closest(key, allowed)
            fix = (
                f"did you mean {hint!r}?" if hint else f"allowed keys: {', '.join(sorted(allowed))}"
            )
            raise ConfigError(
                f"{_where(path, f'{name}.{key}' if name else key)}: unknown key "
                f"{self._full(key)!r}; {fix}"
            )

    def _full(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required=False):
        if key not in self.data:
            if required:
                raise ConfigError(
                    f"{self.path}: missing key {self._full(key)!r}; add it"
                    + (f" under [{self.name}]" if self.name else "")
                )
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if bool in kinds or not isinstance(value, bool):
            if isinstance(value, kinds):
                return value
        full = self._full(key)
        fix = ""
        if dict in kinds and isinstance(value, list):
            fix = f"; write one [{full}.NAME] table each, not [[{full}]]"
        raise ConfigError(
            f"{_where(self.path, full)}: {full!r} must be {_kind_words(kinds)}, not {value!r}{fix}"
        )

    def str_list(self, key: str, default: tuple[str, ...] | None = ()) -> tuple[str, ...] | None:
        value = self.get(key, list, None)
        if value is None:
            return default
        if not all(isinstance(v, str) for v in value):
            full = self._full(key)
            raise ConfigError(f"{_where(self.path, full)}: {full!r} must be a list of strings")
        return tuple(value)


# TOML types in the words of a person editing the file (not Python's "str", "int", "dict")
_KIND_WORDS = {
    str: 'text in quotes (e.g. "…")',
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: 'a list (e.g. ["a", "b"])',
    dict: "a table",
}


def _kind_words(kinds: tuple[type, ...]) -> str:
    if float in kinds:
        kinds = tuple(k for k in kinds if k is not int)  # 100 and 99.5 are both "a number"
    return " or ".join(_KIND_WORDS.get(k, k.__name__) for k in kinds)


def _closest(word: str, candidates: Any) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


# --------------------------------------------------------------------------- brands.toml


STORAGE_KEYS = {
    "bucket", "region", "endpoint_url", "staging_prefix", "staging_days", "noncurrent_days",
    "abort_multipart_days",
}  # fmt: skip
FILES_KEYS = {"heavy_extensions", "light_extensions", "heavy_min_mb", "exclude"}
# keys with one home in brands.toml, so one written below another table is recognised as such
_TEAM_HOMES = {**dict.fromkeys(STORAGE_KEYS, "storage"), **dict.fromkeys(FILES_KEYS, "files")}


def parse_team(path: Path) -> Team:
    data = _read_toml(path, "brands.toml")
    top = _Table(path, "", data, {"storage", "files", "brands", "users"}, _TEAM_HOMES)

    st = _Table(path, "storage", top.get("storage", dict, required=True), STORAGE_KEYS, _TEAM_HOMES)
    prefix = st.get("staging_prefix", str, "staging/v-{brand}/")
    if "{brand}" not in prefix:
        raise ConfigError(
            f"{_where(path, 'storage.staging_prefix')}: staging_prefix must contain {{brand}}, "
            f"e.g. 'staging/v-{{brand}}/'"
        )
    storage = Storage(
        bucket=st.get("bucket", str, required=True),
        region=st.get("region", str, required=True),
        endpoint_url=st.get("endpoint_url", str) or None,
        staging_prefix=prefix,
        staging_days=st.get("staging_days", int, 90),
        noncurrent_days=st.get("noncurrent_days", int, 14),
        abort_multipart_days=st.get("abort_multipart_days", int, 7),
    )
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", storage.bucket):
        raise ConfigError(
            f"{_where(path, 'storage.bucket')}: {storage.bucket!r} is not a valid S3 bucket name "
            "(3-63 lowercase letters, digits, dots, dashes)"
        )

    files = FileRules()
    if "files" in data:
        ft = _Table(path, "files", data["files"], FILES_KEYS, _TEAM_HOMES)
        files = FileRules(
            heavy_extensions=tuple(
                e.lower().lstrip(".")
                for e in ft.str_list("heavy_extensions", files.heavy_extensions)
            ),
            light_extensions=tuple(
                e.lower().lstrip(".")
                for e in ft.str_list("light_extensions", files.light_extensions)
            ),
            heavy_min_bytes=int(ft.get("heavy_min_mb", (int, float), 100) * 1000 * 1000),
            # the tool's own state files are always excluded, whatever the list says
            exclude=tuple(
                dict.fromkeys(ft.str_list("exclude", ()) + (STATE_DIR, f"*{PARTIAL_SUFFIX}"))
            ),
        )

    brands_data = top.get("brands", dict, required=True)
    if not brands_data:
        raise ConfigError(f"{path}: no brands; add at least one [brands.NAME] table")
    brands = []
    for key, raw in brands_data.items():
        brands.append(_parse_brand(path, key, raw))
    _check_unique_names(path, brands)

    users = []
    for name, raw in top.get("users", dict, {}).items():
        ut = _Table(
            path, f"users.{name}", raw, {"role", "aws_profile", "brands", "iam_user"}, _TEAM_HOMES
        )
        user_brands = ut.str_list("brands", None)
        if user_brands is not None:
            known = {b.key for b in brands}
            for b in user_brands:
                if b not in known:
                    hint = _closest(b, known)
                    raise ConfigError(
                        f"{_where(path, f'users.{name}')}: users.{name}.brands names unknown brand "
                        f"{b!r}" + (f"; did you mean {hint!r}?" if hint else "")
                    )
        users.append(
            TeamUser(
                name=name,
                role=ut.get("role", str, "editor"),
                aws_profile=ut.get("aws_profile", str),
                brands=user_brands,
                iam_user=ut.get("iam_user", str),
            )
        )
    return Team(path=path, storage=storage, brands=tuple(brands), users=tuple(users), files=files)


def _parse_brand(path: Path, key: str, raw: Any) -> Brand:
    bt = _Table(
        path,
        f"brands.{key}",
        raw,
        {"name", "shortcut", "repo", "workflow", "id_pattern", "ssd_folder", "projects_dir",
         "members"},
        _TEAM_HOMES,
    )  # fmt: skip
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", key):
        raise ConfigError(
            f"{_where(path, f'brands.{key}')}: brand key {key!r} must be lowercase kebab-case"
        )
    workflow = bt.get("workflow", str, "flivideo")
    if workflow not in WORKFLOWS:
        raise ConfigError(
            f"{_where(path, f'brands.{key}.workflow')}: brands.{key}.workflow is {workflow!r}; "
            f"use one of {', '.join(WORKFLOWS)}"
        )
    id_pattern = bt.get("id_pattern", str, DEFAULT_ID_PATTERNS[workflow])
    try:
        re.compile(id_pattern)
    except re.error as exc:
        raise ConfigError(
            f"{_where(path, f'brands.{key}.id_pattern')}: brands.{key}.id_pattern is not a valid "
            f"regular expression ({exc})"
        ) from None
    return Brand(
        key=key,
        name=bt.get("name", str, key),
        repo=bt.get("repo", str, f"v-{key}"),
        workflow=workflow,
        shortcut=bt.get("shortcut", str),
        id_pattern=id_pattern,
        ssd_folder=bt.get("ssd_folder", str, key),
        projects_dir=bt.get("projects_dir", str, ""),
        members=bt.str_list("members", ()),
    )


def _check_unique_names(path: Path, brands: list[Brand]) -> None:
    seen: dict[str, str] = {}
    for brand in brands:
        for name in {n.lower() for n in brand.names()}:
            other = seen.get(name)
            if other and other != brand.key:
                raise ConfigError(
                    f"{_where(path, f'brands.{brand.key}')}: {name!r} names both brands {other!r} "
                    f"and {brand.key!r}; give each a different shortcut/repo"
                )
            seen[name] = brand.key


# --------------------------------------------------------------------------- user settings


SETTINGS_KEYS = {
    "user", "projects_root", "ssd_root", "ssd", "aws_profile", "max_rate", "webhook_url",
    "brands_file",
}  # fmt: skip


def default_settings_path(env: Mapping[str, str]) -> Path:
    if env.get("VAM_SETTINGS"):
        return Path(env["VAM_SETTINGS"]).expanduser()
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    return home / ".config" / "vam" / "settings.toml"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The person's settings: file, then env overrides (env wins)."""
    env = os.environ if env is None else env
    path = default_settings_path(env)
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if path.exists():
        data = _read_toml(path, "settings file")
        for table, value in data.items():
            for key in value if isinstance(value, dict) else ():
                if key in SETTINGS_KEYS and key != table:  # `user` below [ssd] is ssd.user to TOML
                    raise misplaced(path, table, key, "move it above the first [table]")
        _Table(path, "", data, SETTINGS_KEYS)
        sources = {k: str(path) for k in data}
    elif env.get("VAM_SETTINGS"):
        raise ConfigError(
            f"settings file not found: {path} (from VAM_SETTINGS); create it or unset VAM_SETTINGS"
        )
    table = _Table(path, "", data, SETTINGS_KEYS)

    def pick(key: str, env_name: str, kind=str):
        if env.get(env_name):
            sources[key] = f"${env_name}"
            return env[env_name]
        return table.get(key, kind)

    ssd_brands: dict[str, Path] = {}
    ssd_table = table.get("ssd", dict, {})
    for brand_key, folder in ssd_table.items():
        if not isinstance(folder, str):
            raise ConfigError(f"{_where(path, 'ssd')}: ssd.{brand_key} must be a folder path")
        ssd_brands[brand_key] = Path(folder).expanduser()

    rate_raw = pick("max_rate", "VAM_MAX_RATE", (str, int))
    projects_root = pick("projects_root", "VAM_PROJECTS_ROOT")
    ssd_root = pick("ssd_root", "VAM_SSD_ROOT")
    brands_file = table.get("brands_file", str)
    return Settings(
        path=path if path.exists() else None,
        user=pick("user", "VAM_USER"),
        projects_root=Path(projects_root).expanduser() if projects_root else None,
        ssd_root=Path(ssd_root).expanduser() if ssd_root else None,
        ssd_brands=ssd_brands,
        aws_profile=pick("aws_profile", "AWS_PROFILE"),
        max_rate=parse_rate(
            rate_raw,
            where="$VAM_MAX_RATE"
            if sources.get("max_rate") == "$VAM_MAX_RATE"
            else f"{_where(path, 'max_rate')}: max_rate",
        ),
        webhook_url=pick("webhook_url", "VAM_WEBHOOK_URL"),
        brands_file=Path(brands_file).expanduser() if brands_file else None,
        sources=sources,
    )


def read_legacy_env(repo: Path) -> dict[str, str]:
    """KEY=value lines of a brand repo's legacy `.video-tools.env` (comments, quotes, export ok)."""
    path = repo / LEGACY_ENV_FILE
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def with_legacy_fallback(settings: Settings, legacy: Mapping[str, str], brand_key: str) -> Settings:
    """Fill what the person's settings leave open from a brand repo's legacy env file."""
    import dataclasses

    changes: dict[str, Any] = {}
    sources = dict(settings.sources)
    if not settings.user and legacy.get("S3_SYNC_USER"):
        changes["user"] = legacy["S3_SYNC_USER"]
        sources["user"] = LEGACY_ENV_FILE
    if not settings.aws_profile and legacy.get("AWS_PROFILE"):
        changes["aws_profile"] = legacy["AWS_PROFILE"]
        sources["aws_profile"] = LEGACY_ENV_FILE
    if brand_key not in settings.ssd_brands and legacy.get("SSD_BASE"):
        changes["ssd_brands"] = {**settings.ssd_brands, brand_key: Path(legacy["SSD_BASE"])}
        sources[f"ssd.{brand_key}"] = LEGACY_ENV_FILE
    if not changes:
        return settings
    return dataclasses.replace(settings, sources=sources, **changes)


# --------------------------------------------------------------------------- finding brands.toml


def find_brands_file(
    settings: Settings, cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[Path, str]:
    """Where brands.toml is, and why that one (for `doctor`)."""
    env = os.environ if env is None else env
    if env.get("VAM_BRANDS"):
        path = Path(env["VAM_BRANDS"]).expanduser()
        if not path.is_file():
            raise ConfigError(f"brands.toml not found at {path} (from VAM_BRANDS); fix or unset it")
        return path, "$VAM_BRANDS"
    if settings.brands_file:
        if not settings.brands_file.is_file():
            raise ConfigError(
                f"{_where(settings.path, 'brands_file') if settings.path else 'settings'}: "
                f"brands_file {settings.brands_file} does not exist; fix the path"
            )
        return settings.brands_file, f"brands_file in {settings.path}"
    for folder in (cwd, *cwd.parents):
        candidate = folder / "brands.toml"
        if candidate.is_file():
            return candidate, "nearest brands.toml above the current folder"
        # a brand repo sits beside the vam checkout: video-projects/{v-appydave, vam/brands.toml}
        sibling = folder / "vam" / "brands.toml"
        if sibling.is_file():
            return sibling, "vam/brands.toml in a folder above the current one"
    if (CHECKOUT / "brands.toml").is_file():
        return CHECKOUT / "brands.toml", "the vam checkout"
    raise ConfigError(
        "no brands.toml found: set VAM_BRANDS, brands_file in your settings, or run inside the "
        "projects root"
    )


@dataclass(frozen=True)
class Config:
    """Everything a task needs to know before touching disk or network."""

    team: Team
    settings: Settings
    brands_source: str

    @property
    def storage(self) -> Storage:
        return self.team.storage


def load_config(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    settings = load_settings(env)
    path, why = find_brands_file(settings, cwd, env)
    return Config(team=parse_team(path), settings=settings, brands_source=why)
