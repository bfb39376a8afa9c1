"""botocore's own data files (the S3 API model, endpoint rules, partitions), parsed once per
botocore version instead of at every command.

Creating a client makes botocore read and JSON-decode several large files it ships and scan its
data folder for the list of services: about 80 ms of every `vam` command on a small machine, the
better part of a re-sync that has nothing to send. The decoded data is kept with `marshal` (plain
dicts, lists and strings: nothing in it can run code) in the user's cache folder, under the
botocore version, so an upgraded botocore never reads an old copy. Only botocore's built-in data
folder is cached; models in ~/.aws/models or AWS_DATA_PATH are read the ordinary way. A cache that
cannot be read or written is ignored: the files are then parsed as before.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from pathlib import Path

import botocore
from botocore.loaders import JSONFileLoader, Loader

_FORMAT = 2  # bump when the layout of a cached file changes


def cache_root() -> Path | None:
    """vam's cache folder: $VAM_CACHE_DIR, else the platform's per-user cache location."""
    if os.environ.get("VAM_CACHE_DIR"):
        return Path(os.environ["VAM_CACHE_DIR"])
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) / "vam" / "cache" if base else None
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "vam"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vam"


def _folder() -> Path | None:
    root = cache_root()
    return root / f"botocore-{botocore.__version__}-{_FORMAT}" if root else None


def _read(path: Path) -> object | None:
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None


def _plain(data: object) -> object:
    """botocore decodes into OrderedDicts, which marshal cannot store; dicts keep the order."""
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_plain(value) for value in data]
    if isinstance(data, tuple):
        return tuple(_plain(value) for value in data)
    return data


def _write(path: Path, data: object) -> None:
    data = _plain(data)
    with contextlib.suppress(OSError, ValueError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temp.write_bytes(marshal.dumps(data))
        os.replace(temp, path)  # several vam commands may fill the cache at once


class _CachedFiles(JSONFileLoader):
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._builtin = os.path.normcase(os.path.abspath(Loader.BUILTIN_DATA_PATH))

    def _cache_path(self, file_path: str) -> Path | None:
        full = os.path.normcase(os.path.abspath(file_path))
        if not full.startswith(self._builtin + os.sep):
            return None
        relative = full[len(self._builtin) + 1 :]
        return self._folder / (relative.replace(os.sep, "__") + ".marshal")

    def load_file(self, file_path: str):
        cached = self._cache_path(file_path)
        if cached is None:
            return super().load_file(file_path)
        entry = _read(cached)  # ("data", decoded) or ("absent",): botocore also probes files
        if isinstance(entry, tuple) and entry[:1] == ("data",) and len(entry) == 2:
            return entry[1]
        if entry == ("absent",):
            return None
        data = super().load_file(file_path)
        _write(cached, ("data", data) if data is not None else ("absent",))
        return data


class _CachedLoader(Loader):
    """A Loader whose built-in files and service list come from the cache folder."""

    def __init__(self, folder: Path, extra_search_paths: list[str]) -> None:
        super().__init__(extra_search_paths=extra_search_paths, file_loader=_CachedFiles(folder))
        self._folder = folder

    def list_available_services(self, type_name: str) -> list[str]:
        # the scan stats every folder of every service; cache it when only botocore's own data
        # folder holds services (no ~/.aws/models, no AWS_DATA_PATH folders that exist)
        if any(p != self.BUILTIN_DATA_PATH and os.path.isdir(p) for p in self.search_paths):
            return super().list_available_services(type_name)
        cached = self._folder / f"services-{type_name}.marshal"
        services = _read(cached)
        if not isinstance(services, list):
            services = super().list_available_services(type_name)
            _write(cached, services)
        return services


def install(session: botocore.session.Session) -> None:
    """Make `session` read botocore's built-in data through the cache (when there is one)."""
    folder = _folder()
    if folder is None:
        return
    data_path = session.get_config_variable("data_path")
    extra = [p for p in (data_path or "").split(os.pathsep) if p]
    session.register_component("data_loader", _CachedLoader(folder, extra))
