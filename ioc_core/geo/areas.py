"""Administrative areas (wards): import from GeoJSON, find the area of a point, draw them.

Areas are data with a validity period [valid_from, valid_to): Vietnam redrew its wards in 2025,
and an incident keeps the ward it was filed in. Importing a code that already exists closes the
open row (valid_to = the new valid_from) and adds the new one; nothing is overwritten.

    import_areas(path, *, kind="ward", valid_from=None, source="", progress=None) -> int
    area_for(lon, lat, on=None, *, kind=None) -> int | None
    areas_geojson(on=None, *, kind=None) -> dict
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from ioc_core.db.transactions import write_transaction
from ioc_core.geo import spatial
from ioc_core.geo.column import SRID, to_db, to_shape
from ioc_core.i18n import TIMEZONE
from ioc_core.incidents.tables import Area

# Longitude and latitude bounds every area must lie in: catches swapped coordinates and files
# in a projected system (VN-2000 metres). Vietnam's mainland and near islands, as the design
# asks; the Hoàng Sa and Trường Sa special zones lie east of 110 E and would need it widened.
VIETNAM_BOUNDS = (102.0, 8.0, 110.0, 24.0)
# Column lengths of ioc_core.incidents.tables.Area: checked up front so a long name is a clear
# message, not a database error half-way through.
MAX_CODE = 64
MAX_NAME = 200
MAX_KIND = 32
MAX_SOURCE = 200
# Problems listed in one error message; the rest are counted.
MAX_PROBLEMS_SHOWN = 5
# Rows per INSERT: one progress step each, and few round trips.
INSERT_BATCH = 50
# Serialises imports on PostgreSQL (read the open rows, then close them); SQLite's
# BEGIN IMMEDIATE already does. Any fixed number, distinct from the migrations' lock.
IMPORT_LOCK_KEY = 43_110_003
WGS84_NAMES = ("urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::4326", "EPSG:4326")

Progress = Callable[[int, int], None]
"""Called with (steps done, steps in all): one step per feature validated, one per stored."""


class AreaImportError(ValueError):
    """The file cannot be imported; nothing was stored. `problems` lists each reason."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        if more > 0:
            shown += f"; and {more} more problem{'s' if more > 1 else ''}"
        super().__init__(f"{source}: {shown}")


@dataclass(frozen=True)
class AreaFeature:
    code: str
    name_vi: str
    name_en: str
    geometry: MultiPolygon


def today() -> dt.date:
    """Today in the city's calendar: a validity date is a local day."""
    return dt.datetime.now(TIMEZONE).date()


def _text(value: Any) -> str:
    """A property as text: codes are often numbers in official files (`"code": 22735`)."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value.strip() if isinstance(value, str) else ""


def _geometry(raw: Any) -> tuple[MultiPolygon | None, str]:
    """The feature's geometry as a 2-D MultiPolygon, or None and what is wrong with it."""
    if not isinstance(raw, dict):
        return None, "has no geometry"
    kind = raw.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        return (
            None,
            f"geometry is a {kind or 'thing without a type'}, not a Polygon or MultiPolygon",
        )
    try:
        geometry: BaseGeometry = shapely.force_2d(shape(raw))
    except Exception as exc:  # shapely raises several types on malformed coordinates
        return None, f"geometry cannot be read: {exc}"
    if geometry.is_empty:
        return None, "geometry is empty"
    if not geometry.is_valid:
        return None, f"invalid geometry: {explain_validity(geometry)}"
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    west, south, east, north = VIETNAM_BOUNDS
    if not (west <= min_lon and max_lon <= east and south <= min_lat and max_lat <= north):
        return None, (
            f"lies outside Vietnam ({west:g}-{east:g} E, {south:g}-{north:g} N): bounds "
            f"{min_lon:.4f},{min_lat:.4f} to {max_lon:.4f},{max_lat:.4f}; coordinates must be "
            "longitude, latitude in WGS 84 (EPSG:4326)"
        )
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon([geometry])
    return geometry, ""


