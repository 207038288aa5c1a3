"""Leadership KPIs on the backend under test: figures checked against incidents whose times
are set by hand, the reader's scope, the snapshots the page reads (served, refreshed by a real
worker, kept per scope, stored as exact JSON), and the page."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import pytest
from litestar.testing import TestClient

from ioc_core.auth.tables import Department
from ioc_core.auth.users import create_user
from ioc_core.geo.areas import import_areas
from ioc_core.i18n import TIMEZONE
from ioc_core.incidents import kpi_snapshots, service
from ioc_core.incidents.kpi_snapshots import kpis_for, scope_key
from ioc_core.incidents.kpis import KpiLine, Kpis, leadership_kpis
from ioc_core.incidents.service import NewIncident
from ioc_core.incidents.tables import Area, Category, Incident, KpiSnapshot
from ioc_core.runtime import Runtime
from ioc_core.web.app import create_app
from tests.helpers import STAFF_PASSWORD, run, sign_in, wait_until, worker
from tests.incidents.test_pages import NORTH, SOUTH, WARDS

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SINCE = NOW - dt.timedelta(days=30)
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


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
    run(kpis_for(30, None))  # the city-wide snapshot, which the leader must not be served
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "lanhdao")
        shown = client.get("/kpis?days=30")
        assert shown.status_code == 200
        assert "Chỉ số" in shown.text and "Chiếu sáng" in shown.text
        assert "Rác thải" not in shown.text, "the other ward's department is not the leader's"
        as_of = re.search(r'data-testid="kpi-as-of">[^<]*?(\d\d:\d\d)', shown.text)
        assert as_of is not None, "the page says when its figures were computed"
        computed = dt.datetime.strptime(as_of.group(1), "%H:%M").time()
        now = dt.datetime.now(TIMEZONE)
        assert abs(now - now.replace(hour=computed.hour, minute=computed.minute)) < 2 * M
        assert client.get("/kpis?days=30").text.count("Chiếu sáng") == shown.text.count(
            "Chiếu sáng"
        ), "served again from the snapshot"
        assert 'href="/kpis"' in shown.text, "in the leader's menu"
        refused = client.get("/kpis?days=5", headers={"accept": "application/json"})
        assert refused.status_code == 400
        assert "7, 30, 90, 365" in refused.json()["detail"]
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "nguoixem")
        assert client.get("/kpis", headers={"accept": "application/json"}).status_code == 403


def snapshot(days: int = 30, departments: list[int] | None = None) -> dict[str, Any]:
    row = run(
        KpiSnapshot.select()
        .where((KpiSnapshot.scope == scope_key(departments)) & (KpiSnapshot.days == days))
        .first()
    )
    assert row is not None, "no snapshot stored"
    return row


def age(seconds: float, days: int = 30) -> None:
    """Make the snapshot of the city-wide scope and `days` look computed `seconds` ago."""
    run(
        KpiSnapshot.update(
            {KpiSnapshot.computed_at: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)}
        ).where((KpiSnapshot.scope == "all") & (KpiSnapshot.days == days))
    )


def test_kpis_survive_json_exactly(city: dict[str, int]) -> None:
    computed = run(leadership_kpis(SINCE, NOW))
    assert kpi_snapshots.loads(kpi_snapshots.dumps(computed)) == computed
    # Values JSON could blur: ids and None as keys, floats with no short decimal, big counts,
    # microseconds and a non-UTC offset.
    awkward = Kpis(
        since=dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=TIMEZONE),
        until=dt.datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC),
        total=KpiLine(2**53 + 1, 7, 3, 1 / 3, 200 / 3),
        by_ward={1: KpiLine(1, 0, 2, 0.1 + 0.2, None), None: KpiLine(0, 0, 1, 5e-324, 100.0)},
        by_category={12: KpiLine(), None: KpiLine(3, 3)},
    )
    back = kpi_snapshots.loads(kpi_snapshots.dumps(awkward))
    assert back == awkward
    assert list(back.by_ward) == [1, None] and back.since.utcoffset() == awkward.since.utcoffset()
    assert isinstance(back.total.median_hours, float) and back.total.median_hours.hex() == (
        (1 / 3).hex()
    )


def test_a_fresh_snapshot_is_served_as_it_was_computed(city: dict[str, int]) -> None:
    first = run(kpis_for(30, None))
    assert (first.total.open, first.total.resolved) == (3, 5)
    stored = snapshot()
    assert stored["computed_at"] == first.until and stored["refresh_claimed_at"] is None
    file(SOUTH, "rac", city["north_department"], **resolved(6))
    again = run(kpis_for(30, None))
    assert again == first, "a fresh snapshot is served, not computed again"
    assert snapshot()["refresh_claimed_at"] is None, "no refresh of a fresh snapshot"
    # Past a day a snapshot is not served at all: computed in the request.
    age(kpi_snapshots.SERVE_AT_MOST_S + 60)
    assert run(kpis_for(30, None)).total.resolved == 6


def test_a_stale_snapshot_is_served_and_one_refresh_runs(
    runtime: Runtime, city: dict[str, int]
) -> None:
    first = run(kpis_for(30, None))
    file(SOUTH, "rac", city["north_department"], **resolved(6))
    age(kpi_snapshots.FRESH_FOR_S[30] + 1)
    stale_at = snapshot()["computed_at"]
    assert run(kpis_for(30, None)) == first, "the stale figures are served at once"
    claimed = snapshot()["refresh_claimed_at"]
    assert claimed is not None, "the first reader of a stale snapshot claims its refresh"

    async def readers_at_once() -> list[bool]:
        now = dt.datetime.now(dt.UTC)
        return await asyncio.gather(*(kpi_snapshots._claim("all", 30, now) for _ in range(4)))

    assert run(readers_at_once()) == [False] * 4, "a claim held stops every other reader"
    run(KpiSnapshot.update({KpiSnapshot.refresh_claimed_at: None}, force=True))
    assert sorted(run(readers_at_once())) == [False, False, False, True], "one of them wins"
    assert run(kpis_for(30, None)) == first, "still served while the refresh is on its way"

    with worker(runtime):
        assert wait_until(lambda: snapshot()["computed_at"] > stale_at)
    refreshed = snapshot()
    assert refreshed["refresh_claimed_at"] is None, "the stored refresh ends the claim"
    served = run(kpis_for(30, None))
    assert served.until == refreshed["computed_at"]
    assert (served.total.resolved, served.total.median_hours) == (6, pytest.approx(3.5))
    run(kpi_snapshots.store("all", 30, first))  # a slower, older refresh finishing last
    assert snapshot()["computed_at"] == refreshed["computed_at"], "the newest figures stay"


def test_a_snapshot_is_served_only_to_its_own_scope(city: dict[str, int]) -> None:
    north = [city["north_department"]]
    everything = run(kpis_for(30, None))
    assert run(kpis_for(30, north)).total.resolved == 3, "not the city-wide snapshot"
    assert run(kpis_for(30, [])).total.resolved == 0, "only the incidents nobody owns"
    assert run(kpis_for(365, None)).total.resolved == 6, "each period has its own"
    keys = {(row["scope"], row["days"]) for row in run(KpiSnapshot.select())}
    assert keys == {("all", 30), (scope_key(north), 30), (scope_key([]), 30), ("all", 365)}
    assert scope_key([3, 1]) == scope_key([1, 3]) != scope_key([1])
    many = list(range(1000, 1100))
    assert len(scope_key(many)) <= kpi_snapshots.SCOPE_MAX
    assert scope_key(many) != scope_key(many[:-1])
    assert run(kpis_for(30, None)) == everything
