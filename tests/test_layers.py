"""vam's packages import downwards only (docs/architecture.md), and only the task layer imports
invoke. Read from the source with `ast`, so a new module cannot slip an upward import in."""

from __future__ import annotations

import ast
from pathlib import Path

VAM = Path(__file__).resolve().parent.parent / "vam"
# bottom first; a package may import its own modules and those of the layers before it. Within
# s3sync, transfer/ sits below the rest.
LAYERS = [
    "core",
    "aws",
    "s3sync.transfer",
    "s3sync",
    "archive",
    "ssd",
    "catalog",
    "repo",
    "handoff",
    "watch",
    "demo",
    "doctor",
    "tasks",
    "cli",
    "__main__",
]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "vam" or len(parts) < 2:
        return None
    if parts[1] == "s3sync" and len(parts) > 2 and parts[2] == "transfer":
        return "s3sync.transfer"
    return parts[1]


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            if node.module == "vam":  # `from vam import core` names a package (not __version__)
                found.extend(
                    f"vam.{alias.name}"
                    for alias in node.names
                    if (VAM / alias.name).is_dir() or (VAM / f"{alias.name}.py").is_file()
                )
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def _modules():
    for path in sorted(VAM.rglob("*.py")):
        rel = path.relative_to(VAM.parent).with_suffix("")
        yield ".".join(rel.parts).removesuffix(".__init__"), path


def test_every_package_has_a_place_in_the_layers():
    unknown = {_layer(m) for m, _ in _modules()} - set(LAYERS) - {None}
    assert not unknown, f"add {sorted(unknown)} to LAYERS (and to docs/architecture.md)"


def test_imports_point_down_only():
    upward = []
    for module, path in _modules():
        mine = _layer(module)
        if mine is None:
            continue
        for target in _imports(path):
            theirs = _layer(target)
            if theirs is None or theirs == mine:
                continue
            if LAYERS.index(theirs) > LAYERS.index(mine):
                upward.append(f"{module} imports {target}")
    assert upward == []


def test_only_the_task_layer_imports_invoke():
    users = sorted(
        module
        for module, path in _modules()
        if any(t == "invoke" or t.startswith("invoke.") for t in _imports(path))
    )
    assert users and all(m.startswith("vam.tasks") for m in users), users
