"""Areas from GeoJSON on the backend under test: all-or-nothing import with clear errors, the
validity period, which area holds a point, and the `ioc areas` commands."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import MultiPolygon

from ioc_core.geo.areas import AreaImportError, area_for, areas_geojson, import_areas, today
from ioc_core.geo.column import to_shape
from ioc_core.incidents.tables import Area
from ioc_core.runtime import Runtime
from tests.helpers import run
from tests.processes import ioc

FIXTURES = Path(__file__).parent / "fixtures"
WARDS = FIXTURES / "wards.geojson"
# Points well inside the fixture polygons (see fixtures/README.md), and one in the sea.
IN_W01 = (108.075, 10.95)
IN_W02 = (108.075, 10.91)
IN_W03_ISLAND = (108.21, 10.91)
IN_W02_2026_ONLY = (108.075, 10.88)  # the redrawn TEST-W02 reaches 10.87 N, the old 10.89 N
IN_SEA = (108.30, 10.80)
JULY_2025, JANUARY_2026 = dt.date(2025, 7, 1), dt.date(2026, 1, 1)

BAD_FILES = {
    "bad_broken_json.geojson": "not valid JSON: Expecting property name enclosed in double "
    "quotes: line 3 column 1",
    "bad_not_collection.geojson": "not a GeoJSON FeatureCollection (found 'Feature')",
    "bad_self_intersecting.geojson": "features[1] (code 'TEST-B02'): invalid geometry: "
    "Self-intersection[108.1 10.92]",
    "bad_outside_vietnam.geojson": "features[0] (code 'TEST-B03'): lies outside Vietnam "
    "(102-110 E, 8-24 N)",
    "bad_duplicate_code.geojson": "features[1] (code 'TEST-B04'): code 'TEST-B04' already used "
    "by features[0]",
    "bad_missing_name.geojson": "features[1] (code 'TEST-B06'): no name_vi",
}


def area_rows() -> list[dict[str, Any]]:
    return run(Area.select().order_by(Area.id))


def ids_by_code(on: dt.date | None = None) -> dict[str, int]:
    """Ids of the versions valid on `on` (open ones if None)."""
    rows = area_rows()
    if on is None:
        return {r["code"]: r["id"] for r in rows if r["valid_to"] is None}
    return {
        r["code"]: r["id"]
        for r in rows
        if r["valid_from"] <= on and (r["valid_to"] is None or on < r["valid_to"])
    }


def test_import_then_find_the_area_of_a_point(runtime: Runtime) -> None:
    steps: list[tuple[int, int]] = []
    count = run(
        import_areas(WARDS, source="test fixture", progress=lambda d, t: steps.append((d, t)))
    )
    assert count == 3
    rows = area_rows()
    assert [r["code"] for r in rows] == ["TEST-W01", "TEST-W02", "TEST-W03"]
    assert {(r["kind"], r["valid_from"], r["valid_to"], r["source"]) for r in rows} == {
        ("ward", today(), None, "test fixture")
    }
    assert rows[0]["name_vi"] == "Phường Thử nghiệm Bắc" and rows[2]["name_en"] == ""
    for row in rows:  # Polygons are stored as MultiPolygons, with their bounding box
        geometry = to_shape(row["geometry"])
        assert isinstance(geometry, MultiPolygon)
        assert (row["min_lon"], row["min_lat"], row["max_lon"], row["max_lat"]) == pytest.approx(
            geometry.bounds
        )
    assert len(to_shape(rows[2]["geometry"]).geoms) == 2
    # One step per feature checked, then per feature stored; the last one is the total.
    assert steps[0] == (1, 6) and steps[-1] == (6, 6)

    ids = ids_by_code()
    assert run(area_for(*IN_W01)) == ids["TEST-W01"]
    assert run(area_for(*IN_W02)) == ids["TEST-W02"]
    assert run(area_for(*IN_W03_ISLAND)) == ids["TEST-W03"]
    assert run(area_for(*IN_SEA)) is None
    assert run(area_for(*IN_W01, on=today() - dt.timedelta(days=1))) is None  # not yet valid

    drawn = run(areas_geojson())
    assert drawn["type"] == "FeatureCollection"
    assert [(f["id"], f["properties"]["code"]) for f in drawn["features"]] == sorted(
        (i, c) for c, i in ids.items()
    )
    assert drawn["features"][2]["geometry"]["type"] == "MultiPolygon"


def test_the_smallest_area_wins_and_kind_narrows(runtime: Runtime) -> None:
    assert run(import_areas(FIXTURES / "district.geojson", kind="district")) == 1
    assert run(import_areas(WARDS)) == 3
    ids = ids_by_code()
    # The district holds every ward: a point in a ward is that ward's, unless asked by kind.
    assert run(area_for(*IN_W01)) == ids["TEST-W01"]
    assert run(area_for(*IN_W01, kind="district")) == ids["TEST-D01"]
    assert run(area_for(108.18, 10.98)) == ids["TEST-D01"]  # in the district, in no ward
    # On the edge TEST-W01 and TEST-W02 share, both hold the point: the smaller one wins.
    w01, w02 = [to_shape(r["geometry"]).area for r in area_rows() if r["kind"] == "ward"][:2]
    smaller = ids["TEST-W02"] if w02 < w01 else ids["TEST-W01"]
    assert run(area_for(108.07, 10.93)) == smaller
    assert [f["properties"]["code"] for f in run(areas_geojson(kind="ward"))["features"]] == [
        "TEST-W01",
        "TEST-W02",
        "TEST-W03",
    ]


def test_reimport_closes_the_old_version(runtime: Runtime) -> None:
    assert run(import_areas(WARDS, valid_from=JULY_2025)) == 3
    assert run(import_areas(FIXTURES / "wards_2026.geojson", valid_from=JANUARY_2026)) == 1
    rows = area_rows()
    assert [(r["code"], r["valid_from"], r["valid_to"]) for r in rows] == [
        ("TEST-W01", JULY_2025, None),
        ("TEST-W02", JULY_2025, JANUARY_2026),
        ("TEST-W03", JULY_2025, None),
        ("TEST-W02", JANUARY_2026, None),
    ]
    old, new = rows[1]["id"], rows[3]["id"]
    last_day_of_2025 = dt.date(2025, 12, 31)
    # An old incident keeps the ward of its day; a new one gets the redrawn ward.
    assert run(area_for(*IN_W02, on=last_day_of_2025)) == old
    assert run(area_for(*IN_W02, on=JANUARY_2026)) == new
    assert run(area_for(*IN_W02_2026_ONLY, on=last_day_of_2025)) is None
    assert run(area_for(*IN_W02_2026_ONLY, on=JANUARY_2026)) == new
    drawn_2025 = run(areas_geojson(on=last_day_of_2025))["features"]
    drawn_2026 = run(areas_geojson(on=JANUARY_2026))["features"]
    assert {f["id"] for f in drawn_2025} == {rows[0]["id"], old, rows[2]["id"]}
    assert {f["id"] for f in drawn_2026} == {rows[0]["id"], new, rows[2]["id"]}

    # A version starting before the open one would end before it starts: refused, unchanged.
    with pytest.raises(AreaImportError, match="valid from 2026-01-01, after 2025-09-01"):
        run(import_areas(FIXTURES / "wards_2026.geojson", valid_from=dt.date(2025, 9, 1)))
    assert area_rows() == rows


def test_bad_files_are_refused_with_a_clear_error_and_nothing_stored(runtime: Runtime) -> None:
    run(import_areas(WARDS, valid_from=JULY_2025))
    before = area_rows()
    for name, message in BAD_FILES.items():
        with pytest.raises(AreaImportError) as raised:
            run(import_areas(FIXTURES / name))
        assert str(raised.value).startswith(f"{FIXTURES / name}: {message}"), name
        assert "\n" not in str(raised.value)
        assert area_rows() == before, name
    missing = FIXTURES / "no_such_file.geojson"
    with pytest.raises(AreaImportError, match="cannot read the file"):
        run(import_areas(missing))
    # features[0] of the self-intersecting file is fine, and yet not stored: all or nothing.
    assert "TEST-B01" not in {r["code"] for r in area_rows()}
    assert area_rows() == before


def test_cli_imports_lists_and_refuses(runtime: Runtime, environ: dict[str, str]) -> None:
    # The platform's own environment, without the sample plugins (one of them is broken on
    # purpose and says so on stderr).
    env = {**os.environ, **environ}
    done = ioc(
        "areas",
        "import",
        str(WARDS),
        "--valid-from",
        "2025-07-01",
        "--source",
        "test fixture",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3 areas imported from wards.geojson (kind ward)"

    listing = ioc("areas", "list", env=env)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == [
        "CODE",
        "NAME",
        "(VI)",
        "NAME",
        "(EN)",
        "KIND",
        "VALID",
        "FROM",
        "VALID",
        "TO",
    ]
    assert [line.split()[0] for line in lines[1:]] == ["TEST-W01", "TEST-W02", "TEST-W03"]
    assert lines[1].startswith("TEST-W01  Phường Thử nghiệm Bắc") and "2025-07-01" in lines[1]

    bad = FIXTURES / "bad_self_intersecting.geojson"
    refused = ioc("areas", "import", str(bad), env=env)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"Error: {bad}: {BAD_FILES['bad_self_intersecting.geojson']}"
    ]
    bad_date = ioc("areas", "import", str(WARDS), "--valid-from", "1/7/2025", env=env)
    assert bad_date.returncode == 2
    assert bad_date.stderr.splitlines() == [
        "Error: --valid-from must be a date like 2026-01-31, not '1/7/2025'"
    ]
    assert len(area_rows()) == 3
