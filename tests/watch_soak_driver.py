"""Run by tests/test_watch_soak.py in a process of its own (so moto's memory, which lives in the
test's process, is not counted): David's watch of b65 for a bounded number of cycles against the
test's moto server, while a note is saved again and again; prints the watch process's resident
memory after a warm-up and at the end, as JSON. Bounded in cycles and in time."""

from __future__ import annotations

import gc
import json
import sys
import threading
import time

from vam.s3sync.session import Session
from vam.watch.project import Options
from vam.watch.start import Setup, watching


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise SystemExit("no VmRSS in /proc/self/status")


def main(warm: int, total: int, limit_seconds: float) -> None:
    session = Session("ad")
    target = session.target(session.project("b65", remote=False))
    counts: dict[str, int] = {}

    problems: set[str] = set()  # bounded: a few distinct texts

    def emit(event) -> None:
        counts[event.kind] = counts.get(event.kind, 0) + 1
        if event.kind in ("problem", "offline") and len(problems) < 5:
            problems.add(event.text)

    setup = Setup(
        options=Options(user=session.user, rules=session.rules, settle=0.05),
        make_client=lambda: session.aws.client("s3"),
        emit=emit,
        interval=0.01,
        rescan=0.02,
    )
    note = target.staging / "soak-note.md"
    stop = threading.Event()

    def david_saves() -> None:  # a new version of the note every 0.2 s
        n = 0
        while not stop.wait(0.2):
            n += 1
            note.write_text(f"note {n}\n" * (1 + n % 7))

    measured: dict[str, int] = {}
    started = time.monotonic()
    with watching([target], setup) as watch:

        def referee() -> None:
            while not stop.is_set():
                if watch.cycles >= warm and "warm" not in measured:
                    gc.collect()
                    measured["warm"] = rss_bytes()
                    measured["warm_cycles"] = watch.cycles
                if watch.cycles >= total or time.monotonic() - started > limit_seconds:
                    watch.halt()
                    return
                time.sleep(0.01)

        threading.Thread(target=david_saves, daemon=True).start()
        threading.Thread(target=referee, daemon=True).start()
        watch.run()
        stop.set()
        gc.collect()
        measured["end"] = rss_bytes()
        measured["cycles"] = watch.cycles
    measured["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps({**measured, "events": counts, "problems": sorted(problems)}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
