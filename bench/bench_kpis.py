"""Leadership KPIs over the whole city, for the last 30 and 365 days, against the raw SQL that
computes them: the statements `kpis.leadership_kpis` sends, on a bare driver connection, at the
server's default settings (as the page ran them for every view before the snapshots).

- "page read": what a leader's view of `/kpis` costs now, `kpi_snapshots.kpis_for` with the
  snapshot of the scope and period present and fresh (one row read, its JSON parsed). The
  target is on this line.
- "refresh": the full computation a snapshot refresh runs in a worker
  (`kpi_snapshots.refresh_kpis`: `leadership_kpis`, on PostgreSQL with its sort memory raised,
  then the snapshot stored), for information: what a reader waits for when no snapshot exists
  yet, and what the workers spend at most once per age limit per scope and period read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from bench.harness import Context, Measure
from bench.inprocess import Raw, platform, raw
from bench.timing import alternate
from ioc_core.geo.spatial import is_postgres
from ioc_core.incidents import kpi_snapshots, kpis

PERIODS_DAYS = (30, 365)
MAX_MS = 200.0


def raw_kpis(conn: Raw, days: int) -> Callable[[], Awaitable[Any]]:
    """The statements `leadership_kpis` sends for every department over the last `days` days,
    compiled once."""
    engine = "postgres" if is_postgres() else "sqlite"
    until = dt.datetime.now(dt.UTC)
    since = until - dt.timedelta(days=days)
    statements = [
        q.compile_string(engine_type=engine)
        for q in kpis.statements(since, until, departments=None)
    ]

    async def call() -> list[list[tuple[Any, ...]]]:
        return [await conn.fetch(sql, *args) for sql, args in statements]

    return call


async def run(ctx: Context) -> list[Measure]:
    runs = 3 if ctx.quick else 7
    reads = 10 if ctx.quick else 50
    measures = []
    async with platform(ctx), raw(ctx) as conn:
        for days in PERIODS_DAYS:
            refreshed, theirs = await alternate(
                [lambda d=days: kpi_snapshots.refresh_kpis(d, None), raw_kpis(conn, days)],
                runs,
                budget_s=ctx.seconds(10.0, 60.0),
            )
            # The refreshes just stored a fresh snapshot: every read below is served from it.
            [read] = await alternate([lambda d=days: kpi_snapshots.kpis_for(d, None)], reads)
            p50 = read.ms(50)
            measures.append(
                Measure(
                    f"KPIs page read (snapshot), last {days} days, city-wide (p50)",
                    ctx.backend,
                    p50,
                    "ms",
                    baseline=theirs.ms(50),
                    target=f"≤ {MAX_MS:.0f} ms",
                    passed=p50 <= MAX_MS,
                )
            )
            measures.append(
                Measure(
                    f"KPIs refresh (full computation), last {days} days, city-wide (p50)",
                    ctx.backend,
                    refreshed.ms(50),
                    "ms",
                    baseline=theirs.ms(50),
                )
            )
    return measures
