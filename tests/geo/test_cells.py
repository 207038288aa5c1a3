"""Cell counts kept by triggers, on the backend under test: every incident of each touched cell,
checked against a grid computed here, and kept right when incidents move or go; with a filter,
the groups' sums equal `spatial.clustered_counts` on the same incidents and follow every change
of status, department, category, ward and place."""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import itertools
import math
import operator
import random
from typing import Any

import pytest
from piccolo.engine import engine_finder
from shapely.geometry import Point

from ioc_core.auth.tables import Department
from ioc_core.geo import cells, spatial
from ioc_core.geo.areas import import_areas
from ioc_core.geo.column import to_db
from ioc_core.incidents.tables import Area, Category, Incident
from ioc_core.runtime import Runtime
from tests.geo.test_spatial import FIXTURES, Located, insert_fixture
from tests.helpers import run

BOX = (108.06, 10.89, 108.14, 10.97)


@pytest.fixture
def incidents(runtime: Runtime) -> list[Located]:
    return insert_fixture()


def expected(points: list[tuple[float, float]], zoom: int) -> list[tuple[int, float, float]]:
    """(count, mean lon, mean lat) of each cell of the zoom that BOX touches, west to east."""
    size = 360 / 2**zoom / 4
    x0, x1 = math.floor(BOX[0] / size), math.floor(BOX[2] / size)
    y0, y1 = math.floor(BOX[1] / size), math.floor(BOX[3] / size)
    grid: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for x, y in points:
        key = (math.floor(x / size), math.floor(y / size))
        if x0 <= key[0] <= x1 and y0 <= key[1] <= y1:
            grid.setdefault(key, []).append((x, y))
    return [
        (len(m), sum(x for x, _ in m) / len(m), sum(y for _, y in m) / len(m))
        for _, m in sorted(grid.items())
    ]


def check(points: list[tuple[float, float]]) -> None:
    for zoom in (9, 12, 13, 14):
        got = run(cells.view_counts(*BOX, zoom))
        want = expected(points, zoom)
        assert [c["count"] for c in got] == [w[0] for w in want], zoom
        for cell, (_, lon, lat) in zip(got, want, strict=True):
            assert cell["lon"] == pytest.approx(lon, abs=1e-7)
            assert cell["lat"] == pytest.approx(lat, abs=1e-7)


def test_cells_count_every_incident_of_the_cells_in_view(incidents: list[Located]) -> None:
    points = [(x, y) for _, x, y, _ in incidents]
    check(points)
    # Whole cells: the same as counting the points of the box made of the cells in view.
    size = spatial.cell_size(12)
    inner = (
        math.floor(BOX[0] / size) * size,
        math.floor(BOX[1] / size) * size,
        (math.floor(BOX[2] / size) + 1) * size - 1e-9,
        (math.floor(BOX[3] / size) + 1) * size - 1e-9,
    )
    assert [c["count"] for c in run(cells.view_counts(*BOX, 12))] == [
        c["count"] for c in run(spatial.clustered_counts(*inner, 12))
    ]
    with pytest.raises(ValueError, match="zoom"):
        run(cells.view_counts(*BOX, cells.BASE_ZOOM + 1))


def test_triggers_follow_moves_and_deletes(incidents: list[Located]) -> None:
    moved, gone, cleared = incidents[0], incidents[1], incidents[2]
    run(
        Incident.update({Incident.lon: 108.139, Incident.lat: 10.969}).where(
            Incident.id == moved[0]
        )
    )
    run(Incident.delete().where(Incident.id == gone[0]))
    run(Incident.update({Incident.lon: None, Incident.lat: None}).where(Incident.id == cleared[0]))
    points = [(108.139, 10.969)] + [(x, y) for _, x, y, _ in incidents[3:]]
    check(points)
    # A recount from scratch (after a bulk load) finds the same cells.
    engine = engine_finder()
    assert engine is not None
    before = run(cells.view_counts(*BOX, 13))
    for statement in cells.rebuild_statements(spatial.is_postgres()):
        run(engine.run_ddl(statement))
    assert run(cells.view_counts(*BOX, 13)) == before


# --- Groups: the counts a filtered view sums ----------------------------------------------------

