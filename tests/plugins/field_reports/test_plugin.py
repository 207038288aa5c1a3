"""field_reports as a plugin: its public pages appear for visitors once enabled, and disabling
it hides them but keeps every report."""

from __future__ import annotations

from field_reports import intake
from field_reports.intake import Limits, Submission
from field_reports.tables import Report
from litestar.testing import TestClient

from ioc_core.plugins import lifecycle
from ioc_core.runtime import Runtime
from ioc_core.web.app import create_app
from tests.helpers import run
from tests.plugins.field_reports.conftest import PHAN_THIET, Services

LIMITS = Limits(bounds=(107.95, 10.8, 108.35, 11.15), per_client=10, window_s=600)


def test_public_pages_follow_the_plugin_state_and_data_stays(
    reports_runtime: Runtime, services: Services
) -> None:
    run(intake.submit(Submission("rac-thai", lat=PHAN_THIET[1], lon=PHAN_THIET[0]), LIMITS))
    with TestClient(create_app(runtime=reports_runtime)) as client:
        login = client.get("/login").text
        assert 'href="/report"' in login and "Gửi phản ánh" in login
    run(lifecycle.disable(reports_runtime.registry, "field_reports", "test"))
    with TestClient(create_app(runtime=reports_runtime)) as client:
        assert 'href="/report"' not in client.get("/login").text
        assert client.get("/open311/v2/services.json").status_code == 404
    assert run(Report.count()) == 1
