"""Redis stopped, then back empty: intake keeps answering, and once the broker returns every
report's follow-up work happens exactly once, with nobody restarting anything."""

from __future__ import annotations

import time

import httpx

from ioc_core.incidents import outbox, service
from tests.faults.platform import CREATED, FAULT_MARKS, Platform, rows
from tests.faults.services import PrivateRedis
from tests.helpers import wait_until
from tests.smtp import Mailbox

pytestmark = FAULT_MARKS

REPORTS = 3
# An answer slower than this would mean the request waited on the broker.
ANSWER_S = 3.0
ON_STATUS = "field_reports.notices.on_status"
# The lost sweeper chain is restarted two periods (2 x 15 s) after its last run and sweeps
# events 30 s old: about a minute at worst, with room for a loaded machine.
RECOVERY_TIMEOUT_S = 100.0


def _timeline(platform: Platform, kind: str) -> list[int]:
    return [
        r["incident"]
        for r in rows(platform, "SELECT incident FROM incident_event WHERE kind = $1", kind)
    ]


def test_intake_survives_a_redis_restart_and_everything_queued_happens_once(
    platform: Platform, private_redis: PrivateRedis, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp
    platform.serve()
    platform.worker()
    # The chains are running before the outage (the web process started them).
    assert wait_until(
        lambda: bool(
            rows(platform, "SELECT name FROM periodic_run WHERE name = $1", outbox.SWEEPER)
        ),
        30,
    ), platform.process_logs()

    private_redis.stop()
    reporters = [f"outage-{n}@example.vn" for n in range(REPORTS)]
    codes = []
    with httpx.Client(timeout=30) as client:
        for reporter in reporters:
            started = time.monotonic()
            response = platform.report(client, reporter)
            elapsed = time.monotonic() - started
            assert response.status_code == CREATED, response.text
            assert elapsed < ANSWER_S, f"the answer waited {elapsed:.1f} s on the broker"
            codes.append(response.json()[0]["service_request_id"])
    incidents = [
        rows(platform, "SELECT id, department FROM incident WHERE code = $1", code)[0]
        for code in codes
    ]
    # Stored and routed at once, in the request's transaction.
    assert all(i["department"] == platform.services.works for i in incidents)
    ids = sorted(i["id"] for i in incidents)
    assert sorted(_timeline(platform, "routed")) == ids
    # A dispatcher assigns them meanwhile (from another process): the reporters are to be told.
    for incident in ids:
        platform.run(
            service.assign(incident, "test:dispatcher", department_id=platform.services.works)
        )
    waiting = rows(platform, "SELECT id FROM outbox_event WHERE dispatched_at IS NULL")
    assert len(waiting) == 2 * REPORTS, "created and assigned, none sent to the broker"

    private_redis.start()  # empty: the queued chains and messages are gone

    def everyone_told() -> bool:
        return all(mailbox.to(reporter) for reporter in reporters)

    assert wait_until(everyone_told, RECOVERY_TIMEOUT_S), platform.process_logs()
    time.sleep(2)  # a second delivery, if any, would show by now
    assert [len(mailbox.to(reporter)) for reporter in reporters] == [1] * REPORTS
    handled = rows(
        platform,
        "SELECT o.topic FROM handled_event h JOIN outbox_event o ON o.id = h.event"
        " WHERE h.handler = $1",
        ON_STATUS,
    )
    assert [h["topic"] for h in handled] == ["incident.assigned"] * REPORTS
    messages = rows(platform, "SELECT address, sent_at FROM outbound_message ORDER BY address")
    assert [m["address"] for m in messages] == sorted(reporters)
    assert all(m["sent_at"] is not None for m in messages)
    assert sorted(_timeline(platform, "routed")) == ids
    assert sorted(_timeline(platform, "assigned")) == ids
    assert rows(platform, "SELECT id FROM outbox_event WHERE dispatched_at IS NULL") == []
