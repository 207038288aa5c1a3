"""Routing, the SLA clock and escalation on the backend under test."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from ioc_core.auth.errors import FormError
from ioc_core.auth.tables import Department
from ioc_core.i18n import TIMEZONE, local_today
from ioc_core.incidents import service
from ioc_core.incidents.service import NewIncident
from ioc_core.incidents.tables import Category, Incident, IncidentEvent
from ioc_core.runtime import Runtime
from ioc_core.sla import clock, escalation, routing
from ioc_core.sla.commands import sla_group
from ioc_core.sla.sweep import sweep
from ioc_core.sla.tables import CalendarDay, Escalation, RoutingRule, SlaTarget
from tests.helpers import run, wait_until, worker
from tests.processes import IOC

PHAN_THIET = (108.1017, 10.9289)
NOW = dt.datetime.now(dt.UTC)


@dataclass
class Org:
    province: int
    city: int
    works: int
    environment: int
    lights: int
    waste: int


def local(y: int, m: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=TIMEZONE).astimezone(dt.UTC)


def org() -> Org:
    """Province → city leadership → two departments; two categories routed to one each."""

    async def build() -> Org:
        province = Department(code="tinh", name_vi="UBND tỉnh", level="province")
        await province.save()
        city = Department(code="tp", name_vi="UBND thành phố", level="city", parent=province.id)
        await city.save()
        works = Department(code="qldt", name_vi="Phòng QLĐT", parent=city.id)
        environment = Department(code="tnmt", name_vi="Phòng TN-MT", parent=city.id)
        await works.save()
        await environment.save()
        lights = Category(code="chieu-sang", name_vi="Chiếu sáng")
        waste = Category(code="rac-thai", name_vi="Rác thải")
        await lights.save()
        await waste.save()
        for category, department in ((lights, works), (waste, environment)):
            await RoutingRule.insert(
                RoutingRule(
                    category=category.id,
                    department=department.id,
                    updated_at=NOW,
                    updated_by="test",
                )
            )
        await SlaTarget.insert(
            SlaTarget(category=lights.id, hours=15, warn_hours=4, updated_at=NOW, updated_by="t"),
            SlaTarget(hours=30, warn_hours=4, updated_at=NOW, updated_by="t"),
        )
        return Org(province.id, city.id, works.id, environment.id, lights.id, waste.id)

    return run(build())


def file(category: str = "chieu-sang") -> Incident:
    report = NewIncident(
        "test", "Đèn đường hỏng", category=category, lon=PHAN_THIET[0], lat=PHAN_THIET[1]
    )
    return run(service.create_incident(report, "citizen"))


def fresh(incident_id: int) -> Incident:
    found = run(Incident.objects().get(Incident.id == incident_id))
    assert found is not None
    return found


def kinds(incident_id: int) -> list[str]:
    rows = run(
        IncidentEvent.select(IncidentEvent.kind)
        .where(IncidentEvent.incident == incident_id)
        .order_by(IncidentEvent.id)
    )
    return [r["kind"] for r in rows]


def test_filing_routes_to_the_rule_and_sets_the_due_time_in_working_time(runtime: Runtime) -> None:
    made = org()
    incident = fresh(file().id)
    calendar = run(clock.load_calendar())
    assert incident.department == made.works
    assert incident.sla_due_at == calendar.add(incident.created_at, dt.timedelta(hours=15))
    assert incident.sla_warn_at == calendar.subtract(incident.sla_due_at, dt.timedelta(hours=4))
    assert kinds(incident.id) == ["created", "routed"]
    # Without a rule for its category or area, nobody is chosen; the default target applies.
    other = run(service.create_incident(NewIncident("test", "Khác"), "citizen"))
    assert other.department is None
    assert other.sla_due_at == calendar.add(other.created_at, dt.timedelta(hours=30))


def test_due_time_skips_the_seeded_national_day_and_an_added_holiday(runtime: Runtime) -> None:
    made = org()
    incident = fresh(file().id)
    # 15 working hours from Tuesday 1/9/2026 16:00: 2/9 (National Day) is off by the seeded
    # calendar, and the administrator adds Thursday 3/9 as well.
    run(CalendarDay.insert(CalendarDay(day=dt.date(2026, 9, 3), working=False, name="Nghỉ bù")))
    calendar = run(clock.load_calendar())
    assert not calendar.is_working_day(dt.date(2026, 9, 2))
    run(routing.route(incident, local(2026, 9, 1, 16)))
    # 1 h on 1/9, 7.5 h on Friday 4/9, 6.5 h on Monday 7/9 (4 h morning, 2.5 h afternoon).
    assert incident.sla_due_at == local(2026, 9, 7, 16)
    assert incident.department == made.works


def test_recategorising_routes_again_and_both_steps_are_in_the_timeline(runtime: Runtime) -> None:
    made = org()
    incident = file()
    changed = run(service.recategorise(incident.id, "user:dieuphoi", "rac-thai"))
    assert changed.department == made.environment
    calendar = run(clock.load_calendar())
    assert changed.sla_due_at == calendar.add(changed.created_at, dt.timedelta(hours=30))
    assert kinds(incident.id) == ["created", "routed", "recategorised", "routed"]
    with pytest.raises(FormError) as again:
        run(service.recategorise(incident.id, "user:dieuphoi", "rac-thai"))
    assert "category" in again.value.errors
    with pytest.raises(FormError):
        run(service.recategorise(incident.id, "user:dieuphoi", "khong-co"))


def test_the_clock_stops_while_waiting_on_the_citizen(runtime: Runtime) -> None:
    calendar = run(clock.load_calendar())
    incident = Incident(sla_due_at=local(2026, 3, 4, 10), sla_warn_at=local(2026, 3, 4, 8))
    clock.pause(incident, local(2026, 3, 2, 8))
    # Paused from Monday 8:00 to Tuesday 8:00: one working day (7.5 h) later.
    clock.resume(incident, local(2026, 3, 3, 8), calendar)
    assert incident.sla_due_at == local(2026, 3, 5, 10)
    assert incident.sla_warn_at == local(2026, 3, 5, 8)
    assert incident.sla_paused_at is None
    # Through the workflow: waiting records the pause, leaving it clears it.
    org()
    filed = file()
    run(service.assign(filed.id, "test", department_id=fresh(filed.id).department))
    assert run(service.change_status(filed.id, "waiting", "test")).sla_paused_at is not None
    resumed = run(service.change_status(filed.id, "in_progress", "test"))
    assert resumed.sla_paused_at is None
    assert resumed.sla_due_at is not None and resumed.sla_due_at >= fresh(filed.id).sla_due_at


def test_escalation_goes_up_the_hierarchy_and_the_leader_approves(runtime: Runtime) -> None:
    made = org()
    incident = file()
    up = run(escalation.escalate(incident.id, "user:canbo", "needs_budget", "Cần 40 triệu đồng"))
    assert (up.escalated_to, up.escalation_level) == (made.city, 1)
    assert up.public_note == escalation.PUBLIC_NOTES["needs_budget"]
    pending = run(escalation.open_escalation(incident.id))
    assert pending is not None and pending["to_department"] == made.city
    assert pending["from_department"] == made.works and pending["reason"] == "needs_budget"
    # The city sends it on to the province; the first escalation is closed as forwarded.
    run(escalation.escalate(incident.id, "user:lanhdao", "beyond_authority", "Vượt thẩm quyền"))
    rows = run(
        Escalation.select().where(Escalation.incident == incident.id).order_by(Escalation.id)
    )
    assert [(r["level"], r["decision"]) for r in rows] == [(1, "forwarded"), (2, "")]
    with pytest.raises(FormError) as top:
        run(escalation.escalate(incident.id, "user:tinh", "needs_budget"))
    assert "reason" in top.value.errors

    expected = local_today() + dt.timedelta(days=45)
    decided = run(
        escalation.decide(incident.id, "user:tinh", "approved", "Duyệt", expected_day=expected)
    )
    assert decided.escalated_to is None and decided.escalation_level == 0
    assert decided.expected_at is not None
    assert decided.expected_at.astimezone(TIMEZONE).date() == expected
    assert decided.sla_due_at == dt.datetime.combine(
        expected + dt.timedelta(days=1), dt.time(), tzinfo=TIMEZONE
    )
    assert decided.sla_state == "" and decided.public_note == escalation.PUBLIC_NOTES["approved"]
    assert kinds(incident.id)[-3:] == ["escalated", "escalated", "decided"]
    closed = run(
        Escalation.select().where(Escalation.incident == incident.id).order_by(Escalation.id)
    )
    assert closed[-1]["decision"] == "approved" and closed[-1]["decided_by"] == "user:tinh"


def test_decisions_check_their_input_and_nothing_is_half_stored(runtime: Runtime) -> None:
    made = org()
    incident = file()
    with pytest.raises(FormError) as nothing:
        run(escalation.decide(incident.id, "user:lanhdao", "returned", "Xử lý ngay"))
    assert "decision" in nothing.value.errors
    run(escalation.escalate(incident.id, "user:canbo", "needs_other_agency", "Cần điện lực"))
    bad = [
        ("returned", {}, "note"),
        ("approved", {}, "expected_at"),
        ("approved", {"expected_day": local_today() - dt.timedelta(days=1)}, "expected_at"),
        ("reassigned", {}, "department"),
        ("reassigned", {"department_id": 999_999}, "department"),
        ("maybe", {}, "decision"),
    ]
    for decision, extra, field in bad:
        with pytest.raises(FormError) as refused:
            run(escalation.decide(incident.id, "user:lanhdao", decision, "", **extra))  # type: ignore[arg-type]
        assert field in refused.value.errors, (decision, refused.value.errors)
    assert fresh(incident.id).escalated_to == made.city
    # A unit the incident is not (or no longer) escalated to may not decide it.
    with pytest.raises(FormError) as elsewhere:
        run(
            escalation.decide(
                incident.id, "user:tnmt", "returned", "Không", units=frozenset({made.environment})
            )
        )
    assert "decision" in elsewhere.value.errors
    moved = run(
        escalation.decide(
            incident.id, "user:lanhdao", "reassigned", "Giao TN-MT", department_id=made.environment
        )
    )
    assert moved.department == made.environment and moved.escalated_to is None
    with pytest.raises(FormError) as reason:
        run(escalation.escalate(incident.id, "user:canbo", "because"))
    assert "reason" in reason.value.errors


def overdue(*incident_ids: int) -> None:
    """As if their due times had passed."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    run(Incident.update({Incident.sla_due_at: past}).where(Incident.id.is_in(list(incident_ids))))


