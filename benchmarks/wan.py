"""The cases of issue 15: the same transfers through a modelled long-haul link (benchmarks/proxy.py
with a `Link` profile) between every tool and the server.

    wan-up       one file of --wan-size, uploaded through each link     time, × link time, re-sent
    wan-down     the same, downloaded (the object uploaded by vam)       time, × link time, re-sent
    wan-project  N small + 2 × wan-size/2, up then down, on long-haul    up time, down time

"× link time" is the run's time over size / the link's capped rate: 1.00 is a full line, 1.11 is
90 % of it. "re-sent" is what crossed the link beyond the file itself (bytes on the wire, headers
included, minus the file's size): what the resets cost. The baseline profile (the proxy with no
latency and no caps) shows the proxy is not what limits a tool. Before the timed runs on each
link, vam makes one untimed small upload through it (warm_vam): what a person's machine has done
before, once a week per bucket.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from benchmarks import data
from benchmarks.cases import (
    KEY_PREFIX,
    Bench,
    CaseRecord,
    CaseSpec,
    _fresh,
    _interleave,
    check_downloaded,
    check_uploaded,
    metric,
    outcome,
)
from benchmarks.measure import Invocation, Measured
from benchmarks.proxy import PROFILES, Link, Proxy
from benchmarks.runners import Runner, Site, make_site
from benchmarks.server import RunningServer, delete_prefix
from benchmarks.stats import format_bytes

WAN_LINKS = ("baseline", "long-haul", "jan-home")
PROJECT_LINK = "long-haul"


def link_metrics(links: tuple[str, ...]) -> list[dict[str, str]]:
    out = []
    for name in links:
        out.append({"key": f"{name}:seconds", "label": f"{name} time", "unit": "s"})
        if PROFILES[name].shaped:
            out.append({"key": f"{name}:vs_link", "label": f"{name} × link time", "unit": "ratio"})
        if PROFILES[name].reset_every:
            out.append({"key": f"{name}:resent", "label": f"{name} re-sent", "unit": "bytes"})
            out.append({"key": f"{name}:resets", "label": f"{name} resets", "unit": "count"})
    return out


def _timeout(bench: Bench, link: Link, nbytes: int) -> float:
    slowest = (
        min(r for r in (link.up_rate, link.down_rate, link.per_connection) if r)
        if (link.shaped)
        else None
    )
    return bench.timeout(nbytes) + (3 * nbytes / slowest if slowest else 0)


def _link_values(
    link: Link, direction: str, seconds: float, nbytes: int, wire: Any
) -> dict[str, Any]:
    moved = wire.sent if direction == "up" else wire.received
    values: dict[str, Any] = {
        f"{link.name}:seconds": round(seconds, 4),
        f"{link.name}:wire": moved,
        f"{link.name}:connections": wire.connections,
        f"{link.name}:peak_connections": wire.peak_connections,
    }
    capacity = link.capacity(direction)
    if capacity:
        values[f"{link.name}:vs_link"] = round(seconds / (nbytes / capacity), 4)
    if link.reset_every:
        values[f"{link.name}:resent"] = max(0, moved - nbytes)
        values[f"{link.name}:resets"] = wire.resets
    return values


def warm_vam(bench: Bench, site: Site, server: RunningServer, tag: str) -> None:
    """One untimed `vam s3.up` of a small project through this link first, as on a machine
    where vam has worked with this bucket before: vam probes once whether a server honours
    conditional writes (a dozen requests, two seconds on a long link) and keeps the answer a
    week per endpoint (vam/aws/bucketcaps.py); every proxy here is a new endpoint."""
    vam = next((r for r in bench.runners if r.name == "vam"), None)
    if vam is None:
        return
    small = data.project(bench.cache, 1, 1024 * 1024)
    project = f"warm-{tag}"
    data.link_tree(small, site.staging(project))
    try:
        bench.run(vam, vam.up(site, project), f"warm/{tag}", small.total)
    finally:
        delete_prefix(server.client(), f"{KEY_PREFIX}{project}/")
        shutil.rmtree(site.project_dir(project), ignore_errors=True)


def _run_through(
    bench: Bench,
    record: CaseRecord,
    runner: Runner,
    rep: int,
    proxy: Proxy,
    direction: str,
    command: Invocation,
    nbytes: int,
    verify: Callable[[Measured], tuple[bool, str | None]],
) -> None:
    """One timed run of `command` through the proxy's link, counted from an idle, zeroed proxy
    to the last byte drained, verified, merged into the record as the case's link values."""
    link = proxy.link
    proxy.wait_idle()
    proxy.reset()
    m = bench.run(
        runner,
        command,
        f"wan-{direction}/{link.name}-{runner.name}-r{rep}",
        nbytes,
        timeout=_timeout(bench, link, nbytes),
    )
    proxy.wait_idle()
    ok, note = verify(m)
    values = _link_values(link, direction, m.seconds, nbytes, proxy.count())
    _merge(record, runner.name, rep, ok, values, note, m.peak_rss)


