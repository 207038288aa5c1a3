"""The SLA sweep: warn the assignee before a due time, escalate once it has passed.

Each incident is handled in its own `service.change`, which locks the row (PostgreSQL) or takes
the write lock (SQLite) and re-reads it: of two sweeps that picked the same incident, the second
finds it already warned or breached and changes nothing (`NoChange`), so an incident is escalated
exactly once per due time. A new due time (re-routing, a leader's approval) re-arms both.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ioc_core.auth.errors import FormError
from ioc_core.geo.spatial import is_postgres
from ioc_core.incidents import service
from ioc_core.incidents.tables import Incident
from ioc_core.incidents.workflow import OPEN_STATUSES
from ioc_core.sla.escalation import OVERDUE, escalation_change
from ioc_core.tasks.periodic import chain, claim_period
from ioc_core.tasks.task import task

log = logging.getLogger(__name__)
T = TypeVar("T")

ACTOR = "system:sla"
# How often the cluster sweeps; a due time is acted on within this much of passing.
SWEEP_EVERY_S = 60.0
# The periodic sweep's name in periodic_run.
SWEEPER = "sla.sweep"
# The clock stops while waiting on the citizen: those are neither warned nor escalated.
RUNNING = tuple(s for s in OPEN_STATUSES if s != "waiting")
# Every sla_state but "breached", listed: an IN lets the index (status, sla_state, sla_due_at)
# seek straight to the due ones, where `!= "breached"` would scan the whole overdue backlog.
NOT_BREACHED = ("", "warned")
# Changes made side by side on PostgreSQL: within the connection pool (asyncpg's default 10),
# leaving room for the dispatch after each commit and for other work of the process.
CONCURRENT_CHANGES = 4


@dataclass(frozen=True)
class SweepResult:
    warned: int
    escalated: int
    # Past due, but with no unit above the one holding it: marked, and left in the queues.
    breached: int


async def sweep(now: dt.datetime | None = None) -> SweepResult:
    now = now or dt.datetime.now(dt.UTC)
    due = await Incident.select(Incident.id).where(
        Incident.status.is_in(list(RUNNING)),
        Incident.sla_state.is_in(list(NOT_BREACHED)),
        Incident.sla_due_at <= now,
    )
    outcomes = await _each([row["id"] for row in due], lambda i: _breach(i, now))
    escalated = outcomes.count("escalated")
    breached = outcomes.count("breached")
    near = await Incident.select(Incident.id).where(
        Incident.status.is_in(list(RUNNING)),
        Incident.sla_state == "",
        Incident.sla_warn_at <= now,
        Incident.sla_due_at > now,
    )
    warned = sum(await _each([row["id"] for row in near], lambda i: _warn(i, now)))
    result = SweepResult(warned=warned, escalated=escalated, breached=breached)
    if due or near:
        log.info("sla sweep: %s", result)
    return result


async def _each(ids: list[int], act: Callable[[int], Awaitable[T]]) -> list[T]:
    """`act` on each incident: side by side on PostgreSQL, where each change locks only its own
    row (a sweep of 60 due incidents on 1 M took 1.25 s one by one), one by one on SQLite,
    which has a single writer. The first error cancels the rest, as it would stop a loop."""
    if not is_postgres():
        return [await act(i) for i in ids]
    gate = asyncio.Semaphore(CONCURRENT_CHANGES)

    async def one(incident_id: int) -> T:
        async with gate:
            return await act(incident_id)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(i)) for i in ids]
    return [t.result() for t in tasks]


def _overdue(incident: Incident, now: dt.datetime) -> bool:
    """Re-checked under the lock: another sweep or a person may have acted since the select."""
    return (
        incident.status in RUNNING
        and incident.sla_state != "breached"
        and incident.sla_due_at is not None
        and incident.sla_due_at <= now
    )


def _due_soon(incident: Incident, now: dt.datetime) -> bool:
    return (
        incident.status in RUNNING
        and incident.sla_state == ""
        and incident.sla_warn_at is not None
        and incident.sla_warn_at <= now
        and incident.sla_due_at is not None
        and incident.sla_due_at > now
    )


async def _breach(incident_id: int, now: dt.datetime) -> str:
    escalate = escalation_change(ACTOR, OVERDUE, "", None, automatic=True)
    outcome = "escalated"

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        nonlocal outcome
        if not _overdue(incident, now):
            raise service.NoChange
        due = incident.sla_due_at.isoformat() if incident.sla_due_at else None
        incident.sla_state = "breached"
        try:
            before, after = await escalate(incident)
        except FormError:  # no department, or already at the top: the breach is still recorded
            outcome = "breached"
            return {"sla_state": ""}, {"sla_state": "breached", "sla_due_at": due}
        return before, after | {"sla_due_at": due}

    try:
        incident = await service.change(incident_id, ACTOR, "sla_breached", apply)
    except service.NoChange:
        return "unchanged"
    if outcome == "breached":
        log.info("sla: %s is overdue with no level above to escalate to", incident.code)
    return outcome


async def _warn(incident_id: int, now: dt.datetime) -> bool:
    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        if not _due_soon(incident, now):
            raise service.NoChange
        incident.sla_state = "warned"
        due = incident.sla_due_at.isoformat() if incident.sla_due_at else None
        return {"sla_state": ""}, {"sla_state": "warned", "sla_due_at": due}

    try:
        await service.change(incident_id, ACTOR, "sla_warning", apply)
    except service.NoChange:
        return False
    return True


# No retry limit: the chain must outlive a long database or broker outage.
@chain(SWEEPER, SWEEP_EVERY_S)
@task(queue="periodic", max_retries=None, min_backoff=1_000, max_backoff=60_000)
async def sweep_periodically() -> None:
    """Sweep once per SWEEP_EVERY_S across the cluster (see `ioc_core.tasks.periodic`)."""
    if not await claim_period(SWEEPER, SWEEP_EVERY_S, sweep_periodically):
        return
    try:
        await sweep()
    except Exception:  # not retried: the next period's sweep tries again
        log.exception("sla: periodic sweep failed")


def start_sweeper() -> None:
    """Safe on every process start: a chain started while another runs ends at its first run."""
    sweep_periodically.send()
