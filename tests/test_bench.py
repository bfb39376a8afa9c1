"""The benchmark harness (issue 4): its pure parts, its measuring instruments on real processes and
sockets, the vam-facing contract (brands.toml, key layout, CLI), and one slow smoke run."""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
from pathlib import Path

import pytest

from benchmarks import data
from benchmarks.cases import CASES, CaseRecord, all_cases, metric
from benchmarks.harness import QUICK, options_for, run_bench, table
from benchmarks.install import vam_status
from benchmarks.measure import Invocation, run_measured
from benchmarks.proxy import CountingProxy, Link, Proxy
from benchmarks.runners import KEY_PREFIX, Site, VamRunner, last_json_object, make_site, s3_url
from benchmarks.stats import GiB, MiB, best_peer, format_bytes, median, ratio, render_table
from tests.conftest import REPO

# --------------------------------------------------------------------------- stats


def test_median_ignores_failed_runs():
    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([4, 1]) == 2.5
    assert median([None, None]) is None


def test_best_peer_never_picks_vam_and_ratio_is_vam_over_best():
    medians = {"vam": 2.0, "aws": 6.0, "s5cmd": 4.0, "rclone": None}
    assert best_peer(medians) == ("s5cmd", 4.0)
    assert ratio(2.0, 4.0) == 0.5
    assert best_peer({"vam": 1.0, "aws": None}) is None
    assert ratio(None, 4.0) is None
    # zero bytes re-read by both: equally good, not a division error
    assert ratio(0, 0) == 1.0
    assert ratio(5, 0) == float("inf")


def test_bytes_are_shown_in_binary_units():
    assert format_bytes(GiB) == "1.00 GiB"
    assert format_bytes(64 * MiB) == "64.00 MiB"
    assert format_bytes(1536) == "1.50 KiB"
    assert format_bytes(12) == "12 B"
    assert format_bytes(None) == "-"


def _record_with(runs: dict[str, list[tuple[bool, float | None]]]) -> CaseRecord:
    rec = CaseRecord("upload", "upload 1.00 GiB", [metric("seconds", "time", "s")])
    for tool, values in runs.items():
        for rep, (ok, seconds) in enumerate(values, 1):
            rec.add(tool, rep, ok, {"seconds": seconds}, None if ok else "exit 1: boom")
    return rec


def test_case_record_takes_medians_of_successful_runs_only():
    rec = _record_with(
        {
            "vam": [(True, 3.0), (True, 5.0), (False, 0.1)],
            "aws": [(True, 8.0), (True, 8.0), (True, 9.0)],
            "s5cmd": [(True, 4.0), (True, 5.0), (True, 6.0)],
        }
    )
    out = rec.as_json(["vam", "aws", "s5cmd", "rclone"])
    assert out["medians"]["seconds"] == {"vam": 4.0, "aws": 8.0, "s5cmd": 5.0, "rclone": None}
    assert out["best"]["seconds"] == "s5cmd"
    assert out["ratios"]["seconds"] == pytest.approx(0.8)
    assert out["notes"] == ["vam run 3: exit 1: boom"]


def test_table_shows_medians_ratio_skips_and_why_a_tool_is_missing():
    rec = _record_with({"aws": [(True, 8.0)], "s5cmd": [(True, 4.0)]})
    skipped = CaseRecord("manifest", "manifest (vam only)", [metric("seconds", "time", "s")])
    skipped.skipped = "benchmarks/manifest_case.py is not there yet"
    tools = ["vam", "aws", "s5cmd"]
    result = {
        "tool_order": tools,
        "tools": {
            "vam": {"label": "vam", "note": "not available yet"},
            "aws": {"label": "aws cli"},
            "s5cmd": {"label": "s5cmd"},
        },
        "cases": {"upload": rec.as_json(tools), "manifest": skipped.as_json(tools)},
    }
    text = render_table(result)
    lines = text.splitlines()
    assert lines[0].split() == ["case", "metric", "vam", "aws", "cli", "s5cmd", "vam/best"]
    upload = next(line for line in lines if line.startswith("upload 1.00 GiB"))
    assert "8.00 s" in upload and "4.00 s" in upload
    assert upload.split()[4] == "-" and upload.rstrip().endswith("-")  # no vam value, no ratio
    assert any(line.startswith("manifest (vam only)") and "skipped" in line for line in lines)
    assert "note: vam: not available yet" in text
    assert "note: manifest (vam only): benchmarks/manifest_case.py is not there yet" in text


