"""Leadership KPIs: the incidents open and overdue now, and how those finished in a period were
resolved (how many, the median time, the share within their due time), city-wide, by ward and
by category, over the incidents the reader may see.

The same SQL runs on PostgreSQL and SQLite: a median is the mean of the one or two middle rows
of a window ordered by duration, so neither `percentile_cont` (PostgreSQL only) nor fetching
every duration into Python is needed. The open counts come from the (area, category) groups
and are summed up; medians do not add up, so the resolution figures take one query per
grouping. Only `resolved` and `closed` count as resolved: a rejected or duplicate report was
not resolved, and its `closed_at` says nothing about the city's speed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from piccolo.querystring import QueryString

from ioc_core.geo.spatial import is_postgres, run_query
from ioc_core.incidents.workflow import OPEN_STATUSES

RESOLVED = ("resolved", "closed")
# The periods a reader picks from, in days up to now.
PERIODS = (7, 30, 90, 365)


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
    scope = _scope(departments)
    opened = await run_query(_open_query(until, scope))
    resolved = {
        grouping: await run_query(_resolved_query(grouping, since, until, scope))
        for grouping in ("area", "category", None)
    }
    by_ward = _lines(opened, "area", resolved["area"])
    by_category = _lines(opened, "category", resolved["category"])
    total = _lines(opened, None, resolved[None]).get(None, KpiLine())
    return Kpis(since, until, total, by_ward, by_category)


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


def _resolved_query(
    grouping: str | None, since: dt.datetime, until: dt.datetime, scope: QueryString
) -> QueryString:
    group = grouping or "NULL"
    seconds = (
        "EXTRACT(EPOCH FROM closed_at - created_at)"
        if is_postgres()
        else "(julianday(closed_at) - julianday(created_at)) * 86400.0"
    )
    return QueryString(
        "WITH done AS ("
        f"  SELECT {group} AS key, {seconds} AS seconds,"
        "   CASE WHEN sla_due_at IS NULL THEN NULL"
        "        WHEN closed_at <= sla_due_at THEN 1 ELSE 0 END AS on_time"
        "  FROM incident"
        "  WHERE status IN {} AND closed_at >= {} AND closed_at < {}{}"
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
