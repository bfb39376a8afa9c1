"""The cases of issue 4. Each runs the tools interleaved (A B C D, A B C D, …) on a server of its
own (started empty, deleted afterwards), checks every transfer really happened (object listing or
downloaded sizes), and records one run per tool and repetition.

    upload     a project holding one big file, uploaded            seconds, peak RSS
    download   the same, downloaded into an empty projects root    seconds, peak RSS
    project    N small + 2 large files, up then down                up seconds, down seconds
    resync     the project again with nothing changed              seconds, bytes read, bytes sent
    resume     upload SIGKILLed at ~50% on the wire, then re-run   bytes re-sent, re-run seconds
    rss        upload of a 5× file                                  peak RSS, seconds
    manifest   vam only, from benchmarks/manifest_case.py when the manifest helper adds it
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import data
from benchmarks.data import Dataset
from benchmarks.fileaccess import AccessWatch
from benchmarks.measure import Invocation, Measured, run_measured
from benchmarks.proxy import CountingProxy
from benchmarks.runners import KEY_PREFIX, Runner, make_site
from benchmarks.server import (
    RunningServer,
    ServerChoice,
    abort_uploads,
    delete_prefix,
    list_sizes,
    put_tree,
    s3_server,
)
from benchmarks.stats import SUBJECT, best_peer, format_bytes, median, ratio

MIN_RATE = 8 * 1024 * 1024  # a run slower than this (bytes/s) is considered hung
IGNORED_PARTS = (".vam", ".vam-part")  # vam's own state folder and in-flight files


def metric(key: str, label: str, unit: str) -> dict[str, str]:
    return {"key": key, "label": label, "unit": unit}


@dataclass
class Bench:
    """Everything a case needs: folders, server, the available tools, the sizes."""

    cache: Path
    work: Path
    server: ServerChoice | None
    runners: list[Runner]
    size: int
    small_count: int
    repeat: int
    log: Callable[[str], None] = print
    # for the case that needs ListParts (resume): s3rver 3.7.1 answers it MethodNotAllowed
    multipart_server: ServerChoice | None = None
    # the link cases (benchmarks/wan.py): their file size and the link profiles they run on
    wan_size: int = 256 * 1024 * 1024
    links: tuple[str, ...] = ("baseline", "long-haul", "jan-home")
    wan_repeat: int = 1  # runs per tool and link (each takes up to minutes)
    manifest_projects: int = 120  # per brand, in the manifest case

    def timeout(self, nbytes: int) -> float:
        return 120 + nbytes / MIN_RATE

    def run(
        self,
        runner: Runner,
        inv: Invocation,
        where: str,
        nbytes: int,
        kill_when: Callable[[], bool] | None = None,
        timeout: float | None = None,
    ) -> Measured:
        return run_measured(
            inv,
            log_dir=self.work / "logs" / where,
            timeout=timeout or self.timeout(nbytes),
            kill_when=kill_when,
        )


@dataclass
class CaseRecord:
    name: str
    title: str
    metrics: list[dict[str, str]]
    params: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    seconds: float | None = None

    def add(
        self,
        tool: str,
        rep: int,
        ok: bool,
        values: dict[str, Any],
        note: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        run = {"rep": rep, "ok": ok, **values, **extra}
        if note:
            run["note"] = note
            self.notes.append(f"{tool} run {rep}: {note}")
        self.runs.setdefault(tool, []).append(run)
        return run

    def as_json(self, tools: list[str]) -> dict[str, Any]:
        medians: dict[str, dict[str, float | None]] = {}
        ratios: dict[str, float | None] = {}
        best: dict[str, str | None] = {}
        for m in self.metrics:
            key = m["key"]
            medians[key] = {
                t: median(r.get(key) for r in self.runs.get(t, []) if r["ok"]) for t in tools
            }
            top = best_peer(medians[key])
            best[key] = top[0] if top else None
            ratios[key] = ratio(medians[key].get(SUBJECT), top[1] if top else None)
        return {
            "title": self.title,
            "params": self.params,
            "metrics": self.metrics,
            "skipped": self.skipped,
            "runs": self.runs,
            "medians": medians,
            "best": best,
            "ratios": ratios,
            "notes": self.notes,
            "seconds": self.seconds,
        }


# --------------------------------------------------------------------------- checks


def check_uploaded(server: RunningServer, project: str, dataset: Dataset) -> str | None:
    """None when every file of the dataset is on the server at its size, else what is wrong."""
    prefix = f"{KEY_PREFIX}{project}/"
    found = list_sizes(server.client(), prefix)
    wrong = [rel for rel, size in dataset.files if found.get(prefix + rel) != size]
    return _incomplete("upload", wrong, dataset)


def check_downloaded(folder: Path, dataset: Dataset) -> str | None:
    found = data.tree_sizes(folder)
    wrong = [rel for rel, size in dataset.files if found.get(rel) != size]
    return _incomplete("download", wrong, dataset)


def _incomplete(what: str, wrong: list[str], dataset: Dataset) -> str | None:
    if not wrong:
        return None
    return (
        f"{what} incomplete: {len(wrong)} of {len(dataset.files)} files missing or of the wrong "
        f"size (e.g. {wrong[0]})"
    )


def outcome(m: Measured, check: Callable[[], str | None]) -> tuple[bool, str | None]:
    if not m.ok:
        return False, m.error_line()
    problem = check()
    return problem is None, problem


def measured_values(m: Measured) -> dict[str, Any]:
    return {
        "seconds": round(m.seconds, 4),
        "peak_rss": m.peak_rss,
        "read_chars": m.read_chars,
        "read_bytes": m.read_bytes,
        "returncode": m.returncode,
    }


def _safe(record: CaseRecord, tool: str, rep: int, fn: Callable[[], None]) -> None:
    """One tool's step must never end the benchmark: an exception becomes a failed run."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - reported in the result, with the traceback's last line
        tb = traceback.format_exc(limit=2).strip().splitlines()[-1]
        record.add(tool, rep, False, {}, note=f"harness error: {type(exc).__name__}: {exc} ({tb})")


