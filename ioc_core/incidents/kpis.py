"""Leadership KPIs: the incidents open and overdue now, and how those finished in a period were
resolved (how many, the median time, the share within their due time), city-wide, by ward and
by category, over the incidents the reader may see.

The open counts come from the (area, category) groups and are summed up. Medians do not add
up: on PostgreSQL one statement computes the resolution figures of every grouping at once
(GROUPING SETS with `percentile_cont`, one scan and one sort per grouping); SQLite has neither,
so there a median is the mean of the one or two middle rows of a window ordered by duration,
one statement per grouping. Both answer the same figures. Only `resolved` and `closed` count
as resolved: a rejected or duplicate report was not resolved, and its `closed_at` says nothing
about the city's speed.

Two covering indexes (migration 2026-11-30T05:00) let both statements read the index alone:
(status, sla_state, sla_due_at, …) for the open ones, (closed_at, status, created_at, …) for
the resolved.

The medians still sort every duration of the period: on 1,000,000 incidents 0.25 s (30 days)
to 1.7 s (365 days) on PostgreSQL, 0.5 s to 4.8 s on SQLite. So the page does not call this
per view: it reads the figures computed beforehand per reader scope and period
(`kpi_snapshots`), and this runs when a snapshot is missing or refreshed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from piccolo.engine import engine_finder
from piccolo.engine.base import Engine
from piccolo.querystring import QueryString

from ioc_core.geo.spatial import is_postgres, run_query
from ioc_core.incidents.workflow import OPEN_STATUSES

RESOLVED = ("resolved", "closed")
# The periods a reader picks from, in days up to now.
PERIODS = (7, 30, 90, 365)
# The resolution figures' groupings: by ward, by category, city-wide.
GROUPINGS = ("area", "category", None)
# PostgreSQL's sort memory for the resolved figures' statement alone (SET LOCAL): at the
# default 4 MB the durations of 30 days (75,000 on 1 M incidents) already went to disk, and
# those of 365 days (911,000) took 81 MB in memory against 118 MB of temporary files written
# and read back. Memory is taken as needed, up to this, and only while the statement runs.
PG_SORT_MEMORY = "128MB"


@dataclass(frozen=True)
class KpiLine:
    open: int = 0
    overdue: int = 0
    resolved: int = 0
    median_hours: float | None = None
    # Of the resolved ones that had a due time; None when none had.
    on_time_percent: float | None = None


@dataclass(frozen=True)
class Kpis:
    since: dt.datetime
    until: dt.datetime
    total: KpiLine
    # Keyed by area or category id; None holds the incidents with no ward or no category.
    by_ward: dict[int | None, KpiLine]
    by_category: dict[int | None, KpiLine]


async def leadership_kpis(
    since: dt.datetime, until: dt.datetime, departments: list[int] | None = None
) -> Kpis:
    """The KPIs of incidents resolved in [since, until) and open at `until`.

    `departments`: the departments whose incidents count, plus those no department owns (as
    `visibility.department_scope` gives them); None counts every incident.
    """
    open_query, *resolved_queries = statements(since, until, departments)
    opened = await run_query(open_query)
    if is_postgres():
        async with _engine().transaction():
            await run_query(QueryString(f"SET LOCAL work_mem = '{PG_SORT_MEMORY}'"))
            resolved = _by_grouping(await run_query(resolved_queries[0]))
    else:
        resolved = {
            grouping: await run_query(query)
            for grouping, query in zip(GROUPINGS, resolved_queries, strict=True)
        }
    by_ward = _lines(opened, "area", resolved["area"])
    by_category = _lines(opened, "category", resolved["category"])
    total = _lines(opened, None, resolved[None]).get(None, KpiLine())
    return Kpis(since, until, total, by_ward, by_category)


def statements(
    since: dt.datetime, until: dt.datetime, departments: list[int] | None = None
) -> list[QueryString]:
    """What `leadership_kpis` runs: the open counts, then the resolved figures (on SQLite, one
    statement per grouping in GROUPINGS)."""
    scope = _scope(departments)
    if is_postgres():
        return [_open_query(until, scope), _pg_resolved_query(since, until, scope)]
    resolved = [_sqlite_resolved_query(grouping, since, until, scope) for grouping in GROUPINGS]
    return [_open_query(until, scope), *resolved]


def _engine() -> Engine:
    engine = engine_finder()
    assert engine is not None
    return engine


def _scope(departments: list[int] | None) -> QueryString:
    if departments is None:
        return QueryString("")
    if not departments:
        return QueryString(" AND department IS NULL")
    marks = ", ".join("{}" for _ in departments)
    return QueryString(f" AND (department IN ({marks}) OR department IS NULL)", *departments)


def _in(values: tuple[str, ...]) -> QueryString:
    return QueryString(f"({', '.join('{}' for _ in values)})", *values)


def _open_query(now: dt.datetime, scope: QueryString) -> QueryString:
    # Waiting on the citizen stops the clock: such an incident is never overdue.
    return QueryString(
        "SELECT area, category, COUNT(*) AS open, "
        "SUM(CASE WHEN status <> 'waiting' AND sla_due_at <= {} THEN 1 ELSE 0 END) AS overdue "
        "FROM incident WHERE status IN {}{} GROUP BY area, category",
        now,
        _in(OPEN_STATUSES),
        scope,
    )


def _sqlite_resolved_query(
    grouping: str | None, since: dt.datetime, until: dt.datetime, scope: QueryString
) -> QueryString:
    """SQLite's resolution figures of one grouping."""
    group = grouping or "NULL"
    seconds = "(julianday(closed_at) - julianday(created_at)) * 86400.0"
    return QueryString(
        "WITH done AS ("
        f"  SELECT {group} AS key, {seconds} AS seconds,"
        "   CASE WHEN sla_due_at IS NULL THEN NULL"
        "        WHEN closed_at <= sla_due_at THEN 1 ELSE 0 END AS on_time"
        "  FROM incident"
        # `+status`: without statistics SQLite picked the index led by status and read every
        # resolved incident of all time (1.2 s on 1 M); the period's closed_at range is small.
        "  WHERE +status IN {} AND closed_at >= {} AND closed_at < {}{}"
        "), ranked AS ("
        "  SELECT key, seconds, on_time,"
        "   ROW_NUMBER() OVER (PARTITION BY key ORDER BY seconds) AS n,"
        "   COUNT(*) OVER (PARTITION BY key) AS resolved"
        "  FROM done"
        ") "
        "SELECT key, MAX(resolved) AS resolved,"
        " AVG(CASE WHEN n IN ((resolved + 1) / 2, (resolved + 2) / 2) THEN seconds END)"
        "  AS median_seconds,"
        " SUM(on_time) AS on_time, COUNT(on_time) AS with_due "
        "FROM ranked GROUP BY key",
        _in(RESOLVED),
        since,
        until,
        scope,
    )


