"""Incident counts per grid cell, kept by the database: what the operations map's clusters read,
with or without the map's filters.

Counting the points of a view costs a read of every one of them: with a million incidents, a
city view took 5 s on PostGIS (bench/bench_map.py). Two tables, kept in step with `incident` by
triggers on both backends, hold for each cell of `cell_size(BASE_ZOOM)` degrees (about 600 m)
that ever held an incident how many it holds and the sums of their coordinates:
- `incident_cell` (migration 2026-11-30T05:10): one row per cell, for a view without a filter;
- `incident_cell_group` (migration 2026-11-30T06:10): one row per cell and group of incidents
  alike in status, department, category and ward (`GROUP_COLUMNS`), for a filtered view: it
  sums the rows of the groups the filter keeps. A department follows from the category and the
  ward (routing), and a cell lies nearly always in one ward, so on bench/generate.py's
  1,000,000 incidents this is 26,000 rows for 521 cells. Summing them all (a city view) costs
  ~13 ms on PostGIS where the 521 rows of `incident_cell` cost ~1 ms: why both are kept.

A cell of a coarser zoom is exactly 2^k base cells: sizes halve from zoom to zoom and the grids
share their origin at 0°, 0°, so floor(lon / size(z)) = floor(floor(lon / size(BASE_ZOOM)) /
2^(BASE_ZOOM - z)) and a view reads its cells' rows whatever the number of incidents.

Unlike `spatial.clustered_counts`, a cell counts all its incidents, also those just beyond the
view's edge: a cluster's count then does not change as the map pans.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from piccolo.querystring import QueryString

from ioc_core.geo.spatial import MEAN_DECIMALS, cell_size, check_bbox, run_query, sqlite_floor

BASE_ZOOM = 14
BASE_SIZE = cell_size(BASE_ZOOM)
# What `incident_cell_group` writes for a NULL department, category or ward: a primary key
# column cannot be NULL on PostgreSQL, and SQLite's unique index would not match NULL with
# NULL in an upsert. Ids start at 1, so 0 names no row.
NO_ID = 0
# Besides the cell, what a group's incidents share: incident columns, status being text.
GROUP_COLUMNS = ("status", "department", "category", "area")
# What a status code looks like (`workflow.STATUSES`); another string names no status.
STATUS_CODE = re.compile(r"[a-z_]{1,16}")


def floor_cell(expression: str, postgres: bool) -> str:
    """SQL for floor(expression / BASE_SIZE) as an integer: the same IEEE division as Python's."""
    if postgres:
        return f"floor(({expression}) / {BASE_SIZE!r}::float8)::bigint"
    return sqlite_floor(f"({expression}) / {BASE_SIZE!r}")


def group_key(row: str) -> list[str]:
    """SQL for the group columns of incident row `row` (NEW, OLD or a table name), in
    `GROUP_COLUMNS` order, as `incident_cell_group` stores them."""
    return [
        f"{row}.{column}" if column == "status" else f"COALESCE({row}.{column}, {NO_ID})"
        for column in GROUP_COLUMNS
    ]


def rebuild_statements(postgres: bool) -> list[str]:
    """Recount every cell and group from the incidents, and refresh the planner's statistics:
    for rows written while the triggers were off (a bulk load). Both tables must exist
    (migration 2026-11-30T06:10)."""
    gx, gy = floor_cell("incident.lon", postgres), floor_cell("incident.lat", postgres)
    located = "WHERE incident.lon IS NOT NULL AND incident.lat IS NOT NULL"
    key = ", ".join(group_key("incident"))
    return [
        "DELETE FROM incident_cell",
        "INSERT INTO incident_cell (gx, gy, n, sum_lon, sum_lat) "
        f"SELECT {gx}, {gy}, COUNT(*), SUM(lon), SUM(lat) FROM incident {located} "
        f"GROUP BY {gx}, {gy}",
        "DELETE FROM incident_cell_group",
        f"INSERT INTO incident_cell_group (gx, gy, {', '.join(GROUP_COLUMNS)}, n, sum_lon, "
        f"sum_lat) SELECT {gx}, {gy}, {key}, COUNT(*), SUM(lon), SUM(lat) FROM incident "
        f"{located} GROUP BY {gx}, {gy}, {key}",
        # Fresh statistics, or PostgreSQL's planner may not see that a filter's index serves
        # (a city view of the open incidents: 23 ms before, 5 ms after, on 1,000,000).
        "ANALYZE incident_cell",
        "ANALYZE incident_cell_group",
    ]


