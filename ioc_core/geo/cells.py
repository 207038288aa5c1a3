"""Incident counts per grid cell, kept by the database: what the operations map's clusters read
when nothing narrows the incidents shown.

Counting the points of a view costs a read of every one of them: with a million incidents, a
city view took 5 s on PostGIS (bench/bench_map.py). The `incident_cell` table holds, for each
cell of `cell_size(BASE_ZOOM)` degrees (about 600 m) that ever held an incident, how many it
holds and the sums of their coordinates; triggers keep it in step with `incident.lon`/`lat` on
both backends (migration 2026-11-30T05:10). A cell of a coarser zoom is exactly 2^k base
cells: sizes halve from zoom to zoom and the grids share their origin at 0°, 0°, so
floor(lon / size(z)) = floor(floor(lon / size(BASE_ZOOM)) / 2^(BASE_ZOOM - z)) and a view
reads a few hundred rows whatever the number of incidents.

Unlike `spatial.clustered_counts`, a cell counts all its incidents, also those just beyond the
view's edge: a cluster's count then does not change as the map pans. Without a filter only: a
reader's department scope or the map's filters go through `spatial.clustered_counts`.
"""

from __future__ import annotations

import math
from typing import Any

from piccolo.querystring import QueryString

from ioc_core.geo.spatial import MEAN_DECIMALS, cell_size, check_bbox, run_query, sqlite_floor

BASE_ZOOM = 14
BASE_SIZE = cell_size(BASE_ZOOM)


def floor_cell(expression: str, postgres: bool) -> str:
    """SQL for floor(expression / BASE_SIZE) as an integer: the same IEEE division as Python's."""
    if postgres:
        return f"floor(({expression}) / {BASE_SIZE!r}::float8)::bigint"
    return sqlite_floor(f"({expression}) / {BASE_SIZE!r}")


def rebuild_statements(postgres: bool) -> list[str]:
    """Recount every cell from the incidents: for rows written while the triggers were off
    (a migration's existing rows, a bulk load)."""
    gx, gy = floor_cell("lon", postgres), floor_cell("lat", postgres)
    return [
        "DELETE FROM incident_cell",
        "INSERT INTO incident_cell (gx, gy, n, sum_lon, sum_lat) "
        f"SELECT {gx}, {gy}, COUNT(*), SUM(lon), SUM(lat) FROM incident "
        f"WHERE lon IS NOT NULL AND lat IS NOT NULL GROUP BY {gx}, {gy}",
    ]


def _div(column: str, factor: int) -> str:
    """Floor division of an integer column by a power of two (integer division truncates)."""
    if factor == 1:
        return column
    negative = f"-((-{column} - 1) / {factor}) - 1"
    return f"(CASE WHEN {column} >= 0 THEN {column} / {factor} ELSE {negative} END)"


async def view_counts(
    min_lon: float, min_lat: float, max_lon: float, max_lat: float, zoom: int
) -> list[dict[str, Any]]:
    """Every incident of each cell of `cell_size(zoom)` the box touches: one `{"lon", "lat",
    "count"}` per non-empty cell, at the mean of its incidents (rounded to MEAN_DECIMALS),
    cells west to east, then south to north, as `spatial.clustered_counts` orders them."""
    check_bbox(min_lon, min_lat, max_lon, max_lat)
    if not 0 <= zoom <= BASE_ZOOM:
        raise ValueError(f"cell counts go from zoom 0 to {BASE_ZOOM}, not {zoom}")
    size = cell_size(zoom)
    factor = 2 ** (BASE_ZOOM - zoom)
    # The box's cells at this zoom, then the base cells they are made of.
    x0, x1 = math.floor(min_lon / size), math.floor(max_lon / size)
    y0, y1 = math.floor(min_lat / size), math.floor(max_lat / size)
    query = QueryString(
        "SELECT zx, zy, CAST(SUM(n) AS BIGINT) AS count, SUM(sum_lon) AS sum_lon,"
        " SUM(sum_lat) AS sum_lat FROM ("
        f"  SELECT {_div('gx', factor)} AS zx, {_div('gy', factor)} AS zy, n, sum_lon, sum_lat"
        "  FROM incident_cell WHERE gx BETWEEN {} AND {} AND gy BETWEEN {} AND {}"
        ") AS cells GROUP BY zx, zy HAVING SUM(n) > 0 ORDER BY zx, zy",
        x0 * factor,
        (x1 + 1) * factor - 1,
        y0 * factor,
        (y1 + 1) * factor - 1,
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
