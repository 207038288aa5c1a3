"""No personal data in the logs of the intake, its notices and their sending."""

from __future__ import annotations

import logging

import pytest
from litestar.testing import TestClient

from ioc_core.auth.apikeys import create_api_key
from ioc_core.incidents import service as incidents
from ioc_core.incidents.tables import Incident
from ioc_core.notifications.tables import OutboundMessage
from ioc_core.runtime import Runtime
from ioc_core.settings import Settings
from ioc_core.web.app import create_app
from tests.helpers import in_app, run, wait_until, worker
from tests.plugins.field_reports.conftest import PHAN_THIET, Services
from tests.smtp import Mailbox


@pytest.fixture
def settings(environ: dict[str, str], mailbox: tuple[Mailbox, int]) -> Settings:
    """Mail goes to the local server, which refuses the first message (a 451, as servers do)."""
    box, port = mailbox
    box.refuse = 1
    return Settings.load(environ | {"IOC_SMTP_URL": f"smtp://127.0.0.1:{port}"})


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
        # Litestar's logging set-up at start replaces the root logger's handlers: listen again.
        logging.getLogger().addHandler(caplog.handler)
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
        assert response.status_code == 201, response.text
        code = response.json()[0]["service_request_id"]
        incident = in_app(client, Incident.select(Incident.id).where(Incident.code == code).first)
        in_app(client, incidents.change_status, incident["id"], "rejected", "staff", "Trùng")
    # The reporter is told of the change by e-mail, and its first sending fails. (With the
    # client closed: PostgreSQL's pool lived on its loop, and the workers run on their own.)
    with worker(reports_runtime):
        assert wait_until(lambda: run(OutboundMessage.count()) > 0)
        assert wait_until(
            lambda: run(OutboundMessage.count().where(OutboundMessage.last_error != "")) > 0
        )
    # The platform's records: not the test's own mail server (aiosmtpd logs as "mail.log").
    records = [r for r in caplog.records if not r.name.startswith("mail.")]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in records)
    assert any(r.name.startswith("ioc_core") for r in records), "the test would prove nothing"
    for value in personal.values():
        assert value not in logged, f"{value!r} is in the log"