def read_areas(path: Path, progress: Progress | None = None) -> list[AreaFeature]:
    """Read and check every feature of a GeoJSON FeatureCollection; AreaImportError lists all
    problems found, each naming its feature (`features[i]`, code)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AreaImportError(name, [f"cannot read the file: {exc}"]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AreaImportError(name, [f"not valid JSON: {exc}"]) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        found = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise AreaImportError(name, [f"not a GeoJSON FeatureCollection (found {found!r})"])
    crs = data.get("crs")
    if isinstance(crs, dict):
        crs_name = str((crs.get("properties") or {}).get("name", ""))
        if crs_name and crs_name not in WGS84_NAMES:
            raise AreaImportError(
                name, [f"coordinates are in {crs_name}; export them in WGS 84 (EPSG:4326)"]
            )
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise AreaImportError(name, ["the FeatureCollection has no features"])

    problems: list[str] = []
    found_areas: list[AreaFeature] = []
    first_index: dict[str, int] = {}
    for index, feature in enumerate(features):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        properties = properties if isinstance(properties, dict) else {}
        code = _text(properties.get("code"))
        label = f"features[{index}]" + (f" (code {code!r})" if code else "")
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(f"{label}: not a GeoJSON Feature")
            continue
        name_vi, name_en = _text(properties.get("name_vi")), _text(properties.get("name_en"))
        if not code:
            problems.append(f"{label}: no code in its properties")
        elif len(code) > MAX_CODE:
            problems.append(f"{label}: code longer than {MAX_CODE} characters")
        elif code in first_index:
            problems.append(f"{label}: code {code!r} already used by features[{first_index[code]}]")
        else:
            first_index[code] = index
        if not name_vi:
            problems.append(f"{label}: no name_vi (Vietnamese name) in its properties")
        for key, value in (("name_vi", name_vi), ("name_en", name_en)):
            if len(value) > MAX_NAME:
                problems.append(f"{label}: {key} longer than {MAX_NAME} characters")
        geometry, wrong = _geometry(feature.get("geometry"))
        if geometry is None:
            problems.append(f"{label}: {wrong}")
        else:
            found_areas.append(AreaFeature(code, name_vi, name_en, geometry))
        if progress is not None:
            progress(index + 1, 2 * len(features))
    if problems:
        raise AreaImportError(name, problems)
    return found_areas


async def import_areas(
    path: Path | str,
    *,
    kind: str = "ward",
    valid_from: dt.date | None = None,
    source: str = "",
    progress: Progress | None = None,
) -> int:
    """Import every area of a GeoJSON file, all or nothing; the number of areas stored.

    Features have `code` and `name_vi` (and optionally `name_en`) properties and a Polygon or
    MultiPolygon geometry in WGS 84. An area whose code is already open is closed the day the
    new one starts (`valid_from`, default today in Asia/Ho_Chi_Minh)."""
    path = Path(path)
    kind, source = kind.strip(), source.strip()
    if not kind or len(kind) > MAX_KIND:
        raise AreaImportError(str(path), [f"kind must be 1 to {MAX_KIND} characters"])
    if len(source) > MAX_SOURCE:
        raise AreaImportError(str(path), [f"source longer than {MAX_SOURCE} characters"])
    start = valid_from or today()
    # In a thread: a large file takes seconds of shapely work, and a web process serving an
    # upload must go on answering meanwhile.
    features = await asyncio.to_thread(read_areas, path, progress)
    total = 2 * len(features)

    async with write_transaction():
        engine = engine_finder()
        if engine is not None and engine.engine_type != "sqlite":
            await engine.run_ddl(f"SELECT pg_advisory_xact_lock({IMPORT_LOCK_KEY})")
        codes = [f.code for f in features]
        open_rows = await Area.select(Area.id, Area.code, Area.valid_from).where(
            Area.code.is_in(codes) & Area.valid_to.is_null()
        )
        later = [r for r in open_rows if r["valid_from"] is not None and r["valid_from"] > start]
        if later:
            # Closing them would give them an end before their start.
            raise AreaImportError(
                str(path),
                [
                    f"code {r['code']!r} has a version valid from {r['valid_from']}, after "
                    f"{start}; import with a later --valid-from"
                    for r in sorted(later, key=lambda r: r["code"])
                ],
            )
        if open_rows:
            await Area.update({Area.valid_to: start}).where(
                Area.id.is_in([r["id"] for r in open_rows])
            )
        for done in range(0, len(features), INSERT_BATCH):
            batch = features[done : done + INSERT_BATCH]
            await Area.insert(*(_row(f, kind, start, source) for f in batch))
            if progress is not None:
                progress(len(features) + done + len(batch), total)
    return len(features)


def _row(feature: AreaFeature, kind: str, start: dt.date, source: str) -> Any:
    min_lon, min_lat, max_lon, max_lat = feature.geometry.bounds
    return Area(
        code=feature.code,
        name_vi=feature.name_vi,
        name_en=feature.name_en,
        kind=kind,
        valid_from=start,
        valid_to=None,
        geometry=to_db(feature.geometry),
        min_lon=min_lon,
        min_lat=min_lat,
        max_lon=max_lon,
        max_lat=max_lat,
        source=source,
    )


# area_for on PostgreSQL as a Piccolo template (lon, lat, day, day, the kind's condition):
# every filing looks its area up, and compiling a SQLAlchemy statement cost more than running it.
_PG_AREA_FOR = (
    "SELECT area.id FROM area"
    f" WHERE ST_Covers(area.geometry, ST_SetSRID(ST_MakePoint({{}}, {{}}), {SRID}))"
    " AND (area.valid_from IS NULL OR area.valid_from <= {})"
    " AND (area.valid_to IS NULL OR area.valid_to > {}){}"
    " ORDER BY ST_Area(area.geometry), area.id LIMIT 1"
)


async def area_for(
    lon: float, lat: float, on: dt.date | None = None, *, kind: str | None = None
) -> int | None:
    """The id of the area valid on `on` (default today) that holds the point, boundary
    included; None outside every area. Where areas overlap (a ward inside a district, or two
    wards sharing an edge) the smallest wins, then the lowest id: the same on both backends."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        return None
    day = on or today()
    if spatial.is_postgres():
        if kind is None:
            query = QueryString(_PG_AREA_FOR, float(lon), float(lat), day, day, QueryString(""))
        else:
            of_kind = QueryString(" AND area.kind = {}", kind)
            query = QueryString(_PG_AREA_FOR, float(lon), float(lat), day, day, of_kind)
        rows = await spatial.run_query(query)
        return rows[0]["id"] if rows else None

    # SQLite: the bounding-box columns pick the candidates, shapely decides.
    query = Area.select(Area.id, Area.geometry).where(
        (Area.min_lon <= lon)
        & (Area.max_lon >= lon)
        & (Area.min_lat <= lat)
        & (Area.max_lat >= lat)
        & (Area.valid_from.is_null() | (Area.valid_from <= day))
        & (Area.valid_to.is_null() | (Area.valid_to > day))
    )
    if kind is not None:
        query = query.where(Area.kind == kind)
    point = shapely.Point(lon, lat)
    holding = []
    for row in await query:
        geometry = to_shape(row["geometry"])
        if geometry.covers(point):
            holding.append((geometry.area, row["id"]))
    return min(holding)[1] if holding else None


async def areas_geojson(on: dt.date | None = None, *, kind: str | None = None) -> dict[str, Any]:
    """Areas valid on `on` (default today) as a GeoJSON FeatureCollection for a map: each
    feature has the area id and properties code, name_vi, name_en, kind."""
    day = on or today()
    query = Area.select(
        Area.id, Area.code, Area.name_vi, Area.name_en, Area.kind, Area.geometry
    ).where(
        (Area.valid_from.is_null() | (Area.valid_from <= day))
        & (Area.valid_to.is_null() | (Area.valid_to > day))
    )
    if kind is not None:
        query = query.where(Area.kind == kind)
    features = [
        {
            "type": "Feature",
            "id": row["id"],
            "geometry": mapping(to_shape(row["geometry"])),
            "properties": {
                "code": row["code"],
                "name_vi": row["name_vi"],
                "name_en": row["name_en"],
                "kind": row["kind"],
            },
        }
        for row in await query.order_by(Area.code)
    ]
    return {"type": "FeatureCollection", "features": features}
