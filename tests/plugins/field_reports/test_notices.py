"""The reporter hears of each status change through the contact they gave."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from field_reports import intake
from field_reports.intake import Limits, Submission

from ioc_core.incidents import service
from ioc_core.incidents.tables import IncidentFollower
from ioc_core.notifications import sender
from ioc_core.notifications.tables import OutboundMessage
from ioc_core.runtime import Runtime
from tests.helpers import run, wait_until, worker
from tests.plugins.field_reports.conftest import PHAN_THIET, seed_services
from tests.smtp import Mailbox, mailing_runtime

LIMITS = Limits(bounds=(107.95, 10.8, 108.35, 11.15), per_client=10, window_s=600)
REPORTER = "nguoidan@example.vn"
OTHER = "hangxom@example.vn"


@pytest.fixture
def mail_runtime(environ: dict[str, str], mailbox: tuple[Mailbox, int]) -> Iterator[Runtime]:
    with mailing_runtime(environ, mailbox[1], ("field_reports",)) as built:
        yield built


def test_status_changes_reach_the_reporter_with_the_private_link(
    mail_runtime: Runtime, mailbox: tuple[Mailbox, int]
) -> None:
    made = run(seed_services())
    report = Submission(
        service_code="rac-thai",
        lon=PHAN_THIET[0],
        lat=PHAN_THIET[1],
        description="Rác thải đổ trộm bên đường",
        email=REPORTER,
        phone="0901 234 567",
    )
    incident, stored = run(intake.submit(report, LIMITS))
    now = dt.datetime.now(dt.UTC)
    run(
        IncidentFollower.insert(IncidentFollower(incident=incident.id, email=OTHER, created_at=now))
    )
    box = mailbox[0]
    with worker(mail_runtime):
        run(service.assign(incident.id, "user:dieuphoi", department_id=made.works))
        run(service.change_status(incident.id, "in_progress", "user:canbo"))
        assert wait_until(lambda: len(box.to(REPORTER)) == 2 and len(box.to(OTHER)) == 2)
    run(sender.send_pending(mail_runtime.states))
    # Workers send concurrently: the two messages may arrive in either order.
    subjects = sorted(m["Subject"] for m in box.to(REPORTER))
    assert subjects == [
        f"Phản ánh {incident.code} của bạn: Đang xử lý",
        f"Phản ánh {incident.code} của bạn: Đã phân công",
    ]
    latest = box.to(REPORTER)[-1]
    assert f"/track/{incident.code}?token={stored.token}" in latest.get_content()
    assert stored.token not in box.to(OTHER)[-1].get_content(), "only the reporter may rate"
    texts = run(
        OutboundMessage.select(OutboundMessage.address).where(OutboundMessage.channel == "sms")
    )
    assert [t["address"] for t in texts] == ["0901 234 567", "0901 234 567"]
