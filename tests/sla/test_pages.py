"""The escalation panel, the leaders' queues and their counts, as staff use them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from litestar.testing import TestClient

from ioc_core.auth.users import create_user
from ioc_core.i18n import local_today
from ioc_core.incidents import service
from ioc_core.incidents.tables import Incident
from ioc_core.runtime import Runtime
from ioc_core.web.app import create_app
from tests.helpers import STAFF_PASSWORD, in_app, run, sign_in
from tests.sla.test_escalation import Org, file, org, overdue


def people(made: Org) -> None:
    """An officer of urban works, the city's leader, and a leader of another department."""
    staff = (
        ("canbo", "officer", "qldt"),
        ("lanhdao", "leader", "tp"),
        ("truongphong", "leader", "tnmt"),
    )
    for name, role, department in staff:
        run(create_user(name, STAFF_PASSWORD, roles=[role], departments=[department], actor="t"))


def stored(client: TestClient[Any], incident_id: int) -> Incident:
    found = in_app(client, Incident.objects().get(Incident.id == incident_id).run)
    assert found is not None
    return found


def count_in_menu(html: str, path: str) -> int | None:
    found = re.search(rf'data-testid="count-{re.escape(path)}">(\d+)<', html)
    return int(found.group(1)) if found else None


def test_staff_escalate_from_the_incident_page_and_the_leader_decides_from_the_queue(
    runtime: Runtime,
) -> None:
    made = org()
    people(made)
    first, second = file(), file()
    with TestClient(create_app(runtime=runtime)) as client:
        token = sign_in(client, "canbo")
        page = client.get(f"/incidents/{first.id}")
        assert 'data-testid="due"' in page.text and 'data-testid="escalate-form"' in page.text
        refused = client.post(
            f"/incidents/{first.id}/escalate",
            data={"_csrf_token": token, "escalate_reason": "boredom", "escalate_note": "x"},
        )
        assert refused.status_code == 422 and "Chọn lý do" in refused.text
        assert stored(client, first.id).escalated_to is None
        for incident in (first, second):
            sent = client.post(
                f"/incidents/{incident.id}/escalate",
                data={
                    "_csrf_token": token,
                    "escalate_reason": "needs_budget",
                    "escalate_note": "Cần 40 triệu đồng",
                },
                follow_redirects=False,
            )
            assert sent.status_code == 303
        assert stored(client, first.id).escalated_to == made.city
        assert 'data-testid="escalated-to"' in client.get(f"/incidents/{first.id}").text
        # An officer has no queue and may not decide.
        assert client.get("/sla/queues/escalated").status_code == 403
        assert (
            client.post(f"/incidents/{first.id}/decide", data={"_csrf_token": token}).status_code
            == 403
        )

    with TestClient(create_app(runtime=runtime)) as client:
        token = sign_in(client, "truongphong")  # a leader, but of another unit
        assert count_in_menu(client.get("/").text, "/sla/queues/escalated") == 0
        other = client.post(
            f"/incidents/{first.id}/decide",
            data={"_csrf_token": token, "decide_decision": "returned", "decide_note": "Không"},
        )
        assert other.status_code in (403, 404)
        assert stored(client, first.id).escalated_to == made.city

    with TestClient(create_app(runtime=runtime)) as client:
        token = sign_in(client, "lanhdao")
        home = client.get("/").text
        assert count_in_menu(home, "/sla/queues/escalated") == 2
        assert count_in_menu(home, "/sla/queues/budget") == 2
        # The incident page's decision form shows its own errors beside its own fields.
        undated = client.post(
            f"/incidents/{first.id}/decide",
            data={"_csrf_token": token, "decide_decision": "approved"},
        )
        assert undated.status_code == 422 and 'id="e-decide_expected_at"' in undated.text
        assert 'id="e-expected_at"' not in undated.text
        queue = client.get("/sla/queues/escalated")
        assert first.code in queue.text and second.code in queue.text
        ticked = {"_csrf_token": token, "incident": [str(first.id), str(second.id)]}
        missing_date = client.post("/sla/queues/decide", data={**ticked, "decision": "approved"})
        assert missing_date.status_code == 422
        assert stored(client, first.id).escalated_to == made.city, "nothing decided on bad input"
        expected = local_today() + dt.timedelta(days=20)
        decided = client.post(
            "/sla/queues/decide",
            data={**ticked, "decision": "approved", "expected_at": expected.isoformat()},
            follow_redirects=False,
        )
        assert decided.status_code == 303
        for incident in (first, second):
            now = stored(client, incident.id)
            assert now.escalated_to is None and now.expected_at is not None
            assert now.expected_at.astimezone(dt.UTC).date() <= expected
        after = client.get(decided.headers["location"]).text
        assert count_in_menu(after, "/sla/queues/escalated") == 0
        assert "2 / 2" in after or "2 of 2" in after or "2 trong 2" in after


def test_overdue_is_marked_in_lists_and_queued_for_the_leader(runtime: Runtime) -> None:
    made = org()
    people(made)
    late, on_time = file(), file()
    overdue(late.id)
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "lanhdao")
        listing = client.get("/incidents").text
        row = listing.split(late.code)[1].split("</tr>")[0]
        assert 'data-testid="overdue"' in row
        assert 'data-testid="overdue"' not in listing.split(on_time.code)[1].split("</tr>")[0]
        queue = client.get("/sla/queues/overdue").text
        assert late.code in queue and on_time.code not in queue
        assert count_in_menu(queue, "/sla/queues/overdue") == 1
        box = "108.0,10.85,108.2,11.0"
        points = client.get(f"/api/incidents.geojson?bbox={box}&zoom=16").json()["features"]
        marked = {p["properties"]["code"]: p["properties"] for p in points}
        assert marked[late.code]["overdue"] and "quá hạn" in marked[late.code]["due_label"]
        assert not marked[on_time.code]["overdue"] and marked[on_time.code]["due_at"]
    # Waiting on the citizen stops the clock: no longer marked or queued as overdue.
    run(service.assign(late.id, "t", department_id=made.works))
    run(service.change_status(late.id, "waiting", "t"))
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "lanhdao")
        assert late.code not in client.get("/sla/queues/overdue").text


def test_following_an_incident_from_its_page(runtime: Runtime) -> None:
    made = org()
    people(made)
    incident = file()
    with TestClient(create_app(runtime=runtime)) as client:
        token = sign_in(client, "lanhdao")
        assert 'data-testid="follow"' in client.get(f"/incidents/{incident.id}").text
        client.post(f"/incidents/{incident.id}/follow", data={"_csrf_token": token})
        assert 'data-testid="unfollow"' in client.get(f"/incidents/{incident.id}").text
        client.post(f"/incidents/{incident.id}/follow", data={"_csrf_token": token, "stop": "1"})
        assert 'data-testid="follow"' in client.get(f"/incidents/{incident.id}").text