# GROUPING(area, category) of each grouping set: a bit is set for a column not grouped on.
_SETS = {1: "area", 2: "category", 3: None}


def _pg_resolved_query(since: dt.datetime, until: dt.datetime, scope: QueryString) -> QueryString:
    # date_part gives float8: sorting floats is several times faster than EXTRACT's numeric.
    return QueryString(
        "SELECT GROUPING(area, category) AS grouping, area, category, COUNT(*) AS resolved,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median_seconds,"
        " SUM(on_time) AS on_time, COUNT(on_time) AS with_due "
        "FROM ("
        "  SELECT area, category, date_part('epoch', closed_at - created_at) AS seconds,"
        "   CASE WHEN sla_due_at IS NULL THEN NULL"
        "        WHEN closed_at <= sla_due_at THEN 1 ELSE 0 END AS on_time"
        "  FROM incident"
        "  WHERE status IN {} AND closed_at >= {} AND closed_at < {}{}"
        ") AS done "
        "GROUP BY GROUPING SETS ((area), (category), ())",
        _in(RESOLVED),
        since,
        until,
        scope,
    )


def _by_grouping(rows: list[dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    """The GROUPING SETS rows as the per-grouping rows of `_sqlite_resolved_query`, keyed alike."""
    found: dict[str | None, list[dict[str, Any]]] = {grouping: [] for grouping in GROUPINGS}
    for row in rows:
        grouping = _SETS[row["grouping"]]
        key = row[grouping] if grouping else None
        if grouping is None and not row["resolved"]:
            continue  # the empty grouping set answers one row even with no incident
        found[grouping].append(row | {"key": key})
    return found


def _lines(
    opened: list[dict[str, Any]], grouping: str | None, resolved: list[dict[str, Any]]
) -> dict[int | None, KpiLine]:
    counts: dict[int | None, tuple[int, int]] = {}
    for row in opened:
        key = row[grouping] if grouping else None
        open_, overdue = counts.get(key, (0, 0))
        counts[key] = (open_ + int(row["open"]), overdue + int(row["overdue"] or 0))
    finished = {row["key"]: row for row in resolved}
    lines = {}
    for key in counts.keys() | finished.keys():
        open_, overdue = counts.get(key, (0, 0))
        row = finished.get(key)
        if row is None:
            lines[key] = KpiLine(open_, overdue)
            continue
        with_due = int(row["with_due"])
        lines[key] = KpiLine(
            open_,
            overdue,
            int(row["resolved"]),
            float(row["median_seconds"]) / 3600,
            100.0 * int(row["on_time"] or 0) / with_due if with_due else None,
        )
    return lines
