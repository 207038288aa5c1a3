"""No personal data in logs: the access log, the intake, its notices and their sending."""

from __future__ import annotations

import logging
import subprocess

import httpx
import pytest
from litestar.testing import TestClient

from ioc_core.auth.apikeys import create_api_key
from ioc_core.notifications.tables import OutboundMessage
from ioc_core.runtime import Runtime
from ioc_core.web.app import create_app
from tests.helpers import run, wait_until, worker
from tests.plugins.field_reports.conftest import PHAN_THIET, Services
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


def test_intake_and_its_notices_log_nothing_personal(
    reports_runtime: Runtime, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    known = set(reports_runtime.registry.permissions)
    _, key = run(create_api_key("mobile app", ["field_reports.submit"], "test", known))
    personal = {
        "email": "nguyen.thi.hoa@example.vn",
        "phone": "0912 345 678",
        "first_name": "Hoa",
        "last_name": "Nguyễn Thị",
    }
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(runtime=reports_runtime)) as client:
        response = client.post(
            "/open311/v2/requests.json",
            data={
                "api_key": key,
                "service_code": "chieu-sang",
                "lat": str(PHAN_THIET[1]),
                "long": str(PHAN_THIET[0]),
                "description": "Đèn đường không sáng trước nhà số 12",
                "attribute[kieu-den]": "den-duong",
                **personal,
            },
        )
        assert response.status_code in (200, 201), response.text
        # The reporter's notice is written, and its sending fails: no mail server is configured.
        with worker(reports_runtime):
            assert wait_until(lambda: run(OutboundMessage.count()) > 0)
            assert wait_until(
                lambda: run(OutboundMessage.count().where(OutboundMessage.last_error != "")) > 0
            )
    logged = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    assert caplog.records, "nothing was logged: the test would prove nothing"
    for value in personal.values():
        assert value not in logged, f"{value!r} is in the log"