def _interleave(
    bench: Bench,
    record: CaseRecord,
    step: Callable[[Runner, int], None],
    repeat: int | None = None,
    tag: str = "",
) -> None:
    name = f"{record.name} {tag}" if tag else record.name
    for rep in range(1, (repeat or bench.repeat) + 1):
        for runner in bench.runners:
            bench.log(f"  [{name} {rep}/{repeat or bench.repeat}] {runner.label}")
            _safe(record, runner.name, rep, lambda r=runner, n=rep: step(r, n))


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# --------------------------------------------------------------------------- cases


def case_upload(bench: Bench, record: CaseRecord, server: RunningServer) -> None:
    dataset = data.single_file(bench.cache, bench.size)
    site = make_site(_fresh(bench.work / "up"), server.endpoint)

    def step(runner: Runner, rep: int) -> None:
        project = f"up-{runner.name}-r{rep}"
        data.link_tree(dataset, site.staging(project))
        try:
            m = bench.run(
                runner, runner.up(site, project), f"upload/{runner.name}-r{rep}", dataset.total
            )
            ok, note = outcome(m, lambda: check_uploaded(server, project, dataset))
            record.add(
                runner.name, rep, ok, measured_values(m), note, report=runner.report(m.stdout)
            )
        finally:
            delete_prefix(server.client(), f"{KEY_PREFIX}{project}/")
            shutil.rmtree(site.project_dir(project), ignore_errors=True)

    _interleave(bench, record, step)


def case_download(bench: Bench, record: CaseRecord, server: RunningServer) -> None:
    """The object as vam's workflow leaves it in staging: uploaded by vam (s3.up), with vam's
    index (`.vam/index.json`, ~1 KiB, which holds its CRC32) beside it. The peers sync the
    whole prefix, so they fetch that small file too; only the big file is checked."""
    dataset = data.single_file(bench.cache, bench.size)
    vam = next((r for r in bench.runners if r.name == "vam"), None)
    if vam is None:  # no vam in this run: seed like download-foreign
        put_tree(server.client(), dataset.folder, f"{KEY_PREFIX}dl/")
        record.params["seeded_by"] = "boto3 (harness)"
    else:
        site = make_site(_fresh(bench.work / "down-seed"), server.endpoint)
        data.link_tree(dataset, site.staging("dl"))
        bench.log("  [download setup] vam uploads the object every tool downloads")
        m = bench.run(vam, vam.up(site, "dl"), "download/seed", dataset.total)
        ok, note = outcome(m, lambda: check_uploaded(server, "dl", dataset))
        if not ok:
            raise RuntimeError(f"seeding with vam s3.up failed: {note}")
        shutil.rmtree(site.root, ignore_errors=True)
        record.params["seeded_by"] = "vam s3.up (its index beside the object holds the CRC32)"
    _note_durable_write(bench, record)
    _download_each(bench, record, server, dataset, "dl")


