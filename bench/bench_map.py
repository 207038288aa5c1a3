"""The operations map: what one view of the map costs at the city, district and street zoom.

For each zoom, several views (boxes the size of a 1280 by 800 pixel map) placed at random
around Phan Thiết's centre, the same for a seed. Each view is asked three ways, in turns:
- the platform's function the map calls (`spatial.clustered_counts` below the map's cluster
  zoom, `spatial.in_bbox` with the map's marker limit from it on);
- the same answer by hand-written SQL on a bare driver connection (asyncpg on PostGIS: `&&`
  on the GiST index, then the exact box on the coordinates, grouped by grid cell; sqlite3 on
  SQLite: the R*Tree join, the exact box, grouped in SQL);
- `GET /api/incidents.geojson?bbox=…&zoom=…` through the whole app in this process (session,
  guard, visibility, GeoJSON), signed in as the demo's administrator.
The function's target is against the raw SQL; the endpoint's, an absolute time (a map view
answers within it), with its ratio to the raw SQL for information.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.testing import AsyncTestClient

from bench.harness import Context, Measure
from bench.inprocess import Raw, platform, raw
from bench.timing import Samples, alternate
from ioc_core.geo import spatial
from ioc_core.incidents.operations_map import CLUSTER_BELOW_ZOOM, MAX_POINTS
from ioc_core.web.app import create_app

ZOOMS = {12: "city", 14: "district", 16: "street"}
CENTRE = (108.100, 10.933)  # lon, lat
# A map of this many pixels; a web-map tile is 256 pixels wide.
VIEW_PX = (1280, 800)
TILE_PX = 256
# How far from the centre a view's centre may fall, in degrees (the city is ~0.27° wide).
SPREAD = (0.06, 0.03)
MAX_RATIO = 1.5
MAX_P50_MS = {"postgres": 50.0, "sqlite": 100.0}
# The demo's administrator (plugins/field_reports/demo.py): sees every incident.
ADMIN = ("admin", "PhanThiet-demo-2026")

Box = tuple[float, float, float, float]


def view(lon: float, lat: float, zoom: int) -> Box:
    """The box a VIEW_PX map centred on (lon, lat) shows at `zoom` (Web Mercator)."""
    degrees_per_px = 360.0 / (TILE_PX * 2**zoom)
    half_w = VIEW_PX[0] / 2 * degrees_per_px
    half_h = VIEW_PX[1] / 2 * degrees_per_px * math.cos(math.radians(lat))
    return lon - half_w, lat - half_h, lon + half_w, lat + half_h


def views(zoom: int, count: int, seed: int) -> list[Box]:
    rng = random.Random(seed * 100 + zoom)
    return [
        view(
            CENTRE[0] + rng.uniform(-SPREAD[0], SPREAD[0]),
            CENTRE[1] + rng.uniform(-SPREAD[1], SPREAD[1]),
            zoom,
        )
        for _ in range(count)
    ]


# --- Raw SQL -----------------------------------------------------------------------------------

PG_BOX = (
    "location && ST_MakeEnvelope($1, $2, $3, $4, 4326)"
    " AND ST_X(location) BETWEEN $1 AND $3 AND ST_Y(location) BETWEEN $2 AND $4"
)
PG_CLUSTERS = (
    "SELECT floor(ST_X(location) / $5) AS gx, floor(ST_Y(location) / $5) AS gy, count(*),"
    " avg(ST_X(location)), avg(ST_Y(location))"
    f" FROM incident WHERE {PG_BOX} GROUP BY gx, gy ORDER BY gx, gy"
)
PG_IDS = f"SELECT id FROM incident WHERE {PG_BOX} ORDER BY id DESC LIMIT $5"
LITE_BOX = (
    "FROM incident_rtree r JOIN incident i ON i.id = r.id"
    " WHERE r.max_lon >= ?1 AND r.min_lon <= ?3 AND r.max_lat >= ?2 AND r.min_lat <= ?4"
    " AND i.lon BETWEEN ?1 AND ?3 AND i.lat BETWEEN ?2 AND ?4"
)
LITE_CLUSTERS = (
    "SELECT floor(i.lon / ?5) AS gx, floor(i.lat / ?5) AS gy, count(*), avg(i.lon), avg(i.lat)"
    f" {LITE_BOX} GROUP BY gx, gy ORDER BY gx, gy"
)
LITE_IDS = f"SELECT i.id {LITE_BOX} ORDER BY i.id DESC LIMIT ?5"


def raw_query(conn: Raw, box: Box, zoom: int) -> Callable[[], Awaitable[list[tuple[Any, ...]]]]:
    postgres = conn.pg is not None
    if zoom < CLUSTER_BELOW_ZOOM:
        sql, extra = (PG_CLUSTERS if postgres else LITE_CLUSTERS), spatial.cell_size(zoom)
    else:
        sql, extra = (PG_IDS if postgres else LITE_IDS), MAX_POINTS
    return lambda: conn.fetch(sql, *box, extra)


def platform_query(box: Box, zoom: int) -> Callable[[], Awaitable[Any]]:
    if zoom < CLUSTER_BELOW_ZOOM:
        return lambda: spatial.clustered_counts(*box, zoom)
    return lambda: spatial.in_bbox(*box, limit=MAX_POINTS)


def same_answer(platform_rows: list[Any], raw_rows: list[tuple[Any, ...]], zoom: int) -> bool:
    """Checked once per view: a faster answer to another question would prove nothing."""
    if zoom < CLUSTER_BELOW_ZOOM:
        counts = [c["count"] for c in platform_rows]
        return counts == [int(r[2]) for r in raw_rows]
    return list(platform_rows) == [r[0] for r in raw_rows]


# --- The endpoint ------------------------------------------------------------------------------


async def sign_in(client: AsyncTestClient[Any]) -> None:
    page = await client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError("no CSRF token on /login")
    form = {"username": ADMIN[0], "password": ADMIN[1], "_csrf_token": token.group(1)}
    answer = await client.post("/login", data=form, follow_redirects=False)
    if answer.status_code != 303:
        raise RuntimeError(f"signing in as {ADMIN[0]} answered {answer.status_code}")


def endpoint_query(client: AsyncTestClient[Any], box: Box, zoom: int) -> Callable[[], Any]:
    params = {"bbox": ",".join(f"{v:.6f}" for v in box), "zoom": str(zoom)}

    async def call() -> Any:
        answer = await client.get("/api/incidents.geojson", params=params)
        if answer.status_code != 200:
            raise RuntimeError(f"map endpoint answered {answer.status_code}: {answer.text[:200]}")
        return answer.json()

    return call


# --- The benchmark -----------------------------------------------------------------------------


async def run(ctx: Context) -> list[Measure]:
    boxes = 4 if ctx.quick else 8
    runs = 2 if ctx.quick else 5
    # Per zoom: past this, no further view is started (at least two are measured).
    budget_s = ctx.seconds(2.0, 40.0)
    measures: list[Measure] = []
    async with platform(ctx) as runtime, raw(ctx) as conn:
        app = create_app(runtime=runtime)
        async with AsyncTestClient(app=app) as client:
            await sign_in(client)
            for zoom, label in ZOOMS.items():
                fn, bare, web = Samples(), Samples(), Samples()
                started = time.perf_counter()
                for n, box in enumerate(views(zoom, boxes, ctx.seed)):
                    if n >= 2 and time.perf_counter() - started > budget_s:
                        break
                    ours, theirs = platform_query(box, zoom), raw_query(conn, box, zoom)
                    if not same_answer(await ours(), await theirs(), zoom):
                        raise RuntimeError(f"zoom {zoom}, box {box}: platform and raw SQL differ")
                    got = await alternate([ours, theirs, endpoint_query(client, box, zoom)], runs)
                    for total, part in zip((fn, bare, web), got, strict=True):
                        total.values += part.values
                measures += _measures(ctx.backend, zoom, label, fn, bare, web)
    return measures


def _measures(
    backend: str, zoom: int, label: str, fn: Samples, bare: Samples, web: Samples
) -> list[Measure]:
    limit = MAX_P50_MS[backend]
    call = "clustered_counts" if zoom < CLUSTER_BELOW_ZOOM else f"in_bbox ≤ {MAX_POINTS:,}"
    name = f"map z{zoom} ({label})"
    p50, raw50 = fn.ms(50), bare.ms(50)
    return [
        Measure(
            f"{name}: {call} p50",
            backend,
            p50,
            "ms",
            baseline=raw50,
            target=f"≤ {MAX_RATIO}x raw, ≤ {limit:.0f} ms",
            passed=p50 <= MAX_RATIO * raw50 and p50 <= limit,
        ),
        Measure(f"{name}: {call} p95", backend, fn.ms(95), "ms", baseline=bare.ms(95)),
        Measure(
            f"{name}: GET incidents.geojson p50",
            backend,
            web.ms(50),
            "ms",
            baseline=raw50,
            target=f"≤ {limit:.0f} ms",
            passed=web.ms(50) <= limit,
        ),
        Measure(f"{name}: GET incidents.geojson p95", backend, web.ms(95), "ms", bare.ms(95)),
    ]
