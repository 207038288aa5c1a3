"""Leadership KPIs over the whole city: `kpis.leadership_kpis` for the last 30 and 365 days,
against the very SQL statements it runs, sent raw on a bare driver connection in turns with it
(the ratio is what the platform adds: building the statements, Piccolo, assembling the lines,
and on SQLite the medians, which it takes in Python from the durations the SQL reads).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from bench.harness import Context, Measure
from bench.inprocess import Raw, platform, raw
from bench.timing import alternate
from ioc_core.geo.spatial import is_postgres
from ioc_core.incidents import kpis

PERIODS_DAYS = (30, 365)
MAX_MS = 200.0


def raw_kpis(conn: Raw, since: dt.datetime, until: dt.datetime) -> Callable[[], Awaitable[Any]]:
    """The statements `leadership_kpis` sends for every department, compiled once."""
    engine = "postgres" if is_postgres() else "sqlite"
    statements = [
        q.compile_string(engine_type=engine)
        for q in kpis.statements(since, until, departments=None)
    ]

    async def call() -> list[list[tuple[Any, ...]]]:
        return [await conn.fetch(sql, *args) for sql, args in statements]

    return call


async def run(ctx: Context) -> list[Measure]:
    runs = 3 if ctx.quick else 7
    until = dt.datetime.now(dt.UTC)
    measures = []
    async with platform(ctx), raw(ctx) as conn:
        for days in PERIODS_DAYS:
            since = until - dt.timedelta(days=days)
            ours, theirs = await alternate(
                [lambda s=since: kpis.leadership_kpis(s, until), raw_kpis(conn, since, until)],
                runs,
                budget_s=ctx.seconds(10.0, 60.0),
            )
            p50 = ours.ms(50)
            measures.append(
                Measure(
                    f"KPIs, last {days} days, city-wide (p50)",
                    ctx.backend,
                    p50,
                    "ms",
                    baseline=theirs.ms(50),
                    target=f"≤ {MAX_MS:.0f} ms",
                    passed=p50 <= MAX_MS,
                )
            )
    return measures
