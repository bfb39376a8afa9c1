"""vam's task namespace, assembled in one visible place (used by `invoke` and by `vam`).

One collection module per domain; root tasks are promoted here. A collection appears when its first
real task exists.

`ns` is the whole namespace (what `invoke --list` and `vam --list` show). `namespace_for(argv)`
builds the same tree with only the task modules a command line names: `vam s3.up` then loads the
S3 tasks and their libraries, not the IAM, SSD, manifest and dashboard code as well (about a
tenth of a second of every run). Anything it cannot place (no task named, `--list`, `--help`, a
name that matches nothing) gets the whole namespace, so listings, help and "did you mean" see
every task.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from invoke import Collection

# root task name -> (module in vam.tasks, function), in the order `--list` shows them
ROOT_TASKS = {
    "doctor": ("doctor", "doctor"),
    "dashboard": ("dashboard", "dashboard"),
    "bench": ("bench", "bench"),
    "demo": ("demo", "demo"),
    "handoff": ("handoff", "handoff"),
    "receive": ("handoff", "receive"),
    "watch": ("watch", "watch"),
}
# collection name == its module in vam.tasks
COLLECTIONS = ("s3", "aws", "manifest", "ssd", "repo", "archive")

# core flags that need every task (listing, help without a task, shell completion)
_WHOLE_FLAGS = {"-l", "--list", "-h", "--help", "--complete", "--print-completion-script"}


def _module(name: str):
    return importlib.import_module(f"vam.tasks.{name}")


def build(
    roots: Iterable[str] = ROOT_TASKS, collections: Iterable[str] = COLLECTIONS
) -> Collection:
    """The namespace with the given root tasks and collections (default: all of them)."""
    from invoke import Collection

    wanted_roots, wanted_collections = set(roots), set(collections)
    namespace = Collection()
    for name, (module, function) in ROOT_TASKS.items():
        if name in wanted_roots:
            namespace.add_task(getattr(_module(module), function))
    for name in COLLECTIONS:
        if name in wanted_collections:
            namespace.add_collection(Collection.from_module(_module(name), name=name))
    return namespace


def namespace_for(argv: list[str]) -> Collection:
    """The namespace a command line needs: the modules of the tasks it names, else all."""
    roots: set[str] = set()
    collections: set[str] = set()
    unplaced = False
    for word in argv[1:]:
        if word in _WHOLE_FLAGS or word.startswith(("--list=", "--help=")):
            return build()
        if word.startswith("-"):
            continue
        head, dot, _ = word.partition(".")
        if dot and head in COLLECTIONS:
            collections.add(head)
        elif not dot and word in ROOT_TASKS:
            roots.add(word)
        elif dot and not word.startswith((".", "/")) and "/" not in word and "\\" not in word:
            unplaced = True  # looks like `collection.task` but no collection is called that
    if unplaced or not (roots or collections):
        return build()
    return build(roots, collections)


def __getattr__(name: str):
    if name == "ns":  # `from vam.tasks import ns`: the whole namespace, built once
        namespace = build()
        globals()["ns"] = namespace
        return namespace
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
