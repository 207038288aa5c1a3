"""Cluster-wide periodic jobs: a chain of messages, each sending the next, that runs once per
period however many chains were started (one per web process start, say).

    @chain("sla.sweep", EVERY_S)
    @task(queue="periodic", max_retries=None, min_backoff=1_000, max_backoff=60_000)
    async def sweep_periodically() -> None:
        if await claim_period("sla.sweep", EVERY_S, sweep_periodically):
            await sweep()

Each run claims the period under `exclusive_transaction`: it goes on only if the job's last run,
by any chain, is at least half a period old. Of two chains, the one running less than half a
period after the other ends, so they converge to one; the last claimer is always alive, because
its next message was sent inside the claiming transaction (a failed send rolls the claim back and
the message is retried).

A chain lives only in the broker, though: a broker that keeps nothing on disk (Redis as deployed
here) loses it on a restart, and a retry that cannot be sent to a broker that is down is lost
too. `chain` marks the task, so that every worker's watchdog (`ioc_core.tasks.watchdog`) sends it
again once the job is overdue.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from ioc_core.db.migrate import exclusive_transaction
from ioc_core.db.tables import PeriodicRun
from ioc_core.tasks.task import Period, Task

log = logging.getLogger(__name__)

# A send slower than this counts as failed, so a hung broker cannot hold the lock for long.
SEND_TIMEOUT_S = 5.0


def chain(name: str, every_s: float) -> Callable[[Task], Task]:
    """Mark a task as the chain of job `name`, run every `every_s` seconds, for the watchdog."""

    def mark(task: Task) -> Task:
        task.period = Period(name, every_s)
        return task

    return mark


async def claim_period(name: str, every_s: float, chain: Task) -> bool:
    """Claim this period of job `name` and send `chain`'s next run in `every_s` seconds; False
    when another chain ran the job less than half a period ago (this chain then ends)."""
    async with exclusive_transaction():
        now = dt.datetime.now(dt.UTC)
        last = await PeriodicRun.select(PeriodicRun.last_at).where(PeriodicRun.name == name)
        if last and (now - last[0]["last_at"]).total_seconds() < every_s / 2:
            log.debug("%s: another chain ran at %s; this one ends", name, last[0]["last_at"])
            return False
        if last:
            await PeriodicRun.update({PeriodicRun.last_at: now}).where(PeriodicRun.name == name)
        else:
            await PeriodicRun.insert(PeriodicRun(name=name, last_at=now))
        await asyncio.wait_for(
            asyncio.to_thread(chain.send_with_options, delay=int(every_s * 1000)),
            SEND_TIMEOUT_S,
        )
    return True