def test_table_ratio_names_the_best_peer():
    rec = _record_with({"vam": [(True, 3.0)], "aws": [(True, 8.0)], "s5cmd": [(True, 4.0)]})
    tools = ["vam", "aws", "s5cmd"]
    result = {
        "tool_order": tools,
        "tools": {t: {"label": t} for t in tools},
        "cases": {"upload": rec.as_json(tools)},
    }
    assert "0.75 (s5cmd)" in render_table(result)


# --------------------------------------------------------------------------- counting proxy


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """PUT: swallow the body, answer its length. GET /N: answer N bytes."""

    protocol_version = "HTTP/1.1"

    def do_PUT(self):
        n = int(self.headers["Content-Length"])
        self.rfile.read(n)
        body = str(n).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        n = int(self.path.strip("/"))
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.end_headers()
        self.wfile.write(b"x" * n)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address
    server.shutdown()
    server.server_close()


def test_proxy_counts_bytes_each_way_through_a_real_http_server(http_server):
    import http.client

    with CountingProxy(http_server) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        conn.request("PUT", "/upload", body=b"a" * 300_000)
        assert conn.getresponse().read() == b"300000"
        conn.request("GET", "/200000")
        assert len(conn.getresponse().read()) == 200_000
        conn.close()
        assert proxy.wait_idle(5)
        count = proxy.count()
        # the bodies plus headers of a few hundred bytes, nothing more
        assert 300_000 < count.sent < 301_000
        assert 200_000 < count.received < 201_000
        assert count.connections == 1
        assert proxy.reset() == count
        assert proxy.count().sent == 0


def test_proxy_survives_a_client_that_vanishes_mid_upload(http_server):
    with CountingProxy(http_server) as proxy:
        import socket

        s = socket.create_connection(("127.0.0.1", proxy.port))
        s.sendall(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"a" * 5000)
        s.close()  # the rest never comes, like a killed tool
        assert proxy.wait_idle(10)
        assert 5000 < proxy.count().sent < 6000


def test_the_link_adds_its_latency_and_caps_each_connection(http_server):
    """Lower bounds only (a slow machine only adds time): the handshake's round trip plus the
    request's, and 300 KB at 1 MB/s on one connection."""
    import http.client
    import time

    link = Link("test", rtt=0.2, per_connection=1_000_000)
    with Proxy(http_server, link=link) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
        started = time.perf_counter()
        conn.request("GET", "/1000")
        assert len(conn.getresponse().read()) == 1000
        assert time.perf_counter() - started >= 0.4  # handshake + one round trip
        started = time.perf_counter()
        conn.request("PUT", "/upload", body=b"a" * 300_000)
        assert conn.getresponse().read() == b"300000"
        assert time.perf_counter() - started >= 0.2 + 0.25  # a round trip + 300 KB at 1 MB/s
        conn.close()
        assert proxy.wait_idle(5)
        assert proxy.count().connections == 1


def test_the_link_resets_the_connection_carrying_every_nth_byte(http_server):
    import http.client

    with Proxy(http_server, link=Link("resets", reset_every=100_000)) as proxy:
        for _ in range(3):
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
            try:
                conn.request("GET", "/250000")
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                pass  # reset mid-response, as a dropped link does
            conn.close()
        assert proxy.wait_idle(5)
        count = proxy.count()
        assert count.resets >= 2 and count.connections == 3
        # the bytes before each reset got through; nothing after it
        assert count.received < 3 * 250_500


def test_link_values_are_time_over_link_time_and_bytes_beyond_the_file():
    from benchmarks.proxy import PROFILES, WireCount
    from benchmarks.wan import _link_values, link_metrics

    jan = PROFILES["jan-home"]
    wire = WireCount(sent=110 * MiB, received=1000, connections=20, peak_connections=16, resets=2)
    values = _link_values(jan, "up", 50.0, 100 * MiB, wire)
    assert values["jan-home:vs_link"] == round(50.0 / (100 * MiB / 2.5e6), 4)
    assert values["jan-home:resent"] == 10 * MiB and values["jan-home:resets"] == 2
    keys = [m["key"] for m in link_metrics(("baseline", "long-haul", "jan-home"))]
    assert keys == [
        "baseline:seconds",
        "long-haul:seconds",
        "long-haul:vs_link",
        "jan-home:seconds",
        "jan-home:vs_link",
        "jan-home:resent",
        "jan-home:resets",
    ]


