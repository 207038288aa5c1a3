"""Cell counts kept by triggers, on the backend under test: every incident of each touched cell,
checked against a grid computed here, and kept right when incidents move or go."""

from __future__ import annotations

import math

import pytest
from piccolo.engine import engine_finder

from ioc_core.geo import cells, spatial
from ioc_core.incidents.tables import Incident
from ioc_core.runtime import Runtime
from tests.geo.test_spatial import Located, insert_fixture
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
