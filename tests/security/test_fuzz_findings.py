"""What the API fuzz found, one request each, so that a fix stays fixed whatever the fuzz
happens to generate next (see test_api_fuzz.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from ioc_core.auth.tables import Department, RolePermission
from ioc_core.incidents.tables import Incident
from ioc_core.plugins import lifecycle
from ioc_core.runtime import build_runtime
from ioc_core.settings import Settings
from ioc_core.web.app import create_app
from ioc_core.web.ids import MAX_ID
from tests.helpers import in_app, run, sign_in
from tests.security.fuzz_app import ADMIN, CSRF_HEADER, Seeded, seed


@dataclass
class Staff:
    client: TestClient[Litestar]
    seeded: Seeded
    csrf: str

    def post(self, path: str, data: dict[str, str] | None = None) -> int:
        headers = {CSRF_HEADER: self.csrf}
        answer = self.client.post(path, data=data or {}, headers=headers, follow_redirects=False)
        return answer.status_code


@pytest.fixture
def staff(settings: Settings) -> Iterator[Staff]:
    """The fuzz's platform with its administrator signed in."""
    runtime = build_runtime(settings, park_delay_ms=200)
    run(lifecycle.migrate_enabled(runtime.registry))
    seeded = run(seed(runtime))
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            yield Staff(client, seeded, sign_in(client, ADMIN))
    finally:
        runtime.broker.close()


def test_options_answers_the_methods_to_a_signed_in_user_and_an_api_key(staff: Staff) -> None:
    # Litestar's own OPTIONS answer names no permission: the guard read one and failed (500).
    answer = staff.client.options("/incidents")
    assert answer.status_code == 204 and "GET" in answer.headers["allow"]
    staff.client.cookies.clear()
    keyed = staff.client.options(
        "/sla/settings", headers={"Authorization": f"Bearer {staff.seeded.key}"}
    )
    assert keyed.status_code == 204


@pytest.mark.parametrize("number", [MAX_ID + 1, 2**63, 10**30])
def test_an_id_beyond_any_row_is_not_found(staff: Staff, number: int) -> None:
    # SQLite cannot bind an integer past 64 bits, PostgreSQL refuses one past 32: both were 500s.
    for path in (f"/incidents/{number}", f"/sla/settings/targets/{number}"):
        assert staff.client.get(path).status_code == 404, path
    assert staff.post(f"/admin/apikeys/{number}/revoke") == 404


def test_form_and_query_ids_that_name_no_row_are_refused_or_ignored(staff: Staff) -> None:
    incident = staff.seeded.incident_ids[3]
    departments = in_app(staff.client, Department.count)
    for parent in ("²", "ÞQ", str(MAX_ID + 1), "999999"):
        form = {"code": "moi", "name_vi": "Đơn vị mới", "level": "department", "parent": parent}
        assert staff.post("/admin/departments/new", form) == 422, parent
    assert in_app(staff.client, Department.count) == departments, "nothing stored"

    owner = Incident.select(Incident.department).where(Incident.id == incident).first()
    before = in_app(staff.client, owner.run)
    for junk in ("²", str(10**20)):
        assert staff.post(f"/incidents/{incident}/assign", {"department": junk}) == 422
        form = {"department": junk, "incident": str(incident)}
        assert staff.post("/incidents/bulk-assign", form) == 422
    assert in_app(staff.client, owner.run) == before, "a refused assignment changes nothing"

    grants = in_app(staff.client, RolePermission.count)
    assert staff.post("/admin/roles", {"grant": "²:incidents.view"}) == 303
    assert in_app(staff.client, RolePermission.count) <= grants
    box = "108.0,10.8,108.2,11.0"
    answer = staff.client.get(
        "/api/incidents.geojson", params={"bbox": box, "zoom": 16, "category": str(10**30)}
    )
    assert answer.status_code == 200 and answer.json()["features"] == []


def test_a_tracking_token_with_any_characters_is_just_a_wrong_token(staff: Staff) -> None:
    # compare_digest refuses a str with non-ASCII characters: the private link's check was a 500.
    code, _ = staff.seeded.reports[2]
    staff.client.cookies.clear()
    assert staff.client.get(f"/track/{code}", params={"token": "đèn"}).status_code == 200
    page = staff.client.get(f"/track/{code}")
    csrf = page.cookies.get("ioc_csrf") or staff.client.cookies.get("ioc_csrf")
    answer = staff.client.post(
        f"/track/{code}/rate",
        data={"token": "mã-sai-đèn", "rating": "5"},
        headers={CSRF_HEADER: csrf or ""},
        follow_redirects=False,
    )
    assert answer.status_code == 404