def test_a_concurrent_double_sweep_escalates_each_incident_once(
    runtime: Runtime, environ: dict[str, str]
) -> None:
    made = org()
    ids = [file().id for _ in range(40)]
    overdue(*ids)
    env = {**os.environ, **environ}
    sweeps = [
        subprocess.Popen([IOC, "sla", "sweep"], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [s.communicate(timeout=120)[0] for s in sweeps]
    assert all(s.returncode == 0 for s in sweeps), outputs
    counts = [int(o.split("escalated ")[1].split()[0]) for o in outputs]
    assert sum(counts) == 40, outputs
    rows = run(
        Escalation.select(Escalation.incident, Escalation.automatic, Escalation.to_department)
    )
    assert sorted(r["incident"] for r in rows) == sorted(ids)
    assert all(r["automatic"] and r["to_department"] == made.city for r in rows)
    assert all(kinds(i).count("sla_breached") == 1 for i in ids)
    # The next sweep finds nothing new; a new due time (a leader's approval) re-arms the breach.
    assert run(sweep()).escalated == 0
    expected = local_today() + dt.timedelta(days=10)
    run(escalation.decide(ids[0], "user:lanhdao", "approved", "", expected_day=expected))
    assert run(sweep()).escalated == 0
    overdue(ids[0])  # the approved date passes too: a new breach, escalated once more
    assert run(sweep()).escalated == 1
    assert run(sweep()).escalated == 0
    assert kinds(ids[0]).count("sla_breached") == 2


def test_the_sweep_warns_before_the_due_time_once(runtime: Runtime) -> None:
    org()
    incident = file()
    soon = dt.datetime.now(dt.UTC)
    run(
        Incident.update(
            {
                Incident.sla_warn_at: soon - dt.timedelta(minutes=1),
                Incident.sla_due_at: soon + dt.timedelta(hours=1),
            }
        ).where(Incident.id == incident.id)
    )
    assert run(sweep()).warned == 1
    assert run(sweep()).warned == 0
    assert fresh(incident.id).sla_state == "warned"
    assert kinds(incident.id)[-1] == "sla_warning"
    # Waiting on the citizen: neither warned nor escalated.
    run(service.assign(incident.id, "test", department_id=fresh(incident.id).department))
    run(service.change_status(incident.id, "waiting", "test"))
    overdue(incident.id)
    assert run(sweep()).escalated == 0


def test_the_periodic_sweep_escalates_with_nobody_running_it(runtime: Runtime) -> None:
    org()
    incident = file()
    overdue(incident.id)
    result = CliRunner().invoke(sla_group, ["start-sweeper"])
    assert result.exit_code == 0 and "once per cluster" in result.output
    with worker(runtime):
        assert wait_until(lambda: fresh(incident.id).escalation_level == 1)
    assert kinds(incident.id).count("sla_breached") == 1
