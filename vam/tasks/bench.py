"""Benchmark vam's transfers against aws cli, s5cmd and rclone on a local S3 server."""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import Exit

from vam.core.config import CHECKOUT
from vam.core.units import parse_size
from vam.tasks.base import say, vam_task


@vam_task(
    help={
        "cases": "comma list of: upload,download,download-foreign,project,resync,resume,rss,"
        "manifest,wan-up,wan-down,wan-project (default: all)",
        "tools": "comma list of tools: vam,aws,s5cmd,rclone (default: all)",
        "repeat": "repetitions per case, tools interleaved within each (default 3; 1 with --quick)",
        "size": "size of the big file, e.g. 1GiB or 64MiB (default 1GiB; 64MiB with --quick)",
        "small": "number of small files in the project cases (default 200; 20 with --quick)",
        "out": "JSON result path (default bench-results/bench-<timestamp>.json)",
        "quick": "quick preset: 64 MiB files, 1 repetition, 20 small files (a couple of minutes)",
        "no_install": "use only tools already present; do not run npm, pip or apt-get",
        "links": "comma list of link profiles for wan-up/wan-down: baseline,long-haul,jan-home "
        "(default: all)",
        "wan_size": "size of the file of the link cases (default 256MiB; 32MiB with --quick)",
        "wan_repeat": "runs per tool and link in the link cases (default 1: each takes minutes)",
    }
)
def bench(
    c,
    cases=None,
    tools=None,
    repeat=None,
    size=None,
    small=None,
    out=None,
    quick=False,
    no_install=False,
    links=None,
    wan_size=None,
    wan_repeat=None,
):
    """Benchmark vam against aws cli, s5cmd and rclone on a local S3 server."""
    harness = _harness()
    try:
        options = harness.options_for(
            quick=quick,
            cases=_split(cases),
            tools=_split(tools),
            repeat=_count(repeat, "--repeat"),
            size=parse_size(size, where="--size") if size is not None else None,
            small_count=_count(small, "--small"),
            out=Path(out) if out else None,
            install=not no_install,
            links=_split(links),
            wan_size=parse_size(wan_size, where="--wan-size") if wan_size is not None else None,
            wan_repeat=_count(wan_repeat, "--wan-repeat"),
        )
    except ValueError as exc:
        raise Exit(f"vam: {exc}", code=2) from None
    result, path = harness.run_bench(options, log=say)
    say()
    say(harness.table(result))
    say()
    say(f"wrote {path}")


def _harness():
    """benchmarks/harness.py of the checkout this vam runs from. The console script's sys.path
    holds only the installed packages (an editable install maps `vam` alone), so the checkout is
    put first, ahead of any other `benchmarks` package."""
    if not (CHECKOUT / "benchmarks" / "harness.py").is_file():
        raise Exit(
            f"vam: the benchmark lives in vam's source checkout (benchmarks/), and this vam is "
            f"installed from {CHECKOUT}; install vam from a checkout (python3 dev.py bench)",
            code=2,
        )
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    from benchmarks import harness

    return harness


def _split(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [part.strip() for part in str(text).split(",") if part.strip()]


def _count(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{flag} takes a whole number, not {text!r}") from None