@dataclass(frozen=True)
class CellFilter:
    """Which incidents a filtered view counts, as data the groups answer: for each dimension
    the values kept (None in `departments`: the incidents no department owns), or None for
    any. An empty set keeps nothing, as does an id below 1 (it names no row) or a status that
    is no status code."""

    statuses: frozenset[str] | None = None
    departments: frozenset[int | None] | None = None
    categories: frozenset[int] | None = None
    areas: frozenset[int] | None = None

    def values(self) -> dict[str, list[Any] | None]:
        """Per group column, the stored values kept (sorted), or None for any."""
        ids = {"department": self.departments, "category": self.categories, "area": self.areas}
        found: dict[str, list[Any] | None] = {
            "status": None
            if self.statuses is None
            else sorted(s for s in self.statuses if STATUS_CODE.fullmatch(s))
        }
        for column, kept in ids.items():
            found[column] = (
                None
                if kept is None
                else sorted({NO_ID if v is None else v for v in kept if v is None or v >= 1})
            )
        return found

    @property
    def narrows(self) -> bool:
        return any(kept is not None for kept in self.values().values())


def _div(column: str, factor: int) -> str:
    """Floor division of an integer column by a power of two (integer division truncates)."""
    if factor == 1:
        return column
    negative = f"-((-{column} - 1) / {factor}) - 1"
    return f"(CASE WHEN {column} >= 0 THEN {column} / {factor} ELSE {negative} END)"


async def view_counts(
    min_lon: float,
    min_lat: float,
    max_lon: float,
    max_lat: float,
    zoom: int,
    *,
    only: CellFilter | None = None,
) -> list[dict[str, Any]]:
    """Every incident (or, with `only`, every one it keeps) of each cell of `cell_size(zoom)`
    the box touches: one `{"lon", "lat", "count"}` per non-empty cell, at the mean of its
    incidents (rounded to MEAN_DECIMALS), cells west to east, then south to north, as
    `spatial.clustered_counts` orders them."""
    check_bbox(min_lon, min_lat, max_lon, max_lat)
    if not 0 <= zoom <= BASE_ZOOM:
        raise ValueError(f"cell counts go from zoom 0 to {BASE_ZOOM}, not {zoom}")
    size = cell_size(zoom)
    factor = 2 ** (BASE_ZOOM - zoom)
    # The box's cells at this zoom, then the base cells they are made of.
    x0, x1 = math.floor(min_lon / size), math.floor(max_lon / size)
    y0, y1 = math.floor(min_lat / size), math.floor(max_lat / size)
    # Values written into the SQL, not bound: PostgreSQL plans a prepared statement for unknown
    # values after its fifth run, and that plan read every group row through the primary key
    # (30 ms for a city view of the open incidents, 3 ms with the values in view). They are
    # integers and status codes (checked), nothing a caller's text can break out of.
    where = (
        f"gx BETWEEN {int(x0 * factor)} AND {int((x1 + 1) * factor - 1)}"
        f" AND gy BETWEEN {int(y0 * factor)} AND {int((y1 + 1) * factor - 1)}"
    )
    table = "incident_cell"
    if only is not None and only.narrows:
        table = "incident_cell_group"
        for column, kept in only.values().items():
            if kept is None:
                continue
            if not kept:
                return []
            values = (f"'{v}'" if column == "status" else str(int(v)) for v in kept)
            where += f" AND {column} IN ({', '.join(values)})"
    query = QueryString(
        "SELECT zx, zy, CAST(SUM(n) AS BIGINT) AS count, SUM(sum_lon) AS sum_lon,"
        " SUM(sum_lat) AS sum_lat FROM ("
        f"  SELECT {_div('gx', factor)} AS zx, {_div('gy', factor)} AS zy, n, sum_lon, sum_lat"
        f"  FROM {table} WHERE {where}"
        ") AS cells GROUP BY zx, zy HAVING SUM(n) > 0 ORDER BY zx, zy"
    )
    rows = await run_query(query)
    return [
        {
            "lon": round(row["sum_lon"] / row["count"], MEAN_DECIMALS),
            "lat": round(row["sum_lat"] / row["count"], MEAN_DECIMALS),
            "count": int(row["count"]),
        }
        for row in rows
    ]
