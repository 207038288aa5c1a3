"""The spatial API on the backend under test: the same fixture incidents must give the same ids,
computed here independently (haversine, a plain grid, shapely on the fixture file)."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from pathlib import Path

import pytest
from piccolo.querystring import QueryString
from shapely.geometry import Point, shape

from ioc_core.geo import spatial
from ioc_core.geo.areas import import_areas
from ioc_core.geo.column import to_db
from ioc_core.incidents.tables import Area, Incident
from ioc_core.runtime import Runtime
from tests.helpers import run

FIXTURES = Path(__file__).parent / "fixtures"
CENTRE = (108.10, 10.93)  # Phan Thiết
# PostGIS's sphere for `use_spheroid => false`: (2a + b) / 3 of WGS 84.
SPHERE_RADIUS_M = 6_371_008.771_415
STATUSES = ("new", "assigned", "resolved")
TIE = 7  # index of the fixture point that two more incidents share


def fixture_points() -> list[tuple[float, float] | None]:
    """60 pins within about 5 km of the centre (6 decimals, so text round trips are exact), two
    more on pin TIE, and two incidents without a location."""
    rng = random.Random(20261129)
    points: list[tuple[float, float] | None] = [
        (round(rng.uniform(108.05, 108.15), 6), round(rng.uniform(10.88, 10.98), 6))
        for _ in range(60)
    ]
    points += [points[TIE], points[TIE], None, None]
    return points


Located = tuple[int, float, float, str]  # id, lon, lat, status


def insert_fixture() -> list[Located]:
    """Insert the fixture incidents; (id, lon, lat, status) of those with a location."""
    now = dt.datetime.now(dt.UTC)
    rows = []
    for k, point in enumerate(fixture_points()):
        lon, lat = point if point else (None, None)
        rows.append(
            Incident(
                code=f"TEST-{k:04d}",
                source="test",
                title=f"Sự vụ thử {k}",
                created_at=now,
                updated_at=now,
                status=STATUSES[k % len(STATUSES)],
                lon=lon,
                lat=lat,
                location=to_db(Point(lon, lat)) if point else None,
            )
        )
    run(Incident.insert(*rows))
    stored = run(Incident.select(Incident.id, Incident.code).order_by(Incident.id))
    ids = {row["code"]: row["id"] for row in stored}
    return [
        (ids[f"TEST-{k:04d}"], p[0], p[1], STATUSES[k % len(STATUSES)])
        for k, p in enumerate(fixture_points())
        if p is not None
    ]


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * SPHERE_RADIUS_M * math.asin(math.sqrt(h))


def by_distance(points: list[Located], lon: float, lat: float) -> list[tuple[int, float]]:
    found = [(i, haversine(lon, lat, x, y)) for i, x, y, _ in points]
    return sorted(found, key=lambda f: (f[1], f[0]))


def expected_within(points: list[Located], lon: float, lat: float, metres: float) -> list[int]:
    ranked = by_distance(points, lon, lat)
    # No pin within a centimetre of the circle (other than at its centre): the answer does
    # not hang on the last bits of a float.
    assert all(d == 0 or abs(d - metres) > 0.01 for _, d in ranked)
    return [i for i, d in ranked if d <= metres]


def expected_in_box(points: list[Located], box: tuple[float, float, float, float]) -> list[int]:
    min_lon, min_lat, max_lon, max_lat = box
    inside = [i for i, x, y, _ in points if min_lon <= x <= max_lon and min_lat <= y <= max_lat]
    return sorted(inside, reverse=True)


@pytest.fixture
def incidents(runtime: Runtime) -> list[Located]:
    return insert_fixture()


def test_mirror_tables_name_real_columns() -> None:
    """The SQLAlchemy tables spatial SQL is built on mirror Piccolo's; a renamed column fails
    here, not in production."""
    for mirror, table in ((spatial.INCIDENT, Incident), (spatial.AREA, Area)):
        assert mirror.name == table._meta.tablename
        names = {c._meta.db_column_name for c in table._meta.columns}
        assert {c.name for c in mirror.columns} <= names


def test_within_radius(incidents: list[Located]) -> None:
    tie = fixture_points()[TIE]
    assert tie is not None
    cases = [(*CENTRE, 1_500.0), (108.12, 10.95, 800.0), (*tie, 0.0), (*CENTRE, 50_000.0)]
    for lon, lat, metres in cases:
        expected = expected_within(incidents, lon, lat, metres)
        assert run(spatial.within_radius(lon, lat, metres)) == expected, (lon, lat, metres)
    # The three incidents on one pin, at 0 m, by id; everything is within 50 km.
    assert len(expected_within(incidents, *tie, 0.0)) == 3
    assert len(run(spatial.within_radius(*CENTRE, 50_000.0))) == len(incidents) == 62
    assert run(spatial.within_radius(106.70, 10.78, 5_000.0)) == []  # Hồ Chí Minh City


def test_nearest(incidents: list[Located]) -> None:
    tie = fixture_points()[TIE]
    assert tie is not None
    for lon, lat, n in [(*CENTRE, 1), (*CENTRE, 10), (*tie, 5), (108.3, 10.7, 100)]:
        expected = by_distance(incidents, lon, lat)[:n]
        got = run(spatial.nearest(lon, lat, n))
        assert [i for i, _ in got] == [i for i, _ in expected], (lon, lat, n)
        for (_, metres), (_, want) in zip(got, expected, strict=True):
            assert metres == pytest.approx(want, rel=1e-6, abs=1e-6)
    # Three at 0 m on the tied pin, then the next two; n beyond the count gives them all.
    assert [m for _, m in run(spatial.nearest(*tie, 5))][:3] == [0.0, 0.0, 0.0]
    assert len(run(spatial.nearest(108.3, 10.7, 100))) == 62
    assert run(spatial.nearest(*CENTRE, 0)) == []


def test_in_bbox_includes_its_edges_and_limits_to_the_newest(incidents: list[Located]) -> None:
    points = fixture_points()
    a, b = points[3], points[4]
    assert a is not None and b is not None
    # A box whose edges run through two fixture pins: both are in.
    edge_box = (min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))
    boxes = [edge_box, (108.07, 10.90, 108.12, 10.95), (108.0, 10.8, 108.2, 11.0)]
    for box in boxes:
        assert run(spatial.in_bbox(*box)) == expected_in_box(incidents, box), box
    edge_ids = {incidents[3][0], incidents[4][0]}
    assert edge_ids <= set(run(spatial.in_bbox(*edge_box)))
    whole = expected_in_box(incidents, boxes[2])
    assert run(spatial.in_bbox(*boxes[2], limit=5)) == whole[:5]
    assert run(spatial.in_bbox(108.5, 11.5, 108.6, 11.6)) == []
    with pytest.raises(ValueError, match="minimum to its maximum"):
        run(spatial.in_bbox(108.2, 10.9, 108.1, 11.0))


def test_clustered_counts_follow_the_zoom_grid(incidents: list[Located]) -> None:
    box = (108.06, 10.89, 108.14, 10.97)
    inside = [(x, y) for _, x, y, _ in incidents if 108.06 <= x <= 108.14 and 10.89 <= y <= 10.97]
    for zoom in (9, 13, 15):
        size = 360 / 2**zoom / 4
        cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
        for x, y in inside:
            cells.setdefault((math.floor(x / size), math.floor(y / size)), []).append((x, y))
        got = run(spatial.clustered_counts(*box, zoom))
        assert [c["count"] for c in got] == [len(cells[k]) for k in sorted(cells)], zoom
        for cluster, key in zip(got, sorted(cells), strict=True):
            members = cells[key]
            assert cluster["lon"] == pytest.approx(
                sum(x for x, _ in members) / len(members), abs=1e-7
            )
            assert cluster["lat"] == pytest.approx(
                sum(y for _, y in members) / len(members), abs=1e-7
            )
        assert sum(c["count"] for c in got) == len(inside)
    # The grid is anchored at 0°, 0°, not at the box: at zoom 9 (cells of 0.17578125°) its
    # lines 108.10546875 E and 10.8984375 N cut the box in four.
    assert len(run(spatial.clustered_counts(*box, 9))) == 4
    with pytest.raises(ValueError, match="zoom"):
        run(spatial.clustered_counts(*box, 31))


def test_where_filters_every_query(incidents: list[Located]) -> None:
    new = [p for p in incidents if p[3] == "new"]
    where = Incident.status == "new"
    assert 0 < len(new) < len(incidents)
    assert run(spatial.within_radius(*CENTRE, 3_000.0, where=where)) == expected_within(
        new, *CENTRE, 3_000.0
    )
    box = (108.0, 10.8, 108.2, 11.0)
    assert run(spatial.in_bbox(*box, limit=4, where=where)) == expected_in_box(new, box)[:4]
    nearest = run(spatial.nearest(*CENTRE, 6, where=where))
    assert [i for i, _ in nearest] == [i for i, _ in by_distance(new, *CENTRE)[:6]]
    # Zoom 6: one cell of 1.40625° (106.875-108.28125 E, 9.84375-11.25 N) holds the box.
    clusters = run(spatial.clustered_counts(*box, 6, where=where))
    assert [c["count"] for c in clusters] == [len(new)]
    # Filters combine, and may join other tables (Piccolo adds the join in the subquery).
    both = Incident.status.is_in(["new", "assigned"]) & Incident.category.code.is_null()
    wanted = sorted((p for p in incidents if p[3] in ("new", "assigned")), key=lambda p: -p[0])
    assert run(spatial.in_bbox(*box, where=both)) == [p[0] for p in wanted]


def test_in_area_matches_shapely_on_the_fixture_polygons(incidents: list[Located]) -> None:
    assert run(import_areas(FIXTURES / "wards.geojson")) == 3
    features = json.loads((FIXTURES / "wards.geojson").read_text(encoding="utf-8"))["features"]
    ids = {r["code"]: r["id"] for r in run(Area.select(Area.id, Area.code))}
    total = 0
    for feature in features:
        polygon = shape(feature["geometry"])
        expected = [i for i, x, y, _ in incidents if polygon.covers(Point(x, y))]
        assert all(polygon.boundary.distance(Point(x, y)) > 1e-7 for _, x, y, _ in incidents)
        got = run(spatial.in_area(ids[feature["properties"]["code"]]))
        assert got == expected, feature["properties"]["code"]
        total += len(got)
    assert 0 < total < len(incidents)  # some pins lie outside every ward
    status = {i: s for i, _, _, s in incidents}
    w01 = run(spatial.in_area(ids["TEST-W01"]))
    new_in_w01 = run(spatial.in_area(ids["TEST-W01"], where=Incident.status == "new"))
    assert new_in_w01 == [i for i in w01 if status[i] == "new"] and new_in_w01
    assert run(spatial.in_area(999_999)) == []


def test_index_follows_update_and_delete(runtime: Runtime, incidents: list[Located]) -> None:
    moved, deleted, cleared = incidents[0], incidents[1], incidents[2]
    far = (108.30, 10.70)
    run(
        Incident.update(
            {Incident.lon: far[0], Incident.lat: far[1], Incident.location: to_db(Point(*far))}
        ).where(Incident.id == moved[0])
    )
    run(Incident.delete().where(Incident.id == deleted[0]))
    run(
        Incident.update({Incident.lon: None, Incident.lat: None, Incident.location: None}).where(
            Incident.id == cleared[0]
        )
    )
    assert run(spatial.within_radius(*far, 10.0)) == [moved[0]]
    everywhere = set(run(spatial.in_bbox(100.0, 8.0, 110.0, 24.0)))
    assert moved[0] in everywhere
    assert not {deleted[0], cleared[0]} & everywhere
    assert len(everywhere) == len(incidents) - 2
    assert moved[0] not in run(spatial.within_radius(moved[1], moved[2], 10.0))

    if runtime.engine.engine_type == "sqlite":
        # The triggers keep the R*Tree row for row with incident.lon/lat.
        rows = run(runtime.engine.run_ddl("SELECT * FROM incident_rtree ORDER BY id"))
        boxes = {r["id"]: r for r in rows}
        assert not {deleted[0], cleared[0]} & set(boxes)
        # The moved row's box holds its new point (32-bit floats, rounded outwards).
        box = boxes[moved[0]]
        assert box["min_lon"] <= far[0] <= box["max_lon"] < box["min_lon"] + 1e-4
        assert box["min_lat"] <= far[1] <= box["max_lat"] < box["min_lat"] + 1e-4
        located = run(Incident.count().where(Incident.lon.is_not_null()))
        assert len(boxes) == located == len(incidents) - 2


def test_the_spatial_indexes_serve_the_queries(runtime: Runtime) -> None:
    engine = runtime.engine
    if engine.engine_type == "postgres":
        rows = run(
            engine.run_ddl(
                "SELECT tablename, indexdef FROM pg_indexes "
                "WHERE tablename IN ('incident', 'area') AND indexdef LIKE '%USING gist%'"
            )
        )
        found = {(r["tablename"], r["indexdef"].split("USING gist ")[1]) for r in rows}
        assert found == {
            ("incident", "(location)"),
            ("incident", "(((location)::geography))"),
            ("area", "(geometry)"),
        }
        # ~2 000 pins on a 50 x 40 grid of 0.004°; a 300 m radius holds a few of them.
        run(
            engine.run_ddl(
                "INSERT INTO incident (code, source, title, lon, lat, location) "
                "SELECT 'GRID-' || g, 'test', 'grid', 108.0 + (g % 50) * 0.004, "
                "10.85 + (g / 50) * 0.004, ST_SetSRID(ST_MakePoint(108.0 + (g % 50) * 0.004, "
                "10.85 + (g / 50) * 0.004), 4326) FROM generate_series(0, 1999) AS g"
            )
        )
        run(engine.run_ddl("ANALYZE incident"))
        plan = run(
            engine.run_querystring(
                QueryString("EXPLAIN {}", spatial.within_radius_query(*CENTRE, 300.0))
            )
        )
        assert "incident_location_geog" in " ".join(r[0] for r in plan)
        assert len(run(spatial.within_radius(*CENTRE, 300.0))) > 0
    else:
        names = {
            r["name"]
            for r in run(engine.run_ddl("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        }
        assert {"incident_rtree_insert", "incident_rtree_update", "incident_rtree_delete"} <= names
        query = spatial.sqlite_points_query(108.0, 10.9, 108.2, 11.0, exact=True)
        plan = run(engine.run_querystring(QueryString("EXPLAIN QUERY PLAN {}", query)))
        details = " | ".join(r["detail"] for r in plan)
        assert "SCAN r VIRTUAL TABLE INDEX" in details, details


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="longitude"):
        run(spatial.within_radius(200.0, 10.0, 10.0))
    with pytest.raises(ValueError, match="negative"):
        run(spatial.within_radius(108.0, 10.0, -1.0))


def test_circle_bbox_holds_the_circle() -> None:
    """SQLite's candidate box must hold every point of the circle, also far north."""
    for lon, lat, metres in [(108.1, 10.93, 1_000.0), (25.0, 70.0, 300_000.0), (0.0, 89.9, 50e3)]:
        min_lon, min_lat, max_lon, max_lat = spatial.circle_bbox(lon, lat, metres)
        for bearing in range(0, 360, 5):
            x, y = destination(lon, lat, bearing, metres * 0.999_999)
            assert min_lon <= x <= max_lon and min_lat <= y <= max_lat, (lon, lat, bearing)


def destination(lon: float, lat: float, bearing: float, metres: float) -> tuple[float, float]:
    d, b = metres / SPHERE_RADIUS_M, math.radians(bearing)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return (math.degrees(l2) + 540) % 360 - 180, math.degrees(p2)
