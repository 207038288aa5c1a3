"""One spatial API over incidents, with a backend per engine type.

    within_radius(lon, lat, metres, *, where=None) -> list[int]        nearest first
    in_bbox(min_lon, min_lat, max_lon, max_lat, *, limit=None, where=None) -> list[int]
    in_area(area_id, *, where=None) -> list[int]
    clustered_counts(min_lon, min_lat, max_lon, max_lat, zoom, *, where=None) -> list[dict]
    nearest(lon, lat, n, *, where=None) -> list[tuple[int, float]]     (id, metres)

PostgreSQL + PostGIS: SQL built with SQLAlchemy Core on tables that mirror Piccolo's (never
created from here), compiled for PostgreSQL and run on Piccolo's own engine, so it joins the
caller's Piccolo transaction and uses its connection pool when one is started.
SQLite: the `incident_rtree` R*Tree (kept by triggers, see the incidents migration of
2026-11-29T22:10) proposes candidates; the exact test runs on the 64-bit `lon`/`lat` columns,
in SQL or with shapely.

Both backends answer the same ids in the same order on the same rows, because they agree on:
- distances on a sphere of PostGIS's mean radius: PostGIS `use_spheroid => false`, haversine in
  Python. Off the WGS 84 ellipsoid by at most ~0.5 %, which a city does not notice, and the
  answers do not depend on the backend;
- boxes and areas include their boundary (BETWEEN, ST_Covers / shapely `covers`);
- ties are broken by id;
- the clustering grid is anchored at 0°, 0° (not at the view), so panning does not move cells.

`where` narrows any query to the incidents a Piccolo filter on `Incident` selects, e.g.
`Incident.status.is_in(["new", "assigned"]) & (Incident.category == 3)` or
`Incident.area == ward_id`; it runs as `incident.id IN (SELECT ...)` on both backends.

The PostGIS backend reads `incident.location`; the SQLite backend reads `incident.lon`/`lat`.
Whoever writes an incident writes both (the incident service does).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import shapely
import sqlalchemy as sa
from geoalchemy2 import Geography, Geometry
from piccolo.columns.combination import And, Combinable, Or, Where
from piccolo.engine import engine_finder
from piccolo.engine.base import Engine
from piccolo.querystring import QueryString
from sqlalchemy.dialects import postgresql

from ioc_core.geo.column import SRID, to_shape
from ioc_core.incidents.tables import Area, Incident

# PostGIS's sphere for `use_spheroid => false`: the mean radius (2a + b) / 3 of WGS 84.
WGS84_A = 6_378_137.0
WGS84_B = 6_356_752.314245179
EARTH_RADIUS_M = (2 * WGS84_A + WGS84_B) / 3
# Clustering cells: a quarter of a web-map tile's width at that zoom, i.e. about 64 pixels.
CELLS_PER_TILE = 4
MAX_ZOOM = 30
# Decimal places of a cluster's mean point (7 ≈ 1 cm): the mean is summed in a different order
# on each backend; rounding makes the two answers equal.
MEAN_DECIMALS = 7
# nearest() on SQLite searches circles growing from this radius by this factor.
NEAREST_FIRST_RADIUS_M = 1_000.0
NEAREST_GROWTH = 4.0

Filter = Combinable | None

# --- PostGIS: SQLAlchemy Core mirrors of Piccolo's tables -------------------------------------
# Only the columns spatial SQL reads. Never `create_all`: Piccolo's migrations own the schema;
# tests/geo/test_spatial.py checks that these columns exist in the Piccolo tables.
METADATA = sa.MetaData()
INCIDENT = sa.Table(
    "incident",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("location", Geometry("POINT", srid=SRID, spatial_index=False)),
    sa.Column("lon", sa.Float),
    sa.Column("lat", sa.Float),
    sa.Column("status", sa.String),
    sa.Column("category", sa.Integer),
    sa.Column("area", sa.Integer),
    sa.Column("department", sa.Integer),
)
AREA = sa.Table(
    "area",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String),
    sa.Column("kind", sa.String),
    sa.Column("valid_from", sa.Date),
    sa.Column("valid_to", sa.Date),
    sa.Column("geometry", Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)),
)
# A plain `::geography` cast: the expression index was built on exactly that expression, and
# geoalchemy2's default `geography(GEOMETRY,-1)` would not match it.
GEOGRAPHY = Geography(geometry_type=None, srid=-1)
_DIALECT = postgresql.dialect(paramstyle="format")
_PLACEHOLDER = re.compile(r"%%|%s")


def pg_querystring(statement: sa.ClauseElement) -> QueryString:
    """A SQLAlchemy statement as a Piccolo QueryString: `%s` placeholders become `{}` with the
    bound values in order, so Piccolo's engine runs it (transaction, pool) and asyncpg gets
    $1..$n. A bound value may itself be a QueryString; Piccolo nests it (see `_filter`)."""
    compiled = statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    sql = compiled.string
    if "{" in sql or "}" in sql:
        # Piccolo's template syntax; nothing we build contains braces, so this is a bug.
        raise ValueError(f"braces in spatial SQL: {sql}")
    params = compiled.construct_params()
    values = [params[name] for name in compiled.positiontup or ()]
    template = _PLACEHOLDER.sub(lambda m: "%" if m.group() == "%%" else "{}", sql)
    return QueryString(template, *values)


def pg_point(lon: float, lat: float) -> sa.ColumnElement[Any]:
    return sa.func.ST_SetSRID(sa.func.ST_MakePoint(float(lon), float(lat)), SRID)


def _geog(expression: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.cast(expression, GEOGRAPHY)


def _pg_filter(where: Filter) -> sa.ColumnElement[bool]:
    """The Piccolo filter as a condition on `incident`: inline when it reads only incident's
    own columns, else `incident.id IN (<the filter's SELECT>)`, which brings its joins. The
    QueryString travels as a bound value and Piccolo splices it, with its own parameters, into
    the template. Inline matters on PostGIS: beside `&&` the planner misjudged the semi-join
    and probed the primary key once per incident (on 1 M: 1.1 s for a city view of the open
    ones, 6x the same filter written inline)."""
    if _on_incident_only(where):
        assert where is not None
        condition = where.querystring
        template = "(:ioc_filter)"
    else:
        condition = _filter(where)
        template = "incident.id IN (:ioc_filter)"
    return sa.text(template).bindparams(
        sa.bindparam("ioc_filter", value=condition, type_=sa.types.NullType(), unique=True)
    )


def _on_incident_only(where: Filter) -> bool:
    """Whether the filter reads only columns of `incident` itself (no join, no raw SQL)."""
    if isinstance(where, (And, Or)):
        return _on_incident_only(where.first) and _on_incident_only(where.second)
    if isinstance(where, Where):
        meta = where.column._meta
        return meta.table is Incident and not meta.call_chain
    return False


# --- Shared ------------------------------------------------------------------------------------


def _engine() -> Engine:
    engine = engine_finder()
    assert engine is not None, "ioc_core.db.engine.bind() must run first"
    return engine


def is_postgres() -> bool:
    return _engine().engine_type in ("postgres", "cockroach")


async def run_query(query: QueryString) -> list[dict[str, Any]]:
    """Rows as dicts, on either engine, inside the caller's transaction if there is one."""
    rows = await _engine().run_querystring(query)
    return [dict(row) for row in rows]


