"""What people are told when an incident is escalated and decided, on the backend under test:
the unit above under its bell, the people working it, and followers by bell and e-mail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ioc_core.auth.users import create_user
from ioc_core.i18n import local_today
from ioc_core.incidents import service
from ioc_core.incidents.tables import Incident, IncidentFollower
from ioc_core.notifications import sender
from ioc_core.notifications.tables import Notification
from ioc_core.runtime import Runtime
from ioc_core.sla import escalation
from tests.helpers import STAFF_PASSWORD, run, wait_until, worker
from tests.sla.test_escalation import file, org
from tests.smtp import Mailbox, mailing_runtime

CITIZEN = "nguoidan@example.vn"


@pytest.fixture
def mail_runtime(environ: dict[str, str], mailbox: tuple[Mailbox, int]) -> Iterator[Runtime]:
    with mailing_runtime(environ, mailbox[1]) as built:
        yield built


def told(username_id: int, kind: str) -> list[dict[str, object]]:
    return run(
        Notification.select(Notification.params)
        .where((Notification.user == username_id) & (Notification.kind == kind))
        .output(load_json=True)
    )


def test_a_leaders_decision_updates_the_expected_date_and_notifies(
    mail_runtime: Runtime, mailbox: tuple[Mailbox, int]
) -> None:
    org()
    officer = run(
        create_user("canbo", STAFF_PASSWORD, roles=["officer"], departments=["qldt"], actor="t")
    )
    leader = run(
        create_user(
            "lanhdao",
            STAFF_PASSWORD,
            roles=["leader"],
            departments=["tp"],
            actor="t",
            email="ld@tp.vn",
        )
    )
    follower = run(
        create_user("theodoi", STAFF_PASSWORD, roles=["viewer"], actor="t", language="en")
    )
    incident = file()
    run(
        service.assign(
            incident.id, "test", department_id=run(_department(incident.id)), assignee_id=officer.id
        )
    )
    run(service.follow(incident.id, follower.id))
    run(
        IncidentFollower.insert(
            IncidentFollower(
                incident=incident.id, email=CITIZEN, created_at=dt.datetime.now(dt.UTC)
            )
        )
    )

    with worker(mail_runtime):
        run(escalation.escalate(incident.id, "user:canbo", "needs_budget", "Cần 40 triệu"))
        assert wait_until(lambda: len(told(leader.id, "sla.escalated")) == 1)
        assert told(leader.id, "sla.escalated")[0]["params"]["reason"] == "needs_budget"
        # The public note changed to "waiting for budget approval": followers hear of it.
        assert wait_until(lambda: len(told(follower.id, "sla.public_note")) == 1)

        expected = local_today() + dt.timedelta(days=30)
        run(
            escalation.decide(
                incident.id, "user:lanhdao", "approved", "Duyệt", expected_day=expected
            )
        )
        assert wait_until(lambda: len(told(officer.id, "sla.decided")) == 1)
        assert wait_until(lambda: len(told(follower.id, "sla.public_note")) == 2)
    stored = run(Incident.objects().get(Incident.id == incident.id))
    assert stored is not None and stored.expected_at is not None
    news = told(follower.id, "sla.public_note")[-1]["params"]
    assert news["expected"] == stored.expected_at.isoformat()

    # The workers may have sent some already (send_soon); what is left goes now.
    run(sender.send_pending(mail_runtime.states))
    box = mailbox[0]
    to_citizen = box.to(CITIZEN)
    assert len(to_citizen) == 2, [m["Subject"] for m in box.received]
    assert stored.code in to_citizen[-1]["Subject"]
    assert expected.strftime("%d/%m/%Y") in to_citizen[-1].get_content()
    assert len(box.to("ld@tp.vn")) == 1


async def _department(incident_id: int) -> int:
    row = await Incident.select(Incident.department).where(Incident.id == incident_id).first()
    assert row is not None
    return int(row["department"])
