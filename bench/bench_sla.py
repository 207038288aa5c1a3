"""The SLA sweep over the open incidents, and sending tasks through the platform.

Sweep: once to catch up with the due times passed since the data was generated (not timed),
then the steady state (nothing due: what almost every minute's sweep is), then a batch: BATCH
running incidents made due a minute ago and swept (each escalated through `service.change`:
lock, timeline, escalation, outbox, dispatch). The batch changes those incidents for good; the
run's database is thrown away after the run.

Dispatch: N domain events emitted in one transaction, then `outbox.dispatch` of them (what
every change does after its commit: each sent through the platform's task on its broker, then
marked sent), against a bare dramatiq actor's `send` of N messages on the same broker, in turns.
"""

from __future__ import annotations

import datetime as dt
import time
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
    count = 200 if ctx.quick else 2_000
    rounds = 2 if ctx.quick else 3
    bare = dramatiq.Actor(
        _noop,
        broker=broker,
        actor_name="bench_raw.noop",
        queue_name="bench_raw",
        priority=0,
        options={},
    )
    ours, theirs = Samples(), Samples()
    for _ in range(rounds):
        async with write_transaction():
            ids = [await outbox.emit(TOPIC, {"n": n}) for n in range(count)]
        elapsed, sent = await timed(lambda ids=ids: outbox.dispatch(ids))
        if sent != count:
            raise RuntimeError(f"outbox.dispatch sent {sent} of {count} events")
        ours.values.append(elapsed)
        started = time.perf_counter()
        for n in range(count):
            bare.send(n)
        theirs.values.append(time.perf_counter() - started)
    platform_rate = count / ours.percentile(50)
    raw_rate = count / theirs.percentile(50)
    ratio = theirs.percentile(50) and ours.percentile(50) / theirs.percentile(50)
    broker_name = (
        "embedded" if ctx.broker_url.startswith("embedded") else ctx.broker_url.split(":")[0]
    )
    return [
        Measure(
            f"dispatch: outbox events sent ({broker_name} broker)",
            ctx.backend,
            platform_rate,
            "msg/s",
            baseline=raw_rate,
            target=f"≥ {1 / MAX_DISPATCH_RATIO:.2f}x raw (time ≤ {MAX_DISPATCH_RATIO}x)",
            passed=ratio <= MAX_DISPATCH_RATIO,
        )
    ]


async def run(ctx: Context) -> list[Measure]:
    async with platform(ctx) as runtime:
        measures: list[Any] = await sweep_measures(ctx)
        measures += await dispatch_measures(ctx, runtime.broker)
    return measures
