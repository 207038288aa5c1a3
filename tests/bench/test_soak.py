"""The soak script in its short mode, as CI runs it: a real server, real workers killed and
replaced, on PostgreSQL + Redis; and the parts of it that need no service."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench.soak import USAGE, parse
from bench.soak_checks import compare
from tests.helpers import require_postgresql, require_redis

ROOT = Path(__file__).resolve().parents[2]
DATABASE = os.environ.get("IOC_TEST_DATABASE_URL", "")
BROKER = os.environ.get("IOC_TEST_BROKER_URL", "")
# Setup (about 10 s), 20 s of load, the drain (a killed worker's messages come back after the
# 5 s heartbeat) and the checks: well under this on the project's 2-core machine.
SOAK_TIMEOUT_S = 170


def _number(pattern: str, text: str) -> int:
    found = re.search(pattern, text, re.M)
    assert found is not None, f"{pattern!r} not in the summary:\n{text}"
    return int(found.group(1))


@pytest.mark.postgresql
def test_a_short_soak_loses_and_doubles_nothing_while_workers_restart() -> None:
    require_postgresql(DATABASE)
    if BROKER:
        require_redis(BROKER)
    command = [
        sys.executable,
        "-m",
        "bench.soak",
        "--seconds",
        "20",
        "--restart-every",
        "5",
        "--database-url",
        DATABASE,
        "--broker-url",
        BROKER or "embedded",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=SOAK_TIMEOUT_S)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "result: PASS" in output, output
    assert _number(r"^intake requests\s+\d+ \((\d+) filed", output) > 0
    assert _number(r"^staff actions\s+\d+ \((\d+) done", output) > 0
    assert _number(r"^worker restarts\s+(\d+)", output) >= 1


@pytest.mark.parametrize(
    "args",
    [
        ["--seconds", "0"],
        ["--minutes", "1", "--seconds", "5"],
        ["--clients", "0"],
        ["--restart-every", "-1"],
        ["--database-url", "mysql://x/y"],
        ["--broker-url", "amqp://x/"],
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse(args)
    assert stopped.value.code == USAGE
    assert "error:" in capsys.readouterr().err


def test_a_count_check_fails_on_anything_missing_or_doubled() -> None:
    expected = Counter({"PT-2026-000001": 1, "PT-2026-000002": 1})
    assert compare("same", expected, Counter(expected), "filed").passed
    lost = compare("lost", expected, Counter({"PT-2026-000001": 1}), "filed")
    assert not lost.passed and "1 missing, 0 extra" in lost.detail
    doubled = compare("doubled", expected, expected + Counter({"PT-2026-000002": 1}), "filed")
    assert not doubled.passed and "0 missing, 1 extra" in doubled.detail