def durable_write_seconds(folder: Path, size: int, chunk: int = 8 * 1024 * 1024) -> float:
    """How long this disk takes to write `size` bytes so that they survive a power cut (write,
    then fsync): the least a download that fsyncs before it takes its name can cost here."""
    path = folder / "durable-write-probe.bin"
    block = os.urandom(min(chunk, max(size, 1)))
    started = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        written = 0
        while written < size:
            written += os.write(fd, block[: min(len(block), size - written)])
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - started
    path.unlink(missing_ok=True)
    return seconds


def _note_durable_write(bench: Bench, record: CaseRecord) -> None:
    seconds = durable_write_seconds(bench.work, bench.size)
    record.params["durable_write_seconds"] = round(seconds, 3)
    record.notes.append(
        f"this disk writes {format_bytes(bench.size)} durably (write + fsync) in {seconds:.2f} s: "
        "vam fsyncs a download before it takes its real name (a power cut never leaves a "
        "half-written file under it); the peers do not, so their time can be below this"
    )


def case_download_foreign(bench: Bench, record: CaseRecord, server: RunningServer) -> None:
    """An object another tool uploaded (plain boto3, no checksum): vam can only verify it by its
    ETag (an MD5 on s3rver), which it hashes as the bytes arrive; the peers verify nothing."""
    dataset = data.single_file(bench.cache, bench.size)
    put_tree(server.client(), dataset.folder, f"{KEY_PREFIX}dl-foreign/")
    record.params["seeded_by"] = "boto3 (harness), no checksum"
    _download_each(bench, record, server, dataset, "dl-foreign")


def _download_each(
    bench: Bench, record: CaseRecord, server: RunningServer, dataset: Dataset, project: str
) -> None:
    def step(runner: Runner, rep: int) -> None:
        site = make_site(_fresh(bench.work / f"down-{runner.name}-r{rep}"), server.endpoint)
        site.project_dir(project).mkdir(parents=True)
        try:
            m = bench.run(
                runner,
                runner.down(site, project),
                f"{record.name}/{runner.name}-r{rep}",
                dataset.total,
            )
            ok, note = outcome(m, lambda: check_downloaded(site.staging(project), dataset))
            record.add(
                runner.name, rep, ok, measured_values(m), note, report=runner.report(m.stdout)
            )
        finally:
            shutil.rmtree(site.root, ignore_errors=True)

    _interleave(bench, record, step)