# --------------------------------------------------------------------------- /proc measurement


def test_peak_rss_of_a_child_that_allocates_memory(tmp_path):
    code = "x = bytearray(120 * 1024 * 1024); import time; time.sleep(0.3)"
    m = run_measured(
        Invocation((sys.executable, "-c", code), os.environ), log_dir=tmp_path, timeout=60
    )
    assert m.ok
    assert m.peak_rss >= 120 * MiB
    assert m.peak_rss < 400 * MiB


def test_bytes_read_by_a_child(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(os.urandom(3 * MiB))
    code = f"open({str(blob)!r}, 'rb').read()"
    m = run_measured(
        Invocation((sys.executable, "-c", code), os.environ), log_dir=tmp_path / "log", timeout=60
    )
    assert m.ok and m.read_chars >= 3 * MiB
    quiet = run_measured(
        Invocation((sys.executable, "-c", "pass"), os.environ), log_dir=tmp_path / "l2", timeout=60
    )
    assert quiet.read_chars < 3 * MiB


def test_kill_when_stops_the_child_and_its_children(tmp_path):
    # the child starts a grandchild; a SIGKILL of the group must take both
    marker = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(marker)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    m = run_measured(
        Invocation((sys.executable, "-c", code), os.environ),
        log_dir=tmp_path / "log",
        timeout=30,
        kill_when=marker.exists,
    )
    assert m.killed and not m.ok and m.returncode == -9
    assert m.seconds < 30
    grandchild = int(marker.read_text())
    for _ in range(100):
        if not Path(f"/proc/{grandchild}").exists() or "Z" in _proc_state(grandchild):
            break
        threading.Event().wait(0.05)
    assert not Path(f"/proc/{grandchild}").exists() or "Z" in _proc_state(grandchild)


def _proc_state(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line
    except OSError:
        return "gone"
    return ""


def test_a_hung_tool_times_out_with_a_note(tmp_path):
    m = run_measured(Invocation(("sleep", "30"), os.environ), log_dir=tmp_path, timeout=0.3)
    assert m.timed_out and not m.ok
    assert "timed out" in m.error_line()


def test_failure_note_is_the_tools_last_line(tmp_path):
    code = "import sys; print('working'); sys.exit('upload failed: AccessDenied')"
    m = run_measured(
        Invocation((sys.executable, "-c", code), os.environ), log_dir=tmp_path, timeout=60
    )
    assert m.returncode == 1
    assert m.error_line() == "exit 1: upload failed: AccessDenied"


# --------------------------------------------------------------------------- data


def test_generated_data_is_cached_and_hard_linked(tmp_path):
    ds = data.project(tmp_path, 6, MiB)
    assert len(ds.files) == 8 and ds.largest == MiB
    first = {rel: (ds.folder / rel).stat().st_ino for rel, _ in ds.files}
    again = data.project(tmp_path, 6, MiB)
    assert {rel: (again.folder / rel).stat().st_ino for rel, _ in again.files} == first  # reused
    dest = data.link_tree(ds, tmp_path / "site" / "s3-staging")
    assert data.tree_sizes(dest) == dict(ds.files)
    rel = ds.files[0][0]
    assert (dest / rel).stat().st_ino == first[rel]
    assert any(" " in rel and "é" in rel for rel, _ in ds.files)  # real-world names


def test_a_truncated_cache_is_regenerated(tmp_path):
    ds = data.single_file(tmp_path, 100_000)
    path = ds.folder / ds.files[0][0]
    path.write_bytes(b"short")
    again = data.single_file(tmp_path, 100_000)
    assert (again.folder / again.files[0][0]).stat().st_size == 100_000


# --------------------------------------------------------------------------- the vam contract


def test_the_site_config_is_what_vam_reads(tmp_path):
    from vam.core.config import load_config
    from vam.core.projects import find_brand

    site = make_site(tmp_path / "root", "http://127.0.0.1:9")
    config = load_config(cwd=site.root, env={"VAM_SETTINGS": str(site.settings_file)})
    storage = config.team.storage
    assert (storage.bucket, storage.region, storage.endpoint_url) == (
        "bench",
        "us-east-1",
        "http://127.0.0.1:9",
    )
    assert config.settings.projects_root == site.root
    brand = find_brand(config, "bench")
    assert storage.prefix_for(brand.key) == KEY_PREFIX
    assert site.staging("p1") == site.root / brand.repo / "p1" / "s3-staging"
    assert s3_url("p1") == "s3://bench/staging/v-bench/p1/"


def test_vam_runner_uses_the_s3_task_contract(tmp_path):
    site = Site(tmp_path, "http://127.0.0.1:9")
    inv = VamRunner(Path(sys.executable), REPO).up(site, "up-vam-r1")
    assert inv.argv[1:] == (
        "-m",
        "vam",
        "s3.up",
        "--brand",
        "bench",
        "--project",
        "up-vam-r1",
        "--json",
    )
    assert inv.env["VAM_SETTINGS"] == str(site.settings_file)
    assert inv.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    assert "AWS_PROFILE" not in inv.env and "AWS_CA_BUNDLE" not in inv.env
    assert VamRunner(Path(sys.executable), REPO).down(site, "x").argv[3] == "s3.down"


def test_vam_takes_part_exactly_when_its_s3_tasks_exist(vam_cli):
    listed = vam_cli("--list").stdout.split()
    status = vam_status(REPO)
    assert status.available == ("s3.up" in listed and "s3.down" in listed)
    if not status.available:
        assert "not available yet" in status.note


def test_last_json_object_skips_log_lines_and_nested_objects():
    text = 'uploading…\n{"a": {"b": 1}}\nlog {not json}\n{"files": [{"rel": "x"}], "sent": 5}\n'
    assert last_json_object(text) == {"files": [{"rel": "x"}], "sent": 5}
    assert last_json_object("no json here") is None


def test_options_quick_preset_and_bad_names():
    quick = options_for(quick=True)
    assert (quick.size, quick.repeat, quick.small_count) == (64 * MiB, 1, 20)
    assert quick.cases == tuple(all_cases())
    full = options_for(cases=["upload", "resume"], tools=["rclone", "vam"], repeat=5)
    assert full.size == GiB and full.repeat == 5 and full.cases == ("upload", "resume")
    assert full.tools == ("vam", "rclone")  # always in table order
    with pytest.raises(ValueError, match="unknown case 'uplaod'"):
        options_for(cases=["uplaod"])
    with pytest.raises(ValueError, match="unknown tool 'gsutil'"):
        options_for(tools=["gsutil"])


def test_bench_task_rejects_an_unknown_case_in_one_line(vam_cli):
    result = vam_cli("bench", "--cases", "upload,nope", "--no-install")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "vam: unknown case 'nope'; cases: upload, download, download-foreign, project, resync, "
        "resume, rss, manifest, wan-up, wan-down, wan-project"
    )


# --------------------------------------------------------------------------- smoke


@pytest.mark.slow
def test_quick_benchmark_runs_with_whatever_tools_are_present(tmp_path):
    """The quick preset end to end (16 MiB files to spare the shared machine). Tools that cannot
    be installed (offline CI) must show up as notes, never as a crash. The link cases go over
    jan-home alone, the profile with every cap and the resets: each profile costs every tool
    several 150 ms round trips per run, and this is a smoke test, not a measurement."""
    out = tmp_path / "result.json"
    options = options_for(
        quick=True, size=16 * MiB, small_count=10, out=out, wan_size=MiB, links=("jan-home",)
    )
    assert options.repeat == QUICK.repeat
    result, path = run_bench(options, log=lambda line: None)
    assert path == out
    saved = json.loads(out.read_text())
    assert saved["cases"].keys() == set(all_cases())
    assert saved["tool_order"] == [t for t in ("vam", "aws", "s5cmd", "rclone")]
    for name, tool in saved["tools"].items():
        assert tool["available"] or tool["note"], name
    available = [t for t, tool in saved["tools"].items() if tool["available"]]
    for name, case in saved["cases"].items():
        if case["skipped"]:
            assert isinstance(case["skipped"], str) and case["skipped"], name
            continue
        tools = ["vam"] if name == "manifest" else available
        for tool in tools:
            runs = case["runs"].get(tool, [])
            assert runs or case["notes"], (name, tool)
            for run in runs:
                assert run["ok"] or run.get("note"), (name, tool, run)
    if saved["server"] and saved["server"]["name"] == "s3rver" and available:
        up = saved["cases"]["upload"]
        assert any(r["ok"] for runs in up["runs"].values() for r in runs), up["notes"]
        assert all(v > 0 for v in up["medians"]["seconds"].values() if v is not None)
        # s3rver has no ListParts: the resume case runs on moto, and says so
        resume = saved["cases"]["resume"]
        assert resume["params"]["server"].startswith("moto"), resume["params"]
        assert any("has no ListParts" in note for note in resume["notes"])
    text = table(saved)
    assert "upload 16.00 MiB" in text and "re-sync, nothing changed" in text


# --------------------------------------------------------------------------- file access


def test_access_watch_sees_which_files_a_child_read_and_not_those_it_only_listed(tmp_path):
    from benchmarks.fileaccess import AccessWatch

    ds = data.project(tmp_path / "cache", 4, 4096)
    staging = data.link_tree(ds, tmp_path / "s3-staging")
    touched = staging / ds.files[2][0]  # the one with a space and an accent in its name
    code = (
        "import os, sys\n"
        "for dirpath, _, names in os.walk(sys.argv[1]):\n"
        "    for n in names: os.stat(os.path.join(dirpath, n))\n"
        "open(sys.argv[2], 'rb').read()\n"
    )
    with AccessWatch(staging) as watch:
        m = run_measured(
            Invocation((sys.executable, "-c", code, str(staging), str(touched)), os.environ),
            log_dir=tmp_path / "log",
            timeout=60,
        )
        assert m.ok
        assert watch.read_files() == {ds.files[2][0]}
        watch.reset()
        assert watch.read_files() == set()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--repeat", "x"), "vam: --repeat takes a whole number, not 'x'"),
        (("--size", "10KB"), "vam: --size must be at least 1 MiB"),
        (("--tools", "aws,gsutil"), "vam: unknown tool 'gsutil'; tools: vam, aws, s5cmd, rclone"),
    ],
)
def test_bench_task_bad_options_in_one_line(vam_cli, args, message):
    result = vam_cli("bench", *args, "--no-install")
    assert result.returncode == 2
    assert result.stderr.strip() == message


