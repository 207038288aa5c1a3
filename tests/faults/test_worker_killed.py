"""A worker killed (SIGKILL) in the middle of a handler: the message comes back to another
worker after the heartbeat timeout, and the side effect happens exactly once."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from ioc_core.incidents import service
from tests.faults.platform import CREATED, FAULT_MARKS, Platform, kill, rows
from tests.helpers import wait_until
from tests.smtp import Mailbox

pytestmark = FAULT_MARKS

ON_STATUS = "field_reports.notices.on_status"
# Heartbeat timeout (3 s), a maintenance pass, the handler, the sender's 2 s delay, SMTP.
REDELIVERY_TIMEOUT_S = 45.0


async def _lock_waiters(watcher: asyncpg.Connection, holder_pid: int, database: str) -> int:
    """Backends of `database` inserting into outbound_message (the handler's notify, not the
    sender's claim) and waiting for the lock `holder_pid` holds. Read outside the holder's
    transaction, which sees a snapshot of the activity taken at its start."""
    return int(
        await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = $1 AND wait_event_type = 'Lock'"
            " AND $2 = ANY(pg_blocking_pids(pid)) AND query ILIKE 'INSERT INTO%outbound_message%'",
            database,
            holder_pid,
        )
    )


def test_a_worker_killed_mid_handler_is_replaced_and_notifies_once(
    platform: Platform, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp
    reporter = "killed-worker@example.vn"
    platform.serve()
    first = platform.worker()
    with httpx.Client(timeout=30) as client:
        filed = platform.report(client, reporter)
    assert filed.status_code == CREATED, filed.text
    code = filed.json()[0]["service_request_id"]
    incident = rows(platform, "SELECT id FROM incident WHERE code = $1", code)[0]["id"]
    database = platform.database_url.rsplit("/", 1)[1]

    async def kill_mid_handler() -> None:
        holder = await asyncpg.connect(platform.database_url, timeout=10)
        watcher = await asyncpg.connect(platform.database_url, timeout=10)
        try:
            # The handler writes the reporter's message there: it blocks inside its transaction,
            # after it claimed the event in handled_event.
            transaction = holder.transaction()
            await transaction.start()
            await holder.execute("LOCK TABLE outbound_message IN ACCESS EXCLUSIVE MODE")
            await service.assign(incident, "test:dispatcher", department_id=platform.services.works)
            deadline = time.monotonic() + 30
            while not await _lock_waiters(watcher, holder.get_server_pid(), database):
                assert time.monotonic() < deadline, platform.process_logs()
                await asyncio.sleep(0.1)
            kill(first)
            await transaction.rollback()
        finally:
            await holder.close()
            await watcher.close()

    platform.run(kill_mid_handler())
    assert first.returncode is not None and first.returncode < 0, "killed by a signal"

    def handled() -> list[dict[str, object]]:
        return rows(
            platform,
            "SELECT h.event FROM handled_event h JOIN outbox_event o ON o.id = h.event"
            " WHERE h.handler = $1 AND o.topic = 'incident.assigned'",
            ON_STATUS,
        )

    # The killed worker's transaction never committed: nothing of the handler is left.
    assert handled() == []
    assert rows(platform, "SELECT id FROM outbound_message") == []

    platform.worker()
    assert wait_until(lambda: len(mailbox.to(reporter)) >= 1, REDELIVERY_TIMEOUT_S), (
        platform.process_logs()
    )
    time.sleep(2)  # a second delivery, if any, would show by now
    assert len(mailbox.to(reporter)) == 1
    assert len(handled()) == 1
    messages = rows(platform, "SELECT address, sent_at FROM outbound_message")
    assert [m["address"] for m in messages] == [reporter] and messages[0]["sent_at"] is not None
    kinds = [
        r["kind"]
        for r in rows(platform, "SELECT kind FROM incident_event WHERE incident = $1", incident)
    ]
    assert kinds.count("assigned") == 1 and kinds.count("routed") == 1, kinds
