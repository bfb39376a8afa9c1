"""Memory stays flat over hours (issue 17): many cycles of a watch against moto's server while
David keeps saving a note (each save: a settle wait, an upload, the index changed, a download
cycle), in a process of its own; its resident memory after a warm-up and at the end must not
differ by more than a few MB. Bounded: a fixed number of cycles and at most two minutes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,  # about 35 s
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)"),
]

HERE = Path(__file__).resolve().parent
GROWTH_LIMIT = 3 * 1024 * 1024


def test_memory_stays_flat_over_many_cycles(david, s3c):
    david.up()
    run = subprocess.run(
        [sys.executable, str(HERE / "watch_soak_driver.py"), "300", "3000", "120"],
        env={**david.env(), "PYTHONPATH": str(HERE.parent)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.strip().splitlines()[-1])
    print(found)
    assert found["cycles"] >= 1000, found  # enough cycles ran to show a leak
    assert found["events"].get("uploaded", 0) >= 10, found  # real work, not only idle polls
    assert found["events"].get("offline", 0) == 0, found
    assert found["end"] - found["warm"] < GROWTH_LIMIT, found