@pytest.mark.slow
def test_offline_machine_falls_back_to_moto_and_notes_every_missing_tool(tmp_path):
    """No registry reachable (simulated by --no-install on an empty cache): no crash; s3rver, aws
    cli and s5cmd come back as notes, the server falls back to moto, marked not comparable."""
    options = options_for(
        quick=True,
        size=MiB,
        small_count=3,
        cases=["upload", "resume", "manifest"],
        install=False,
        cache=tmp_path / "cache",
        out=tmp_path / "r.json",
    )
    result, _ = run_bench(options, log=lambda line: None)
    assert result["server"]["name"] == "moto"
    assert "not comparable" in result["server"]["note"]
    for name in ("aws", "s5cmd"):
        assert result["tools"][name] == {
            "label": result["tools"][name]["label"],
            "available": False,
            "path": None,
            "version": None,
            "note": "not installed and --no-install given",
        }
    for name, case in result["cases"].items():
        assert case["skipped"] or case["runs"] or case["notes"], name
        for runs in case["runs"].values():
            assert all(run["ok"] or run.get("note") for run in runs), name
    text = table(result)
    assert "note: server: s3rver unavailable" in text
    assert "note: aws cli: not installed and --no-install given" in text


# A stand-in for vam with the s3.up / s3.down contract the harness relies on (settings file,
# brands.toml, s3-staging layout, key layout, AWS env, --json), so the vam path of the harness is
# exercised before the real sync lands. It is deliberately naive: plain boto3 uploads.
FAKE_VAM = """
import json, os, sys, tomllib
from pathlib import Path
import boto3

task, args = sys.argv[1], sys.argv[2:]
brand, project = args[args.index("--brand") + 1], args[args.index("--project") + 1]
assert "--json" in args
settings = tomllib.loads(Path(os.environ["VAM_SETTINGS"]).read_text())
team = tomllib.loads(Path(settings["brands_file"]).read_text())
assert team["storage"]["endpoint_url"] == os.environ["AWS_ENDPOINT_URL"]
bucket = team["storage"]["bucket"]
staging = Path(settings["projects_root"]) / team["brands"][brand]["repo"] / project / "s3-staging"
prefix = f"staging/v-{brand}/{project}/"
s3 = boto3.client("s3")
done = []
if task == "s3.up":
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        rel = path.relative_to(staging).as_posix()
        s3.upload_file(str(path), bucket, prefix + rel)
        done.append(rel)
else:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            target = staging / obj["Key"][len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(target))
            done.append(obj["Key"])
print("log line before the result")
print(json.dumps({"task": task, "files": done, "bytes_read": 0}))
"""


