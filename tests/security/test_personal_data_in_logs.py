"""No personal data in the web server's access log (the intake's own logs: the field_reports
tests, `test_logs.py`)."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.processes import IOC, answering, free_port, ioc, stop

TOKEN = "bi-mat-theo-doi-4242"


def test_the_access_log_has_no_client_address_and_no_query(
    subprocess_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert ioc("init", env=subprocess_env).returncode == 0
    port = free_port()
    log_file = tmp_path_factory.mktemp("log") / "serve.log"
    with log_file.open("w") as output:
        process = subprocess.Popen(
            [IOC, "serve", "--port", str(port)],
            env=subprocess_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            answering(base, process)
            httpx.get(f"{base}/track/PT-2026-000001?token={TOKEN}&email=an@example.vn")
        finally:
            stop(process)
    logged = log_file.read_text()
    lines = [line for line in logged.splitlines() if "/track/PT-2026-000001" in line]
    assert lines, f"the request was not logged at all: {logged}"
    assert TOKEN not in logged and "an@example.vn" not in logged
    assert "127.0.0.1:" not in lines[0], lines[0]