FILTER_STATUSES = ("new", "assigned", "in_progress", "resolved", "closed")
Row = dict[str, Any]


def random_incidents(count: int, seed: int) -> dict[str, list[int]]:
    """`count` incidents in BOX (a few without a location) of random status, department,
    category and ward, each of the three sometimes NULL; the ids of what they refer to."""
    run(import_areas(FIXTURES / "wards.geojson"))
    refs = {"area": [r["id"] for r in run(Area.select(Area.id).order_by(Area.id))]}
    departments = [Department(code=f"d{k}", name_vi=f"Phòng {k}") for k in range(3)]
    categories = [Category(code=f"c{k}", name_vi=f"Loại {k}") for k in range(3)]
    run(Department.insert(*departments))
    run(Category.insert(*categories))
    refs["department"] = [r["id"] for r in run(Department.select(Department.id))]
    refs["category"] = [r["id"] for r in run(Category.select(Category.id))]
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for k in range(count):
        located = rng.random() > 0.05
        lon = round(rng.uniform(BOX[0], BOX[2]), 6) if located else None
        lat = round(rng.uniform(BOX[1], BOX[3]), 6) if located else None
        rows.append(
            Incident(
                code=f"RND-{k:05d}",
                source="test",
                title=f"Sự vụ {k}",
                created_at=now,
                updated_at=now,
                status=rng.choice(FILTER_STATUSES),
                lon=lon,
                lat=lat,
                location=to_db(Point(lon, lat)) if located else None,
                **{key: rng.choice([*ids, None]) for key, ids in refs.items()},
            )
        )
    run(Incident.insert(*rows))
    return refs


def filters(refs: dict[str, list[int]]) -> list[cells.CellFilter]:
    """Every combination of a few choices per dimension; empty ones, unknown ids and a status
    that is SQL, not a status code, too."""
    statuses = [None, frozenset(["new"]), frozenset(["new", "assigned", "in_progress"])]
    d, c, a = refs["department"], refs["category"], refs["area"]
    departments = [None, frozenset([d[0]]), frozenset([d[0], d[1], None]), frozenset([None])]
    found = [
        cells.CellFilter(statuses=s, departments=dep, categories=cat, areas=area)
        for s, dep, cat, area in itertools.product(
            statuses, departments, [None, frozenset([c[1]])], [None, frozenset([a[2]])]
        )
    ]
    found += [
        cells.CellFilter(departments=frozenset()),
        cells.CellFilter(categories=frozenset([0])),
        cells.CellFilter(statuses=frozenset(["new') OR ('a' = 'a"])),
        cells.CellFilter(areas=frozenset([a[0], 10**6])),
    ]
    return found


def condition(only: cells.CellFilter) -> Any:
    """The same filter written as a Piccolo condition, for `spatial.clustered_counts`."""
    parts: list[Any] = []
    if only.statuses is not None:
        parts.append(Incident.status.is_in(sorted(only.statuses)))
    for column, kept in (
        (Incident.department, only.departments),
        (Incident.category, only.categories),
        (Incident.area, only.areas),
    ):
        if kept is None:
            continue
        ids = sorted(v for v in kept if v is not None)
        # `id < 0` matches nothing: what an empty set keeps.
        either = column.is_in(ids) if ids else Incident.id < 0
        parts.append(either | column.is_null() if None in kept else either)
    return functools.reduce(operator.and_, parts) if parts else None


def whole_cells(zoom: int) -> tuple[float, float, float, float]:
    """The box made of the cells of `zoom` that BOX touches, less a hair at the far edges: what
    the cells count, as points `clustered_counts` counts."""
    size = spatial.cell_size(zoom)
    return (
        math.floor(BOX[0] / size) * size,
        math.floor(BOX[1] / size) * size,
        (math.floor(BOX[2] / size) + 1) * size - 1e-9,
        (math.floor(BOX[3] / size) + 1) * size - 1e-9,
    )