def case_wan_up(bench: Bench, record: CaseRecord, server: RunningServer) -> None:
    dataset = data.single_file(bench.cache, bench.wan_size)
    for name in bench.links:
        link = PROFILES[name]
        with Proxy(server.address, link=link) as proxy:
            site = make_site(_fresh(bench.work / f"wan-up-{name}"), proxy.url)
            warm_vam(bench, site, server, f"up-{name}")

            def step(runner: Runner, rep: int, link: Link = link, site=site, proxy=proxy) -> None:
                project = f"wan-up-{link.name}-{runner.name}-r{rep}"
                data.link_tree(dataset, site.staging(project))
                try:
                    _run_through(
                        bench,
                        record,
                        runner,
                        rep,
                        proxy,
                        "up",
                        runner.up(site, project),
                        dataset.total,
                        lambda m: outcome(m, lambda: check_uploaded(server, project, dataset)),
                    )
                finally:
                    delete_prefix(server.client(), f"{KEY_PREFIX}{project}/")
                    shutil.rmtree(site.project_dir(project), ignore_errors=True)

            bench.log(f"  link {link.describe()}")
            _interleave(bench, record, step, repeat=bench.wan_repeat, tag=name)
    _link_notes(bench, record)


def case_wan_down(bench: Bench, record: CaseRecord, server: RunningServer) -> None:
    dataset = data.single_file(bench.cache, bench.wan_size)
    project = "wan-dl"
    vam = next((r for r in bench.runners if r.name == "vam"), None)
    if vam is None:
        from benchmarks.server import put_tree

        put_tree(server.client(), dataset.folder, f"{KEY_PREFIX}{project}/")
    else:
        seed = make_site(_fresh(bench.work / "wan-down-seed"), server.endpoint)
        data.link_tree(dataset, seed.staging(project))
        bench.log("  [wan-down setup] vam uploads the object every tool downloads (no link)")
        m = bench.run(vam, vam.up(seed, project), "wan-down/seed", dataset.total)
        ok, note = outcome(m, lambda: check_uploaded(server, project, dataset))
        if not ok:
            raise RuntimeError(f"seeding with vam s3.up failed: {note}")
        shutil.rmtree(seed.root, ignore_errors=True)
    for name in bench.links:
        link = PROFILES[name]
        with Proxy(server.address, link=link) as proxy:
            warm_vam(bench, make_site(_fresh(bench.work / "wan-warm"), proxy.url), server, name)

            def step(runner: Runner, rep: int, link: Link = link, proxy=proxy) -> None:
                site = make_site(
                    _fresh(bench.work / f"wan-down-{link.name}-{runner.name}-r{rep}"), proxy.url
                )
                site.project_dir(project).mkdir(parents=True)

                def verify(m: Measured) -> tuple[bool, str | None]:
                    ok, note = outcome(m, lambda: check_downloaded(site.staging(project), dataset))
                    return _identical(site.staging(project), dataset) if ok else (ok, note)

                try:
                    _run_through(
                        bench,
                        record,
                        runner,
                        rep,
                        proxy,
                        "down",
                        runner.down(site, project),
                        dataset.total,
                        verify,
                    )
                finally:
                    shutil.rmtree(site.root, ignore_errors=True)

            bench.log(f"  link {link.describe()}")
            _interleave(bench, record, step, repeat=bench.wan_repeat, tag=name)
    _link_notes(bench, record)


