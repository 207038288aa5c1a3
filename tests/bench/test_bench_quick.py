"""`python -m bench --quick` runs end to end on the backend under test and prints a well-formed
results table (the harness kept working; the numbers themselves are not judged here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import HEADER
from tests.helpers import require_postgresql

TEST_DATABASE_URL = os.environ.get("IOC_TEST_DATABASE_URL", "")
# The quick mode is meant to stay near a minute per backend; this bounds a hung run.
TIMEOUT_S = 300
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.backend
def test_quick_run_prints_a_results_table(tmp_path: Path) -> None:
    backend = "postgres" if TEST_DATABASE_URL else "sqlite"
    command = [sys.executable, "-m", "bench", "--quick", "--backend", backend]
    command += ["--output", str(tmp_path), "--no-progress"]
    if TEST_DATABASE_URL:
        require_postgresql(TEST_DATABASE_URL)
        command += ["--database-url", TEST_DATABASE_URL]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]

    lines = done.stdout.splitlines()
    assert lines[0].split() == " ".join(HEADER).split()
    body = [line for line in lines[2:] if line.strip()]
    assert body, done.stdout
    for line in body:
        assert f"  {backend}  " in line, line
        assert line.rstrip().endswith(("PASS", "FAIL", "-")), line

    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert results["mode"] == "quick" and results["incidents"] == 20_000
    assert results["errors"] == []
    names = {m["name"] for m in results["measures"]}
    assert "load: rows written" in names
    for measure in results["measures"]:
        assert measure["backend"] == backend
        assert measure["value"] > 0
        assert measure["result"] in ("PASS", "FAIL", "-")
    load = next(m for m in results["measures"] if m["name"] == "load: rows written")
    assert load["baseline"] > 0 and load["ratio"] == pytest.approx(load["value"] / load["baseline"])
    markdown = (tmp_path / "results.md").read_text(encoding="utf-8")
    assert "| " + " | ".join(HEADER) + " |" in markdown
    assert markdown.count(f"| {backend} |") == len(results["measures"])
