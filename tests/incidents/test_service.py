"""Incidents: ticket codes, the workflow, the timeline and the outbox, on the backend under test."""

import asyncio
import datetime as dt

import pytest

from ioc_core.auth.errors import FormError
from ioc_core.auth.tables import Department
from ioc_core.incidents import service
from ioc_core.incidents.service import NewIncident
from ioc_core.incidents.tables import Category, Incident, IncidentEvent, OutboxEvent
from ioc_core.incidents.workflow import TransitionError
from ioc_core.runtime import Runtime
from tests.helpers import run

PHAN_THIET = (108.1017, 10.9289)


def report(title: str = "Đèn đường hỏng trên đường Trần Hưng Đạo") -> NewIncident:
    return NewIncident(source="field_reports", title=title, lon=PHAN_THIET[0], lat=PHAN_THIET[1])


def timeline(incident_id: int) -> list[dict[str, object]]:
    query = IncidentEvent.select().where(IncidentEvent.incident == incident_id)
    return run(query.order_by(IncidentEvent.id).output(load_json=True))


def test_ticket_codes_are_readable_unique_and_per_year(runtime: Runtime) -> None:
    first = run(service.create_incident(report(), "citizen"))
    second = run(service.create_incident(report("Ngập nước"), "citizen"))
    year = dt.datetime.now(dt.UTC).year
    assert (first.code, second.code) == (f"PT-{year}-000001", f"PT-{year}-000002")

    async def many() -> list[str]:
        made = await asyncio.gather(*(service.create_incident(report(), "c") for _ in range(8)))
        return [m.code for m in made]

    codes = run(many())
    assert len(set(codes)) == 8 and all(c.startswith(f"PT-{year}-0000") for c in codes)


def test_created_with_timeline_and_outbox_event(runtime: Runtime) -> None:
    run(Category.insert(Category(code="chieu_sang", name_vi="Chiếu sáng")))
    data = NewIncident(
        source="field_reports",
        title="Đèn đường hỏng",
        category="chieu_sang",
        lon=PHAN_THIET[0],
        lat=PHAN_THIET[1],
        reporter_contact="0912 345 678",
    )
    incident = run(service.create_incident(data, "citizen"))
    stored = run(Incident.objects().get(Incident.id == incident.id))
    assert stored.status == "new" and stored.lon == PHAN_THIET[0] and stored.category is not None
    events = timeline(incident.id)
    assert [(e["kind"], e["actor"]) for e in events] == [("created", "citizen")]
    assert events[0]["after"]["title"] == "Đèn đường hỏng"
    assert "0912 345 678" not in str(events[0]), "the reporter's contact stays private"
    topics = run(OutboxEvent.select(OutboxEvent.topic, OutboxEvent.payload).output(load_json=True))
    assert topics == [
        {"topic": "incident.created", "payload": {"incident": incident.id, "code": incident.code}}
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (NewIncident(source="x", title="  "), "title"),
        (NewIncident(source="x", title="t" * 301), "title"),
        (NewIncident(source="x", title="ok", lon=108.1), "location"),
        (NewIncident(source="x", title="ok", lon=200.0, lat=10.0), "location"),
        (NewIncident(source="x", title="ok", priority="asap"), "priority"),
        (NewIncident(source="x", title="ok", category="missing"), "category"),
    ],
)
def test_bad_input_is_refused_and_nothing_stored(
    runtime: Runtime, data: NewIncident, field: str
) -> None:
    with pytest.raises(FormError) as caught:
        run(service.create_incident(data, "citizen"))
    assert field in caught.value.errors
    assert run(Incident.count()) == run(IncidentEvent.count()) == run(OutboxEvent.count()) == 0


def test_workflow_and_timeline(runtime: Runtime) -> None:
    department = Department(code="p-duc-thang", name_vi="Phường Đức Thắng", level="ward")
    run(department.save())
    incident = run(service.create_incident(report(), "citizen"))
    run(service.assign(incident.id, "user:dieuphoi", department_id=department.id))
    run(service.change_status(incident.id, "in_progress", "user:canbo"))
    run(service.comment(incident.id, "user:canbo", "Đã liên hệ điện lực"))
    when = dt.datetime(2027, 1, 15, 1, 0, tzinfo=dt.UTC)
    run(service.set_public_note(incident.id, "user:lanhdao", "Chờ phê duyệt kinh phí", when))
    run(service.edit_incident(incident.id, "user:canbo", {"priority": "high"}))
    run(service.change_status(incident.id, "resolved", "user:canbo"))
    run(service.change_status(incident.id, "closed", "user:dieuphoi"))
    run(service.change_status(incident.id, "reopened", "citizen", "Đèn vẫn chưa sáng"))

    stored = run(Incident.objects().get(Incident.id == incident.id))
    assert stored.status == "reopened" and stored.closed_at is None
    assert stored.priority == "high" and stored.public_note == "Chờ phê duyệt kinh phí"
    events = timeline(incident.id)
    assert [e["kind"] for e in events] == [
        "created",
        "assigned",
        "status",
        "commented",
        "public_note",
        "edited",
        "status",
        "status",
        "status",
    ]
    assert events[1]["before"]["status"] == "new" and events[1]["after"] == {
        "department": department.id,
        "assignee": None,
        "status": "assigned",
    }
    assert events[5]["before"] == {"priority": "normal"} and events[5]["after"] == {
        "priority": "high"
    }
    assert events[-1]["note"] == "Đèn vẫn chưa sáng" and events[-1]["actor"] == "citizen"
    assert run(OutboxEvent.count()) == len(events), "every change has its domain event"


def test_wrong_transition_is_refused_and_changes_nothing(runtime: Runtime) -> None:
    incident = run(service.create_incident(report(), "citizen"))
    with pytest.raises(TransitionError, match="Mới không thể chuyển sang Đã đóng"):
        run(service.change_status(incident.id, "closed", "user:x"))
    with pytest.raises(TransitionError, match="Trạng thái lost không tồn tại"):
        run(service.change_status(incident.id, "lost", "user:x"))
    stored = run(Incident.objects().get(Incident.id == incident.id))
    assert stored.status == "new"
    assert [e["kind"] for e in timeline(incident.id)] == ["created"]
    assert run(OutboxEvent.count()) == 1
