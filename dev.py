#!/usr/bin/env python3
"""Bootstrap for a fresh clone: needs only python3 (>= 3.11).

    python3 dev.py demo            the whole story on an embedded local S3 server
    python3 dev.py test [ARGS]     the test suite (pytest ARGS)
    python3 dev.py bench [ARGS]    the benchmarks
    python3 dev.py vam ARGS        any vam task, e.g. python3 dev.py vam --list

Creates .venv/ beside this file and installs vam (editable) with its dev extras the first time,
and again whenever pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".vam-installed"


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"vam needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((HERE / "pyproject.toml").read_bytes()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("installing vam and its dev tools (first run only) ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-U", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{HERE}[dev]"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    ensure_venv()
    command, rest = argv[0], argv[1:]
    if command == "test":
        args = [str(PYTHON), "-m", "pytest", *rest]
    elif command == "demo":
        args = [str(PYTHON), "-m", "vam", "demo", *rest]
    elif command == "bench":
        args = [str(PYTHON), "-m", "invoke", "bench", *rest]
    elif command == "vam":
        args = [str(PYTHON), "-m", "vam", *rest]
    else:
        print(f"dev.py: unknown command {command!r}; use demo, test, bench or vam", file=sys.stderr)
        return 2
    return subprocess.call(args, cwd=HERE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