@pytest.mark.slow
def test_the_vam_path_of_the_harness_with_a_stand_in(tmp_path):
    from benchmarks.cases import Bench, run_case
    from benchmarks.harness import moto_choice, setup_tools

    fake = tmp_path / "mods" / "fakevam"
    fake.mkdir(parents=True)
    (fake / "__main__.py").write_text(FAKE_VAM)
    (fake / "__init__.py").write_text("")
    options = options_for(quick=True, tools=["rclone"], install=False, cache=REPO / ".bench")
    server, statuses = setup_tools(options, log=lambda line: None)
    if server.name == "none":
        pytest.skip("no S3 server on this machine")
    runner = VamRunner(Path(sys.executable), tmp_path / "mods", module="fakevam")
    bench = Bench(
        cache=tmp_path / "cache",
        work=tmp_path / "work",
        server=server,
        runners=[runner],
        size=MiB,
        small_count=3,
        repeat=2,
        log=lambda line: None,
        multipart_server=moto_choice(),
    )
    for name in ("upload", "download", "download-foreign", "project"):
        case = run_case(bench, CASES[name]).as_json(["vam"])
        assert case["skipped"] is None, case
        runs = case["runs"]["vam"]
        assert [r["rep"] for r in runs] == [1, 2]
        assert all(r["ok"] for r in runs), case["notes"]
        first = case["metrics"][0]["key"]
        assert case["medians"][first]["vam"] > 0
        assert case["ratios"][first] is None  # no peer in this run
    # the link cases: each link's metrics, per run (1 MiB: no reset on jan-home)
    bench.wan_size, bench.links, bench.repeat = MiB, ("baseline", "jan-home"), 1
    for name in ("wan-up", "wan-down"):
        case = run_case(bench, all_cases()[name]).as_json(["vam"])
        assert case["skipped"] is None, case
        run = case["runs"]["vam"][0]
        assert run["ok"] and not run.get("failed_links"), case["notes"]
        assert run["baseline:seconds"] > 0 and run["jan-home:vs_link"] > 1
        assert run["jan-home:resets"] == 0 and run["jan-home:resent"] < 64 * 1024
        assert any("jan-home: RTT 150 ms" in note for note in case["notes"])
    bench.repeat = 2
    up = run_case(bench, CASES["upload"]).as_json(["vam"])
    assert up["runs"]["vam"][0]["report"] == {
        "task": "s3.up",
        "files": ["render.mp4"],
        "bytes_read": 0,
    }