def _filter(where: Filter) -> QueryString:
    return Incident.select(Incident.id).where(where).querystrings[0]


def cell_size(zoom: int) -> float:
    """The side of a clustering cell, in degrees, at a web-map zoom level."""
    if not 0 <= zoom <= MAX_ZOOM:
        raise ValueError(f"zoom must be between 0 and {MAX_ZOOM}, not {zoom}")
    return 360.0 / 2**zoom / CELLS_PER_TILE


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres on PostGIS's sphere (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def circle_bbox(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    """A box that holds every point within `metres` of (lon, lat) on the sphere. Near a pole or
    across the antimeridian it widens to every longitude: correct, only slower."""
    angle = metres / EARTH_RADIUS_M  # radians of arc
    pad = 1e-9  # degrees; float rounding must never cut the circle
    dlat = math.degrees(angle)
    min_lat, max_lat = max(-90.0, lat - dlat - pad), min(90.0, lat + dlat + pad)
    phi = math.radians(lat)
    if angle >= math.pi / 2 or abs(phi) + angle >= math.pi / 2:
        return -180.0, min_lat, 180.0, max_lat
    dlon = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(phi)))) + pad
    if lon - dlon < -180.0 or lon + dlon > 180.0:
        return -180.0, min_lat, 180.0, max_lat
    return lon - dlon, min_lat, lon + dlon, max_lat


def _check_point(lon: float, lat: float) -> None:
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ValueError(f"longitude must be within ±180 and latitude within ±90: {lon}, {lat}")


def check_bbox(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> None:
    _check_point(min_lon, min_lat)
    _check_point(max_lon, max_lat)
    if min_lon > max_lon or min_lat > max_lat:
        raise ValueError(
            f"a box runs from its minimum to its maximum: {min_lon},{min_lat} {max_lon},{max_lat}"
        )


# --- SQLite: R*Tree candidates ----------------------------------------------------------------

Point = tuple[int, float, float]  # id, lon, lat


def _sqlite_box(
    min_lon: float,
    min_lat: float,
    max_lon: float,
    max_lat: float,
    where: Filter,
    exact: bool,
) -> tuple[str, list[Any]]:
    """FROM and WHERE of the incidents in a box, as a QueryString template and its values."""
    template = (
        "FROM incident_rtree r JOIN incident i ON i.id = r.id "
        "WHERE r.max_lon >= {} AND r.min_lon <= {} AND r.max_lat >= {} AND r.min_lat <= {}"
    )
    args: list[Any] = [min_lon, max_lon, min_lat, max_lat]
    if exact:
        template += " AND i.lon BETWEEN {} AND {} AND i.lat BETWEEN {} AND {}"
        args += [min_lon, max_lon, min_lat, max_lat]
    if where is not None:
        template += " AND i.id IN ({})"
        args.append(_filter(where))
    return template, args


def sqlite_points_query(
    min_lon: float,
    min_lat: float,
    max_lon: float,
    max_lat: float,
    *,
    where: Filter = None,
    exact: bool = False,
) -> QueryString:
    """Incidents whose R*Tree box overlaps the query box, by id. The R*Tree keeps 32-bit floats
    rounded outwards, so this is a superset; `exact` adds the test on the 64-bit columns."""
    template, args = _sqlite_box(min_lon, min_lat, max_lon, max_lat, where, exact)
    return QueryString(
        f"SELECT i.id AS id, i.lon AS lon, i.lat AS lat {template} ORDER BY i.id", *args
    )


def sqlite_floor(expression: str) -> str:
    """SQL for floor() of a real as an integer; SQLite may be built without floor(). A cast
    truncates toward zero: one less for a negative value that had a fraction."""
    x = f"({expression})"
    return f"(CAST({x} AS INTEGER) - ({x} < CAST({x} AS INTEGER)))"


async def _sqlite_points(
    min_lon: float,
    min_lat: float,
    max_lon: float,
    max_lat: float,
    *,
    where: Filter = None,
    exact: bool = False,
) -> list[Point]:
    query = sqlite_points_query(min_lon, min_lat, max_lon, max_lat, where=where, exact=exact)
    return [(row["id"], row["lon"], row["lat"]) for row in await run_query(query)]


async def _sqlite_within(
    lon: float, lat: float, metres: float, where: Filter
) -> list[tuple[int, float]]:
    """(id, metres) of every incident within `metres`, nearest first, ties by id."""
    candidates = await _sqlite_points(*circle_bbox(lon, lat, metres), where=where)
    found = [(i, distance_m(lon, lat, x, y)) for i, x, y in candidates]
    return sorted(((i, d) for i, d in found if d <= metres), key=lambda f: (f[1], f[0]))


# --- The API ----------------------------------------------------------------------------------


async def within_radius(
    lon: float, lat: float, metres: float, *, where: Filter = None
) -> list[int]:
    """Ids of incidents within `metres` of (lon, lat), nearest first (ties by id)."""
    _check_point(lon, lat)
    if metres < 0:
        raise ValueError(f"a radius is not negative: {metres}")
    if not is_postgres():
        return [i for i, _ in await _sqlite_within(lon, lat, metres, where)]
    rows = await run_query(within_radius_query(lon, lat, metres, where=where))
    return [row["id"] for row in rows]


def within_radius_query(
    lon: float, lat: float, metres: float, *, where: Filter = None
) -> QueryString:
    """The PostGIS radius query; ST_DWithin on `location::geography` is served by the
    `incident_location_geog` expression index (EXPLAIN it in tests)."""
    centre = _geog(pg_point(lon, lat))
    location = _geog(INCIDENT.c.location)
    statement = (
        sa.select(INCIDENT.c.id)
        .where(sa.func.ST_DWithin(location, centre, float(metres), False))
        .order_by(sa.func.ST_Distance(location, centre, False), INCIDENT.c.id)
    )
    if where is not None:
        statement = statement.where(_pg_filter(where))
    return pg_querystring(statement)


async def in_bbox(
    min_lon: float,
    min_lat: float,
    max_lon: float,
    max_lat: float,
    *,
    limit: int | None = None,
    where: Filter = None,
) -> list[int]:
    """Ids of incidents in the box (edges included), newest first (highest id): when a map asks
    for at most `limit` markers, the recent ones are those worth showing."""
    check_bbox(min_lon, min_lat, max_lon, max_lat)
    if limit is not None and limit < 0:
        raise ValueError(f"limit is not negative: {limit}")
    if not is_postgres():
        template, args = _sqlite_box(min_lon, min_lat, max_lon, max_lat, where, exact=True)
        template = f"SELECT i.id AS id {template} ORDER BY i.id DESC"
        if limit is not None:
            template += " LIMIT {}"
            args.append(int(limit))
        return [row["id"] for row in await run_query(QueryString(template, *args))]
    x, y = sa.func.ST_X(INCIDENT.c.location), sa.func.ST_Y(INCIDENT.c.location)
    statement = (
        sa.select(INCIDENT.c.id)
        .where(_pg_in_box(min_lon, min_lat, max_lon, max_lat, x, y))
        .order_by(INCIDENT.c.id.desc())
    )
    if where is not None:
        statement = statement.where(_pg_filter(where))
    if limit is not None:
        statement = statement.limit(limit)
    return [row["id"] for row in await run_query(pg_querystring(statement))]


def _pg_in_box(
    min_lon: float,
    min_lat: float,
    max_lon: float,
    max_lat: float,
    x: sa.ColumnElement[Any],
    y: sa.ColumnElement[Any],
) -> sa.ColumnElement[bool]:
    # `&&` lets the GiST index pick candidates (its boxes are 32-bit floats, rounded outwards);
    # BETWEEN on the exact coordinates then decides, as SQLite does.
    envelope = sa.func.ST_MakeEnvelope(
        float(min_lon), float(min_lat), float(max_lon), float(max_lat), SRID
    )
    return sa.and_(
        INCIDENT.c.location.op("&&")(envelope),
        x.between(float(min_lon), float(max_lon)),
        y.between(float(min_lat), float(max_lat)),
    )


async def in_area(area_id: int, *, where: Filter = None) -> list[int]:
    """Ids of incidents inside area `area_id` or on its boundary, by id; [] for no such area."""
    if is_postgres():
        # ST_Covers lets the GiST index on incident.location pick the candidates.
        statement = (
            sa.select(INCIDENT.c.id)
            .select_from(INCIDENT, AREA)
            .where(AREA.c.id == int(area_id))
            .where(sa.func.ST_Covers(AREA.c.geometry, INCIDENT.c.location))
            .order_by(INCIDENT.c.id)
        )
        if where is not None:
            statement = statement.where(_pg_filter(where))
        return [row["id"] for row in await run_query(pg_querystring(statement))]

    area = await (
        Area.select(Area.geometry, Area.min_lon, Area.min_lat, Area.max_lon, Area.max_lat)
        .where(Area.id == area_id)
        .first()
    )
    if area is None:
        return []
    points = await _sqlite_points(
        area["min_lon"], area["min_lat"], area["max_lon"], area["max_lat"], where=where, exact=True
    )
    if not points:
        return []
    shape = to_shape(area["geometry"])
    shapely.prepare(shape)  # many points against one polygon
    inside = shapely.covers(shape, shapely.points([(x, y) for _, x, y in points]))
    return [i for (i, _, _), hit in zip(points, inside, strict=True) if hit]


async def clustered_counts(
    min_lon: float,
    min_lat: float,
    max_lon: float,
    max_lat: float,
    zoom: int,
    *,
    where: Filter = None,
) -> list[dict[str, Any]]:
    """Incidents in the box counted per grid cell of `cell_size(zoom)` degrees: one
    `{"lon", "lat", "count"}` per non-empty cell, the point being the mean of its incidents
    (rounded to MEAN_DECIMALS), cells ordered west to east, then south to north.

    The cell of a point is (floor(lon / size), floor(lat / size)) on both backends: the same
    IEEE-754 division, so both put every point in the same cell."""
    check_bbox(min_lon, min_lat, max_lon, max_lat)
    size = cell_size(zoom)
    if not is_postgres():
        return _rounded(
            await run_query(_sqlite_clusters_query(min_lon, min_lat, max_lon, max_lat, size, where))
        )
    x, y = sa.func.ST_X(INCIDENT.c.location), sa.func.ST_Y(INCIDENT.c.location)
    gx, gy = sa.func.floor(x / size).label("gx"), sa.func.floor(y / size).label("gy")
    statement = (
        sa.select(
            gx,
            gy,
            sa.func.count().label("count"),
            sa.func.avg(x).label("lon"),
            sa.func.avg(y).label("lat"),
        )
        .where(_pg_in_box(min_lon, min_lat, max_lon, max_lat, x, y))
        .group_by(sa.literal_column("gx"), sa.literal_column("gy"))
        .order_by(sa.literal_column("gx"), sa.literal_column("gy"))
    )
    if where is not None:
        statement = statement.where(_pg_filter(where))
    return _rounded(await run_query(pg_querystring(statement)))


def _sqlite_clusters_query(
    min_lon: float,
    min_lat: float,
    max_lon: float,
    max_lat: float,
    size: float,
    where: Filter,
) -> QueryString:
    # Grouped in SQL: the points never reach Python. `size` is written out with repr(), which
    # gives back the very same double, so SQLite divides exactly as PostgreSQL and Python do.
    template, args = _sqlite_box(min_lon, min_lat, max_lon, max_lat, where, exact=True)
    gx, gy = sqlite_floor(f"i.lon / {size!r}"), sqlite_floor(f"i.lat / {size!r}")
    return QueryString(
        f"SELECT {gx} AS gx, {gy} AS gy, COUNT(*) AS count, AVG(i.lon) AS lon,"
        f" AVG(i.lat) AS lat {template} GROUP BY gx, gy ORDER BY gx, gy",
        *args,
    )


def _rounded(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "lon": round(row["lon"], MEAN_DECIMALS),
            "lat": round(row["lat"], MEAN_DECIMALS),
            "count": int(row["count"]),
        }
        for row in rows
    ]


async def nearest(
    lon: float, lat: float, n: int, *, where: Filter = None
) -> list[tuple[int, float]]:
    """The `n` incidents nearest to (lon, lat) as (id, metres), nearest first, ties by id."""
    _check_point(lon, lat)
    if n <= 0:
        return []
    if not is_postgres():
        # The R*Tree has no nearest-neighbour search: look in growing circles until one holds
        # n incidents; every incident nearer than the n-th is then inside it.
        radius = NEAREST_FIRST_RADIUS_M
        while True:
            found = await _sqlite_within(lon, lat, radius, where)
            if len(found) >= n or radius > math.pi * EARTH_RADIUS_M:
                return found[:n]
            radius *= NEAREST_GROWTH
    centre = _geog(pg_point(lon, lat))
    location = _geog(INCIDENT.c.location)
    # The KNN index scan (`<->`, served by the geography index) finds the n-th distance; a
    # radius query to just past it then takes every tie too, so ties at the cut go by id as
    # on SQLite. ORDER BY `<->`, id together would turn the index scan into a full sort.
    knn = sa.select(location.op("<->", return_type=sa.Float)(centre).label("d")).where(
        INCIDENT.c.location.is_not(None)
    )
    if where is not None:
        knn = knn.where(_pg_filter(where))
    knn_cte = knn.order_by(sa.literal_column("d")).limit(n).cte("knn")
    reach = sa.select(sa.func.max(knn_cte.c.d) * (1 + 1e-9) + 1e-6).scalar_subquery()
    metres = sa.func.ST_Distance(location, centre, False)
    statement = (
        sa.select(INCIDENT.c.id, metres.label("metres"))
        .where(sa.func.ST_DWithin(location, centre, reach, False))
        .order_by(sa.literal_column("metres"), INCIDENT.c.id)
        .limit(n)
    )
    if where is not None:
        statement = statement.where(_pg_filter(where))
    return [(row["id"], row["metres"]) for row in await run_query(pg_querystring(statement))]
