"""Leadership KPIs on the backend under test: figures checked against incidents whose times
are set by hand, the reader's scope, and the page."""

from __future__ import annotations

import datetime as dt

import pytest
from litestar.testing import TestClient

from ioc_core.auth.tables import Department
from ioc_core.auth.users import create_user
from ioc_core.geo.areas import import_areas
from ioc_core.incidents import service
from ioc_core.incidents.kpis import leadership_kpis
from ioc_core.incidents.service import NewIncident
from ioc_core.incidents.tables import Area, Category, Incident
from ioc_core.runtime import Runtime
from ioc_core.web.app import create_app
from tests.helpers import STAFF_PASSWORD, run, sign_in
from tests.incidents.test_pages import NORTH, SOUTH, WARDS

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SINCE = NOW - dt.timedelta(days=30)
H = dt.timedelta(hours=1)


def file(at: tuple[float, float], category: str, department: int, **fields: object) -> int:
    """An incident in a ward, then its status and times set as the case needs."""
    data = NewIncident("test", "Sự vụ", category=category, lon=at[0], lat=at[1])
    incident = run(service.create_incident(data, "test"))
    updates = {getattr(Incident, name): value for name, value in fields.items()}
    updates[Incident.department] = department
    run(Incident.update(updates).where(Incident.id == incident.id))
    return incident.id


def resolved(hours: float, due_in_hours: float | None = None, days_ago: int = 2) -> dict:
    created = NOW - dt.timedelta(days=days_ago)
    return {
        "status": "resolved",
        "created_at": created,
        "closed_at": created + hours * H,
        "sla_due_at": None if due_in_hours is None else created + due_in_hours * H,
    }


@pytest.fixture
def city(runtime: Runtime) -> dict[str, int]:
    run(import_areas(WARDS))
    run(Category.insert(Category(code="den", name_vi="Chiếu sáng", name_en="Street lights")))
    run(Category.insert(Category(code="rac", name_vi="Rác thải", name_en="Waste")))
    north = Department(code="p-bac", name_vi="Phường Bắc", level="ward")
    south = Department(code="p-nam", name_vi="Phường Nam", level="ward")
    run(north.save())
    run(south.save())
    # North, street lights: resolved in 2, 4 and 10 hours (two by their due time), one open
    # and overdue, one waiting on the citizen past its due time (the clock stops), one not due.
    file(NORTH, "den", north.id, **resolved(2, due_in_hours=3))
    file(NORTH, "den", north.id, **resolved(4, due_in_hours=8))
    file(NORTH, "den", north.id, **resolved(10, due_in_hours=8))
    file(NORTH, "den", north.id, status="assigned", sla_due_at=NOW - H)
    file(NORTH, "den", north.id, status="waiting", sla_due_at=NOW - H)
    file(NORTH, "den", north.id, status="in_progress", sla_due_at=NOW + H)
    # South, waste: resolved in 1 and 3 hours with no due time, then what does not count:
    # a rejected report, and one resolved before the period.
    file(SOUTH, "rac", south.id, **resolved(1))
    file(SOUTH, "rac", south.id, **{**resolved(3), "status": "closed"})
    file(SOUTH, "rac", south.id, **{**resolved(1), "status": "rejected"})
    file(SOUTH, "rac", south.id, **resolved(1, days_ago=40))
    wards = {r["code"]: r["id"] for r in run(Area.select(Area.id, Area.code))}
    categories = {r["code"]: r["id"] for r in run(Category.select(Category.id, Category.code))}
    return {
        "north": wards["TEST-W01"],
        "south": wards["TEST-W02"],
        "den": categories["den"],
        "rac": categories["rac"],
        "north_department": north.id,
    }


def test_figures_city_wide_by_ward_and_by_category(city: dict[str, int]) -> None:
    kpis = run(leadership_kpis(SINCE, NOW))
    total = kpis.total
    assert (total.open, total.overdue, total.resolved) == (3, 1, 5)
    assert total.median_hours == pytest.approx(3.0), "median of 1, 2, 3, 4, 10 hours"
    assert total.on_time_percent == pytest.approx(200 / 3), "2 of the 3 with a due time"

    north, south = kpis.by_ward[city["north"]], kpis.by_ward[city["south"]]
    assert (north.open, north.overdue, north.resolved) == (3, 1, 3)
    assert north.median_hours == pytest.approx(4.0)
    assert (south.open, south.overdue, south.resolved) == (0, 0, 2)
    assert south.median_hours == pytest.approx(2.0), "an even count: the mean of the middle two"
    assert south.on_time_percent is None, "none had a due time"
    assert kpis.by_category[city["den"]] == north
    assert kpis.by_category[city["rac"]] == south


def test_a_reader_counts_only_the_incidents_they_may_see(city: dict[str, int]) -> None:
    kpis = run(leadership_kpis(SINCE, NOW, [city["north_department"]]))
    assert (kpis.total.open, kpis.total.resolved) == (3, 3)
    assert set(kpis.by_ward) == {city["north"]}
    nobody = run(leadership_kpis(SINCE, NOW, []))
    assert (nobody.total.open, nobody.total.resolved) == (0, 0)


def test_the_page_for_leaders_only(runtime: Runtime, city: dict[str, int]) -> None:
    run(
        create_user(
            "lanhdao", STAFF_PASSWORD, roles=["leader"], departments=["p-bac"], actor="test"
        )
    )
    run(create_user("nguoixem", STAFF_PASSWORD, roles=["viewer"], actor="test"))
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "lanhdao")
        shown = client.get("/kpis?days=30")
        assert shown.status_code == 200
        assert "Chỉ số" in shown.text and "Chiếu sáng" in shown.text
        assert "Rác thải" not in shown.text, "the other ward's department is not the leader's"
        assert 'href="/kpis"' in shown.text, "in the leader's menu"
        refused = client.get("/kpis?days=5", headers={"accept": "application/json"})
        assert refused.status_code == 400
        assert "7, 30, 90, 365" in refused.json()["detail"]
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "nguoixem")
        assert client.get("/kpis", headers={"accept": "application/json"}).status_code == 403
