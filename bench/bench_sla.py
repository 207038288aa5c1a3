"""The SLA sweep over the open incidents, and sending tasks through the platform.

Sweep: once to catch up with the due times passed since the data was generated (not timed),
then the steady state (nothing due: what almost every minute's sweep is), then a batch: 50
(quick: 10) running incidents made due a minute ago and swept (each escalated through
`service.change`: lock, timeline, escalation, outbox, dispatch). The batch changes those
incidents for good; the run's database is thrown away after the run.

Dispatch: N domain events emitted in one transaction, then sent three ways in turns, slice by
slice, on the same broker: `outbox.dispatch` (what every change does after its commit: the
events sent through the platform's task from one worker thread, then marked sent in one
statement),
`Task.send` of the platform's task wrapper (its actor, with the platform's middleware), and a
bare dramatiq actor's `send`, the raw baseline of both.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dramatiq

from bench.harness import Context, Measure
from bench.inprocess import platform
from bench.timing import Samples, timed
from ioc_core.db.transactions import write_transaction
from ioc_core.incidents import outbox
from ioc_core.incidents.tables import Incident
from ioc_core.sla.sweep import RUNNING, sweep

MAX_SWEEP_S = 1.0
MAX_DISPATCH_RATIO = 1.25
TOPIC = "bench.dispatch"
SLICE = 50
RAW_ACTOR = "bench_raw.noop"


async def make_due(count: int, now: dt.datetime) -> int:
    """`count` running, unwarned incidents with a department, due a minute ago."""
    rows = await (
        Incident.select(Incident.id)
        .where(
            Incident.status.is_in(list(RUNNING)),
            Incident.sla_state == "",
            Incident.sla_due_at > now,
            Incident.department.is_not_null(),
        )
        .order_by(Incident.id)
        .limit(count)
    )
    ids = [r["id"] for r in rows]
    if ids:
        await Incident.update({Incident.sla_due_at: now - dt.timedelta(minutes=1)}).where(
            Incident.id.is_in(ids)
        )
    return len(ids)


async def sweep_measures(ctx: Context) -> list[Measure]:
    batch = 10 if ctx.quick else 50
    steady_runs = 3 if ctx.quick else 5
    await sweep()  # catch up: due times passed since the data was generated
    steady = Samples()
    for _ in range(steady_runs):
        elapsed, result = await timed(sweep)
        steady.values.append(elapsed)
    made = await make_due(batch, dt.datetime.now(dt.UTC))
    elapsed, result = await timed(sweep)
    acted = result.escalated + result.breached
    if acted < made:
        raise RuntimeError(f"the sweep acted on {acted} of the {made} incidents made due")
    return [
        Measure(
            "SLA sweep, nothing due (p50)",
            ctx.backend,
            steady.percentile(50),
            "s",
            target=f"≤ {MAX_SWEEP_S:g} s",
            passed=steady.percentile(50) <= MAX_SWEEP_S,
        ),
        Measure(
            f"SLA sweep, {acted} incidents due",
            ctx.backend,
            elapsed,
            "s",
            target=f"≤ {MAX_SWEEP_S:g} s",
            passed=elapsed <= MAX_SWEEP_S,
        ),
    ]


def _noop(n: int) -> None:
    """The bare actor's body; no worker runs in the benchmark."""


async def dispatch_measures(ctx: Context, broker: dramatiq.Broker) -> list[Measure]:
    count = 300 if ctx.quick else 2_000
    bare = (
        broker.get_actor(RAW_ACTOR)
        if RAW_ACTOR in broker.get_declared_actors()
        else dramatiq.Actor(
            _noop,
            broker=broker,
            actor_name=RAW_ACTOR,
            queue_name="bench_raw",
            priority=0,
            options={},
        )
    )
    async with write_transaction():
        ids = [await outbox.emit(TOPIC, {"n": n}) for n in range(count)]

    async def through_outbox(part: list[int]) -> None:
        sent = await outbox.dispatch(part)
        if sent != len(part):
            raise RuntimeError(f"outbox.dispatch sent {sent} of {len(part)} events")

    async def through_task(part: list[int]) -> None:
        for event_id in part:
            outbox.deliver.send(event_id)

    async def bare_send(part: list[int]) -> None:
        for n in part:
            bare.send(n)

    sides = (through_outbox, through_task, bare_send)
    spent = [0.0, 0.0, 0.0]
    # Small slices in turns, the order rotating: an embedded broker syncs its file on every
    # message, and how long a sync takes swings with what else the disk is doing.
    for turn, start in enumerate(range(0, count, SLICE)):
        part = ids[start : start + SLICE]
        for k in range(len(sides)):
            side = (turn + k) % len(sides)
            elapsed, _ = await timed(lambda side=side, part=part: sides[side](part))
            spent[side] += elapsed
    ours, task, theirs = spent
    broker_name = ctx.broker_url.split(":")[0]
    target = f"≥ {1 / MAX_DISPATCH_RATIO:.2f}x raw (time ≤ {MAX_DISPATCH_RATIO}x)"
    return [
        Measure(
            f"dispatch: {count:,} outbox events sent ({broker_name} broker)",
            ctx.backend,
            count / ours,
            "msg/s",
            baseline=count / theirs,
            target=target,
            passed=ours / theirs <= MAX_DISPATCH_RATIO,
        ),
        Measure(
            f"dispatch: {count:,} Task.send ({broker_name} broker)",
            ctx.backend,
            count / task,
            "msg/s",
            baseline=count / theirs,
            target=target,
            passed=task / theirs <= MAX_DISPATCH_RATIO,
        ),
    ]


async def run(ctx: Context) -> list[Measure]:
    async with platform(ctx) as runtime:
        measures: list[Any] = await sweep_measures(ctx)
        measures += await dispatch_measures(ctx, runtime.broker)
    return measures