def same(got: list[Row], want: list[Row]) -> None:
    """Equal counts, and means equal to the rounding: summed in another order, a mean rounded
    to 7 decimals may land on the neighbouring step (1e-7)."""
    assert [c["count"] for c in got] == [c["count"] for c in want]
    for cell, other in zip(got, want, strict=True):
        assert cell["lon"] == pytest.approx(other["lon"], abs=1.5e-7)
        assert cell["lat"] == pytest.approx(other["lat"], abs=1.5e-7)


def test_filtered_cells_equal_clustered_counts(runtime: Runtime) -> None:
    refs = random_incidents(400, seed=8)
    cases = filters(refs)
    assert len(cases) == 52
    for zoom in (11, 14):
        box = whole_cells(zoom)
        for only in cases:
            want = run(spatial.clustered_counts(*box, zoom, where=condition(only)))
            got = run(cells.view_counts(*BOX, zoom, only=only))
            same(got, want)
    # The cases are not all empty: most filters keep some incidents, a few keep none.
    kept = [sum(c["count"] for c in run(cells.view_counts(*BOX, 12, only=f))) for f in cases]
    assert sum(1 for k in kept if k) >= 40 and kept[-4:-1] == [0, 0, 0]
    # No filter, or one that narrows nothing: every incident, from the table of cells alone.
    assert run(cells.view_counts(*BOX, 12, only=cells.CellFilter())) == run(
        cells.view_counts(*BOX, 12)
    )


def expected_groups(only: cells.CellFilter, zoom: int) -> list[Row]:
    """Cell counts computed here from the incidents as they are now."""
    rows = run(
        Incident.select(
            Incident.lon, Incident.lat, Incident.status, Incident.department,
            Incident.category, Incident.area,
        )
    )  # fmt: skip
    kept = [
        (r["lon"], r["lat"])
        for r in rows
        if r["lon"] is not None
        and (only.statuses is None or r["status"] in only.statuses)
        and (only.departments is None or r["department"] in only.departments)
        and (only.categories is None or r["category"] in only.categories)
        and (only.areas is None or r["area"] in only.areas)
    ]
    return [{"count": n, "lon": x, "lat": y} for n, x, y in expected(kept, zoom)]


def test_group_triggers_follow_every_change(runtime: Runtime) -> None:
    refs = random_incidents(60, seed=9)
    cases = filters(refs)
    ids = [r["id"] for r in run(Incident.select(Incident.id).order_by(Incident.id))]
    d, c, a = refs["department"], refs["category"], refs["area"]
    changes: list[dict[Any, Any]] = [
        {Incident.status: "closed"},
        {Incident.department: d[2]},
        {Incident.department: None},
        {Incident.category: c[0]},
        {Incident.area: a[1]},
        {Incident.lon: 108.139, Incident.lat: 10.969},
        {Incident.lon: None, Incident.lat: None},
        {Incident.status: "new", Incident.category: None, Incident.area: None},
    ]
    for k, change in enumerate(changes):
        run(Incident.update(change).where(Incident.id.is_in(ids[k * 5 : k * 5 + 5])))
    run(Incident.delete().where(Incident.id.is_in(ids[-5:])))
    # One incident filed afterwards, into a cell and group that already hold others.
    twin = run(Incident.select().where(Incident.id == ids[45]).first())
    assert twin is not None
    del twin["id"]
    run(Incident.insert(Incident(**{**twin, "code": "RND-TWIN"})))

    def check() -> None:
        for zoom in (12, 14):
            for only in cases:
                same(run(cells.view_counts(*BOX, zoom, only=only)), expected_groups(only, zoom))

    check()
    # A recount from scratch (after a bulk load) keeps the same counts.
    engine = engine_finder()
    assert engine is not None
    for statement in cells.rebuild_statements(spatial.is_postgres()):
        run(engine.run_ddl(statement))
    check()


def test_migration_counts_the_incidents_that_exist(runtime: Runtime) -> None:
    """The groups' migration fills its table from the incidents already there."""
    refs = random_incidents(80, seed=10)
    migration = importlib.import_module(
        "ioc_core.incidents.piccolo_migrations.incidents_2026_11_30t06_10_00_000000"
    )
    run(migration.drop_groups())
    run(migration.create_groups())
    for only in filters(refs):
        same(run(cells.view_counts(*BOX, 13, only=only)), expected_groups(only, 13))