def test_the_durable_write_probe_measures_and_leaves_nothing(tmp_path, monkeypatch):
    from benchmarks import cases

    synced: list[int] = []
    real_fsync = cases.os.fsync

    def fsync(fd):
        synced.append(os.fstat(fd).st_size)  # what was on its way to the disk
        real_fsync(fd)

    monkeypatch.setattr(cases.os, "fsync", fsync)
    seconds = cases.durable_write_seconds(tmp_path, 3 * MiB + 5, chunk=MiB)
    assert seconds > 0
    assert synced == [3 * MiB + 5]  # the whole file, made durable once, inside the timing
    assert list(tmp_path.iterdir()) == []


def test_the_vam_runner_shares_one_warm_botocore_cache(tmp_path):
    cache = tmp_path / "vam-cache"
    runner = VamRunner(Path(sys.executable), REPO, cache_dir=cache)
    runner.warm_up()
    assert any(cache.rglob("s3__*service-2.marshal"))
    site = Site(tmp_path / "site", "http://127.0.0.1:9")
    assert runner.up(site, "p").env["VAM_CACHE_DIR"] == str(cache)


# --------------------------------------------------------------------------- the console script


@pytest.mark.parametrize("where", ["checkout", "elsewhere"])
def test_vam_bench_through_the_console_script_finds_the_benchmarks(tmp_path, where):
    """`vam bench` (the installed console script, whose sys.path holds no checkout) answered
    "the benchmark lives in the source checkout; run it from there" from inside the checkout.
    An unknown case is refused by the harness itself: the benchmarks were found, nothing ran."""
    import subprocess

    script = Path(sys.executable).with_name("vam")  # what `pip install -e .` put beside python
    assert script.is_file(), f"no console script at {script}; run the tests through dev.py"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(script), "bench", "--cases", "nosuch", "--no-install"],
        cwd=REPO if where == "checkout" else tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"vam: unknown case 'nosuch'; cases: {', '.join(all_cases())}\n"
    assert not (tmp_path / "bench-results").exists()