def case_project(bench: Bench, record: CaseRecord, server: RunningServer) -> None:
    dataset = data.project(bench.cache, bench.small_count, bench.size // 2)
    up_site = make_site(_fresh(bench.work / "project-up"), server.endpoint)

    def step(runner: Runner, rep: int) -> None:
        project = f"proj-{runner.name}-r{rep}"
        data.link_tree(dataset, up_site.staging(project))
        down_site = make_site(
            _fresh(bench.work / f"project-down-{runner.name}-r{rep}"), server.endpoint
        )
        down_site.project_dir(project).mkdir(parents=True)
        try:
            up = bench.run(
                runner,
                runner.up(up_site, project),
                f"project/{runner.name}-r{rep}-up",
                dataset.total,
            )
            ok, note = outcome(up, lambda: check_uploaded(server, project, dataset))
            values: dict[str, Any] = {
                "up_seconds": round(up.seconds, 4),
                "up_peak_rss": up.peak_rss,
            }
            if ok:
                down = bench.run(
                    runner,
                    runner.down(down_site, project),
                    f"project/{runner.name}-r{rep}-down",
                    dataset.total,
                )
                ok, note = outcome(
                    down, lambda: check_downloaded(down_site.staging(project), dataset)
                )
                values.update(down_seconds=round(down.seconds, 4), down_peak_rss=down.peak_rss)
            record.add(runner.name, rep, ok, values, note)
        finally:
            delete_prefix(server.client(), f"{KEY_PREFIX}{project}/")
            shutil.rmtree(up_site.project_dir(project), ignore_errors=True)
            shutil.rmtree(down_site.root, ignore_errors=True)

    _interleave(bench, record, step)


def case_resync(bench: Bench, record: CaseRecord, server: RunningServer) -> None:
    dataset = data.project(bench.cache, bench.small_count, bench.size // 2)
    sizes = dict(dataset.files)
    with CountingProxy(server.address) as proxy:
        site = make_site(_fresh(bench.work / "resync"), proxy.url)
        ready: set[str] = set()
        # each tool uploads its project once, untimed: the state its next run starts from
        for runner in bench.runners:
            project = f"sync-{runner.name}"
            data.link_tree(dataset, site.staging(project))
            bench.log(f"  [resync setup] {runner.label} first upload")
            m = bench.run(
                runner, runner.up(site, project), f"resync/{runner.name}-first", dataset.total
            )
            ok, note = outcome(m, lambda p=project: check_uploaded(server, p, dataset))
            if ok:
                ready.add(runner.name)
            else:
                record.notes.append(
                    f"{runner.name}: first upload failed, no re-sync measured: {note}"
                )

        def step(runner: Runner, rep: int) -> None:
            if runner.name not in ready:
                return
            project = f"sync-{runner.name}"
            proxy.wait_idle()
            proxy.reset()
            with AccessWatch(site.staging(project)) as watch:
                m = bench.run(
                    runner, runner.up(site, project), f"resync/{runner.name}-r{rep}", dataset.total
                )
                read = watch.read_files() & sizes.keys()
                overflowed = watch.overflowed
            proxy.wait_idle()
            wire = proxy.count()
            ok, note = outcome(m, lambda: check_uploaded(server, project, dataset))
            values = measured_values(m) | {
                "files_read": None if overflowed else len(read),
                "file_bytes_read": None if overflowed else sum(sizes[rel] for rel in read),
                "wire_sent": wire.sent,
                "wire_received": wire.received,
                "connections": wire.connections,
            }
            record.add(runner.name, rep, ok, values, note, report=runner.report(m.stdout))

        _interleave(bench, record, step)
    record.notes.append(
        f"files read = project files (of {len(dataset.files)}, {format_bytes(dataset.total)}) the "
        "tool read at all (inotify IN_ACCESS); file bytes read = their total size (an upper "
        "bound); all bytes read = rchar from /proc/<pid>/io (every read syscall, the tool's own "
        "start-up files included)"
    )


def case_resume(bench: Bench, record: CaseRecord, server: RunningServer) -> None:
    dataset = data.single_file(bench.cache, bench.size)
    half = dataset.total // 2
    with CountingProxy(server.address) as proxy:
        site = make_site(_fresh(bench.work / "resume"), proxy.url)

        def step(runner: Runner, rep: int) -> None:
            project = f"resume-{runner.name}-r{rep}"
            data.link_tree(dataset, site.staging(project))
            try:
                proxy.reset()
                first = bench.run(
                    runner,
                    runner.up(site, project),
                    f"resume/{runner.name}-r{rep}-killed",
                    dataset.total,
                    kill_when=lambda: proxy.count().sent >= half,
                )
                drained = proxy.wait_idle()
                before = proxy.reset().sent
                if not drained:
                    record.notes.append(
                        f"{runner.name} run {rep}: connections still open 10 s after the kill"
                    )
                if not first.killed:
                    how = "exit 0" if first.ok else first.error_line()
                    note = f"finished before the kill ({how}, {format_bytes(before)} sent)"
                    record.add(runner.name, rep, False, {"sent_before_kill": before}, note)
                    return
                if check_uploaded(server, project, dataset) is None:
                    # the kill landed after the upload had completed: nothing left to resume
                    note = (
                        f"the upload completed before the kill landed ({format_bytes(before)} "
                        "sent); use a larger --size"
                    )
                    record.add(runner.name, rep, False, {"sent_before_kill": before}, note)
                    return
                again = bench.run(
                    runner,
                    runner.up(site, project),
                    f"resume/{runner.name}-r{rep}-rerun",
                    dataset.total,
                )
                proxy.wait_idle()
                wire = proxy.count()
                ok, note = outcome(again, lambda: check_uploaded(server, project, dataset))
                values = {
                    "sent_before_kill": before,
                    "resent": wire.sent,
                    "resent_fraction": round(wire.sent / dataset.total, 4),
                    "seconds": round(again.seconds, 4),
                    "peak_rss": again.peak_rss,
                }
                record.add(runner.name, rep, ok, values, note, report=runner.report(again.stdout))
            finally:
                delete_prefix(server.client(), f"{KEY_PREFIX}{project}/")
                abort_uploads(server.client(), f"{KEY_PREFIX}{project}/")
                shutil.rmtree(site.project_dir(project), ignore_errors=True)

        _interleave(bench, record, step)
    record.notes.append(
        "bytes on the wire through a counting proxy (headers included); killed with "
        "SIGKILL once half the file had gone through"
    )


RSS_FACTOR = 5


def case_rss(bench: Bench, record: CaseRecord, server: RunningServer) -> None:
    dataset = data.single_file(bench.cache, bench.size * RSS_FACTOR, name="render-long.mp4")
    site = make_site(_fresh(bench.work / "rss"), server.endpoint)
    try:

        def step(runner: Runner, rep: int) -> None:
            project = f"rss-{runner.name}-r{rep}"
            data.link_tree(dataset, site.staging(project))
            try:
                m = bench.run(
                    runner, runner.up(site, project), f"rss/{runner.name}-r{rep}", dataset.total
                )
                ok, note = outcome(m, lambda: check_uploaded(server, project, dataset))
                record.add(
                    runner.name, rep, ok, measured_values(m), note, report=runner.report(m.stdout)
                )
            finally:
                delete_prefix(server.client(), f"{KEY_PREFIX}{project}/")
                shutil.rmtree(site.project_dir(project), ignore_errors=True)

        # peak RSS barely moves between runs and each run moves 5× the data: one run per tool
        _interleave(bench, record, step, repeat=1)
        record.notes.append(
            f"one run per tool (peak RSS is stable; each run uploads {format_bytes(dataset.total)})"
        )
    finally:
        data.drop(dataset)  # disk is limited; regenerating costs less than keeping it


def case_manifest(bench: Bench, record: CaseRecord) -> None:
    module = importlib.import_module("benchmarks.manifest_case")
    for rep in range(1, bench.repeat + 1):
        bench.log(f"  [manifest {rep}/{bench.repeat}] vam")

        def one(rep: int = rep) -> None:
            work = _fresh(bench.work / f"manifest-r{rep}")
            result = module.bench_manifest(work, projects=bench.manifest_projects)
            seconds = result.get("seconds")
            extra = {k: v for k, v in result.items() if k not in ("seconds",)}
            record.add(SUBJECT, rep, seconds is not None, {"seconds": seconds}, None, result=extra)

        _safe(record, SUBJECT, rep, one)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class CaseSpec:
    name: str
    title: Callable[[Bench], str]
    metrics: list[dict[str, str]] | Callable[[Bench], list[dict[str, str]]]
    data_bytes: Callable[[Bench], int]  # what the case generates locally (disk check: 3× this)
    run: Callable[..., None]
    needs_server: bool = True
    # resuming an upload means asking the server which parts it has (ListParts)
    needs_list_parts: bool = False
    params: Callable[[Bench], dict[str, Any]] = lambda b: {}


def _one_file_case(name: str, title: str, run: Callable[..., None]) -> CaseSpec:
    """A case that moves one file of `--size` bytes: time and peak RSS per tool."""
    return CaseSpec(
        name,
        lambda b: title.format(size=format_bytes(b.size)),
        [metric("seconds", "time", "s"), metric("peak_rss", "peak RSS", "bytes")],
        lambda b: b.size,
        run,
        params=lambda b: {"bytes": b.size, "files": 1},
    )


CASES: dict[str, CaseSpec] = {
    spec.name: spec
    for spec in (
        _one_file_case("upload", "upload {size}", case_upload),
        _one_file_case("download", "download {size}", case_download),
        _one_file_case(
            "download-foreign", "download {size}, uploaded by another tool", case_download_foreign
        ),
        CaseSpec(
            "project",
            lambda b: f"project {b.small_count} small + 2 × {format_bytes(b.size // 2)}",
            [metric("up_seconds", "up time", "s"), metric("down_seconds", "down time", "s")],
            lambda b: b.size,
            case_project,
            params=lambda b: {
                "small_files": b.small_count,
                "large_files": 2,
                "large_bytes": b.size // 2,
            },
        ),
        CaseSpec(
            "resync",
            lambda b: "re-sync, nothing changed",
            [
                metric("seconds", "time", "s"),
                metric("files_read", "files read", "count"),
                metric("file_bytes_read", "file bytes read", "bytes"),
                metric("read_chars", "all bytes read", "bytes"),
                metric("wire_sent", "bytes sent", "bytes"),
            ],
            lambda b: b.size,
            case_resync,
            params=lambda b: {
                "small_files": b.small_count,
                "large_files": 2,
                "large_bytes": b.size // 2,
            },
        ),
        CaseSpec(
            "resume",
            lambda b: "resume after kill at ~50%",
            [metric("resent", "bytes re-sent", "bytes"), metric("seconds", "re-run time", "s")],
            lambda b: b.size,
            case_resume,
            needs_list_parts=True,
            params=lambda b: {"bytes": b.size, "kill_at": 0.5},
        ),
        CaseSpec(
            "rss",
            lambda b: f"upload {format_bytes(b.size * RSS_FACTOR)}",
            [metric("peak_rss", "peak RSS", "bytes"), metric("seconds", "time", "s")],
            lambda b: b.size * RSS_FACTOR,
            case_rss,
            params=lambda b: {"bytes": b.size * RSS_FACTOR},
        ),
        CaseSpec(
            "manifest",
            lambda b: "manifest (vam only)",
            [metric("seconds", "time", "s")],
            lambda b: 0,
            case_manifest,
            needs_server=False,
        ),
    )
}


def manifest_case_present() -> bool:
    return importlib.util.find_spec("benchmarks.manifest_case") is not None


def run_case(bench: Bench, spec: CaseSpec) -> CaseRecord:
    """Run one case; any reason it cannot run becomes its skip note, never an exception."""
    import time

    metrics = spec.metrics(bench) if callable(spec.metrics) else spec.metrics
    record = CaseRecord(spec.name, spec.title(bench), metrics, spec.params(bench))
    started = time.perf_counter()
    try:
        if spec.name == "manifest":
            if not manifest_case_present():
                record.skipped = (
                    "benchmarks/manifest_case.py is not there yet (the manifest helper adds it)"
                )
                return record
            spec.run(bench, record)
            return record
        if bench.server is None:
            record.skipped = "no S3-compatible server (see the server note)"
            return record
        if not bench.runners:
            record.skipped = "no tool available"
            return record
        need = 3 * spec.data_bytes(bench)
        free = data.free_bytes(bench.cache)
        if free < need:
            record.skipped = (
                f"not enough free disk: {format_bytes(free)} free under {bench.cache}, "
                f"needs 3 × {format_bytes(spec.data_bytes(bench))}"
            )
            return record
        choice = bench.server
        if spec.needs_list_parts and bench.server.name == "s3rver":
            if bench.multipart_server is not None:
                choice = bench.multipart_server
                record.notes.append(
                    f"runs on {choice.name} {choice.version or ''}: s3rver {bench.server.version} "
                    "has no ListParts, which resuming an upload needs; the metric is bytes on the "
                    "wire, which does not depend on the server's speed"
                )
            else:
                record.notes.append(
                    "s3rver has no ListParts: a tool that resumes by listing parts cannot resume"
                )
        record.params["server"] = f"{choice.name} {choice.version or ''}".strip()
        with s3_server(
            choice, bench.work / "server-data", bench.work / "logs" / f"server-{spec.name}.log"
        ) as server:
            spec.run(bench, record, server)
    except Exception as exc:  # noqa: BLE001 - a broken case is reported, the others still run
        record.skipped = f"case failed: {type(exc).__name__}: {exc}"
    finally:
        record.seconds = round(time.perf_counter() - started, 2)
    return record


def all_cases() -> dict[str, CaseSpec]:
    """The loopback cases above and the link cases of benchmarks/wan.py, in the order they run."""
    from benchmarks.wan import WAN_CASES

    return {**CASES, **WAN_CASES}
