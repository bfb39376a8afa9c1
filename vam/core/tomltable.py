"""Reading a TOML file table by table, so that every problem names the file, the key and (when it
can be found) the line, says what was expected in the words of a person editing the file, and
what to do about it: unknown keys with the nearest allowed one, a key written below the wrong
table header, a Windows path in double quotes.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vam.core.errors import ConfigError

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


def located(path: Path, key: str) -> str:
    """`FILE:LINE` of a key, or the file alone when the line cannot be found."""
    line = line_of(path, key)
    return f"{path}:{line}" if line else str(path)


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed file; a missing, unreadable or invalid one is a ConfigError saying so."""
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


class Table:
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
            raise ConfigError(f"{located(path, name)}: [{name}] must be a table")
        self.path, self.name, self.data = path, name, data
        unknown = sorted(set(data) - allowed)
        for key in unknown:
            home = (homes or {}).get(key)
            if home is not None and home != name:
                raise misplaced(path, name, key, f"it belongs in [{home}]: move it under [{home}]")
        if unknown:
            key = unknown[0]
            hint = closest(key, allowed)
            fix = (
                f"did you mean {hint!r}?" if hint else f"allowed keys: {', '.join(sorted(allowed))}"
            )
            raise ConfigError(
                f"{located(path, f'{name}.{key}' if name else key)}: unknown key "
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
            f"{located(self.path, full)}: {full!r} must be {_kind_words(kinds)}, not {value!r}{fix}"
        )

    def str_list(self, key: str, default: tuple[str, ...] | None = ()) -> tuple[str, ...] | None:
        value = self.get(key, list, None)
        if value is None:
            return default
        if not all(isinstance(v, str) for v in value):
            full = self._full(key)
            raise ConfigError(f"{located(self.path, full)}: {full!r} must be a list of strings")
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


def closest(word: str, candidates: Any) -> str | None:
    """The allowed word nearest to a misspelt one, if any is near."""
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None
