"""Run one tool as a child process and measure it: wall time, peak RSS, bytes it read.

Linux /proc is the source of truth, read the same way for every tool:
- peak RSS: VmHWM (the kernel's high-water mark of resident memory) sampled from /proc/<pid>/status
  while the child runs, so it also covers a run we kill;
- bytes read: /proc/<pid>/io read right after the child exits but before it is reaped (a zombie
  keeps its counters), `rchar` = bytes through read syscalls (page cache included: "did it read the
  file at all") and `read_bytes` = bytes fetched from the storage layer (cold reads only).
The child runs in its own session so a kill (SIGKILL, like a crash or a pulled plug) reaches every
process it started and nothing else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_INTERVAL = 0.05


@dataclass(frozen=True)
class Invocation:
    """One command line to run: argv, environment, working folder."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@dataclass(frozen=True)
class Measured:
    returncode: int | None
    seconds: float
    peak_rss: int | None  # bytes
    read_chars: int | None  # rchar: bytes passed through read syscalls
    read_bytes: int | None  # bytes fetched from storage
    killed: bool
    timed_out: bool
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.killed and not self.timed_out

    def error_line(self) -> str:
        """The last meaningful line the tool printed, for a failure note."""
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        for text in (self.stderr, self.stdout):
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            if lines:
                return f"exit {self.returncode}: {lines[-1][:300]}"
        return f"exit {self.returncode}"


def read_proc_io(pid: int) -> dict[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if value.strip().isdigit():
            values[key.strip()] = int(value)
    return values


def read_vm_hwm(pid: int) -> int | None:
    """Peak resident set size so far, in bytes (None once the process has no memory map)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def run_measured(
    inv: Invocation,
    *,
    log_dir: Path,
    timeout: float,
    kill_when: Callable[[], bool] | None = None,
    interval: float = SAMPLE_INTERVAL,
) -> Measured:
    """Run `inv` to completion (or until `kill_when()` turns true, or `timeout`) and measure it."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    # the previous run's writes reach the disk first, outside the clock: a tool that does not
    # fsync leaves a gigabyte of dirty pages, which the next tool's run would otherwise pay for
    # (vam's fsync before the rename waits behind them)
    os.sync()
    exited = threading.Event()
    exit_time: list[float] = []
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(inv.argv),
            env=dict(inv.env),
            cwd=inv.cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        pid = proc.pid

        def wait_exit() -> None:
            # WNOWAIT: learn the exact exit time but leave the zombie, so its counters stay readable
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            exit_time.append(time.perf_counter())
            exited.set()

        threading.Thread(target=wait_exit, name=f"wait-{pid}", daemon=True).start()
        hwm = 0
        killed = timed_out = False
        while not exited.wait(interval):
            hwm = max(hwm, read_vm_hwm(pid) or 0)
            if not killed and kill_when is not None and kill_when():
                _kill_group(pid)
                killed = True
            if not killed and time.perf_counter() - start > timeout:
                _kill_group(pid)
                killed = timed_out = True
        seconds = exit_time[0] - start
        io = read_proc_io(pid)
        # anything the tool left running in the background; while the zombie holds its pid, the
        # group id cannot belong to anyone else
        _kill_group(pid)
        _, status, usage = os.wait4(pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss of a forked child starts from the parent's RSS at fork time (a Linux quirk), so it
    # overstates small tools; the VmHWM samples, taken after exec, are the honest figure. The
    # rusage value is only a fallback for a child that exited before the first sample.
    peak = hwm or usage.ru_maxrss * 1024 or None
    return Measured(
        returncode=proc.returncode,
        seconds=seconds,
        peak_rss=peak,
        read_chars=io.get("rchar") if io else None,
        read_bytes=io.get("read_bytes") if io else usage.ru_inblock * 512,
        killed=killed and not timed_out,
        timed_out=timed_out,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