def case_wan_project(bench: Bench, record: CaseRecord, server: RunningServer) -> None:
    link = PROFILES[PROJECT_LINK]
    dataset = data.project(bench.cache, bench.small_count, bench.wan_size // 2)
    with Proxy(server.address, link=link) as proxy:
        up_site = make_site(_fresh(bench.work / "wan-project-up"), proxy.url)
        warm_vam(bench, up_site, server, "project")

        def step(runner: Runner, rep: int) -> None:
            project = f"wan-proj-{runner.name}-r{rep}"
            data.link_tree(dataset, up_site.staging(project))
            down_site = make_site(
                _fresh(bench.work / f"wan-project-down-{runner.name}-r{rep}"), proxy.url
            )
            down_site.project_dir(project).mkdir(parents=True)
            timeout = _timeout(bench, link, dataset.total)
            try:
                proxy.wait_idle()
                proxy.reset()
                up = bench.run(
                    runner,
                    runner.up(up_site, project),
                    f"wan-project/{runner.name}-r{rep}-up",
                    dataset.total,
                    timeout=timeout,
                )
                ok, note = outcome(up, lambda: check_uploaded(server, project, dataset))
                values: dict[str, Any] = {
                    "up_seconds": round(up.seconds, 4),
                    "up_connections": proxy.count().connections,
                }
                if ok:
                    proxy.wait_idle()
                    proxy.reset()
                    down = bench.run(
                        runner,
                        runner.down(down_site, project),
                        f"wan-project/{runner.name}-r{rep}-down",
                        dataset.total,
                        timeout=timeout,
                    )
                    ok, note = outcome(
                        down, lambda: check_downloaded(down_site.staging(project), dataset)
                    )
                    values.update(
                        down_seconds=round(down.seconds, 4),
                        down_connections=proxy.count().connections,
                    )
                record.add(runner.name, rep, ok, values, note)
            finally:
                delete_prefix(server.client(), f"{KEY_PREFIX}{project}/")
                shutil.rmtree(up_site.project_dir(project), ignore_errors=True)
                shutil.rmtree(down_site.root, ignore_errors=True)

        bench.log(f"  link {link.describe()}")
        _interleave(bench, record, step, repeat=bench.wan_repeat)
    _repeat_note(bench, record)
    record.notes.append(f"link {link.describe()}")


def _merge(
    record: CaseRecord,
    tool: str,
    rep: int,
    ok: bool,
    values: dict[str, Any],
    note: str | None,
    peak_rss: int | None,
) -> None:
    """One run per tool and repetition, its values gathered over the links: a failed link
    leaves its values out (so its medians skip it), the others still count."""
    runs = record.runs.setdefault(tool, [])
    run = next((r for r in runs if r["rep"] == rep), None)
    if run is None:
        run = {"rep": rep, "ok": True, "peak_rss": peak_rss}
        runs.append(run)
    if ok:
        run.update(values)
        run["peak_rss"] = max(run.get("peak_rss") or 0, peak_rss or 0) or None
    else:
        link = next(iter(values)).split(":")[0]
        record.notes.append(f"{tool} run {rep} on {link}: {note}")
        run.setdefault("failed_links", []).append(link)


def _identical(folder, dataset) -> tuple[bool, str | None]:
    """The download is byte-identical to the file (a reset must never corrupt it)."""
    import filecmp

    for rel, _ in dataset.files:
        if not filecmp.cmp(folder / rel, dataset.folder / rel, shallow=False):
            return False, f"{rel} differs from the original"
    return True, None


def _repeat_note(bench: Bench, record: CaseRecord) -> None:
    if bench.wan_repeat == 1:
        record.notes.append(
            "one run per tool and link (--wan-repeat): the link's caps make the times steady, "
            "and a run takes up to minutes"
        )


def _link_notes(bench: Bench, record: CaseRecord) -> None:
    _repeat_note(bench, record)
    for name in bench.links:
        record.notes.append(f"link {PROFILES[name].describe()}")
    record.notes.append(
        "× link time = time / (size / the link's capped rate): 1.00 fills the line, ≤ 1.11 is "
        "≥ 90 % of it; re-sent = bytes on the wire beyond the file (headers included)"
    )
    per = {}
    for tool, runs in record.runs.items():
        for run in runs:
            for key, value in run.items():
                if key.endswith(":peak_connections"):
                    per.setdefault((tool, key.split(":")[0]), []).append(value)
    if per:
        text = ", ".join(f"{t} {lnk} {max(v)}" for (t, lnk), v in sorted(per.items()))
        record.notes.append(f"most connections open at once: {text}")
    if bench.wan_size:
        record.params["bytes"] = bench.wan_size
        record.params["size"] = format_bytes(bench.wan_size)


WAN_CASES: dict[str, CaseSpec] = {
    spec.name: spec
    for spec in (
        CaseSpec(
            "wan-up",
            lambda b: f"upload {format_bytes(b.wan_size)} over a link",
            lambda b: link_metrics(b.links),
            lambda b: b.wan_size,
            case_wan_up,
            params=lambda b: {"bytes": b.wan_size, "links": list(b.links)},
        ),
        CaseSpec(
            "wan-down",
            lambda b: f"download {format_bytes(b.wan_size)} over a link",
            lambda b: link_metrics(b.links),
            lambda b: b.wan_size,
            case_wan_down,
            params=lambda b: {"bytes": b.wan_size, "links": list(b.links)},
        ),
        CaseSpec(
            "wan-project",
            lambda b: (
                f"project {b.small_count} small + 2 × {format_bytes(b.wan_size // 2)}, "
                f"{PROJECT_LINK}"
            ),
            [metric("up_seconds", "up time", "s"), metric("down_seconds", "down time", "s")],
            lambda b: b.wan_size,
            case_wan_project,
            params=lambda b: {
                "small_files": b.small_count,
                "large_files": 2,
                "large_bytes": b.wan_size // 2,
                "link": PROJECT_LINK,
            },
        ),
    )
}
