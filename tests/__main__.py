"""Run the whole suite on each backend: `python -m tests [pytest args...]`.

1. SQLite + the embedded broker: every test.
2. PostgreSQL/PostGIS + Redis: the tests marked `backend` (they use the database or broker).
The two passes run at the same time (they share no database, broker or port), each line of
their output prefixed with its pass. Each pass prints its counts; the last line adds them up.
Exit status is non-zero when a pass fails or runs no test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

PASSES = (
    ("sqlite", {}, []),
    (
        "postgresql",
        {
            "IOC_TEST_DATABASE_URL": os.environ.get(
                "IOC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
            ),
            "IOC_TEST_BROKER_URL": os.environ.get(
                "IOC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"
            ),
        },
        ["-m", "backend"],
    ),
)


def counts(junit: Path) -> dict[str, int]:
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    total, failed, errors, skipped = (
        int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")
    )
    return {
        "passed": total - failed - errors - skipped,
        "failed": failed + errors,
        "skipped": skipped,
    }


def echo(name: str, process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


def main(extra: list[str]) -> int:
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        running = []
        for name, env, args in PASSES:
            junit = Path(tmp) / f"{name}.xml"
            process = subprocess.Popen(
                [sys.executable, "-m", "pytest", *args, f"--junitxml={junit}", *extra],
                env={**os.environ, **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
            printer = threading.Thread(target=echo, args=(name, process), daemon=True)
            printer.start()
            running.append((name, junit, process, printer))
        for name, junit, process, printer in running:
            code = process.wait()
            printer.join()
            if not junit.exists():
                print(f"{name}: pytest stopped before running tests (exit {code})")
                status = status or code or 1
                continue
            found = counts(junit)
            print(
                f"{name}: {found['passed']} passed, {found['failed']} failed, "
                f"{found['skipped']} skipped",
                flush=True,
            )
            for key in totals:
                totals[key] += found[key]
            # pytest's 5 means no test ran: a pass that tests nothing is a failure here.
            status = status or code
    passed, failed, skipped = totals["passed"], totals["failed"], totals["skipped"]
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
