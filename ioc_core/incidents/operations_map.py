"""The operations map: a page, incidents as GeoJSON for the visible box, and the wards."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Request, get
from litestar.exceptions import ValidationException
from litestar.params import Parameter
from litestar.response import Response

from ioc_core.geo import cells as cell_counts
from ioc_core.geo import spatial
from ioc_core.geo.areas import areas_geojson
from ioc_core.i18n import gettext, local_time
from ioc_core.incidents.routes import filter_choices
from ioc_core.incidents.tables import Incident
from ioc_core.incidents.visibility import department_scope, visible_to
from ioc_core.incidents.workflow import STATUSES, is_overdue, status_label
from ioc_core.web.forms import acting
from ioc_core.web.ids import chosen_id
from ioc_core.web.openapi import refusals
from ioc_core.web.pages import page

VIEW = {"permission": "incidents.view"}
# Below this zoom the map shows counts per grid cell; from it on, single incidents.
CLUSTER_BELOW_ZOOM = 15
MAX_POINTS = 2_000
CENTRE = (10.93, 108.10)  # Phan Thiết
MAX_ZOOM = 22
# What the schema tells clients a bbox looks like; the handler says what is wrong with another.
BBOX_PATTERN = r"^-?\d+(\.\d+)?(,-?\d+(\.\d+)?){3}$"


@get("/map", opt=VIEW, include_in_schema=False)
async def map_page(request: Request[Any, Any, Any]) -> Response[str]:
    context = {
        "tiles": request.app.state.runtime.settings.map_tiles,
        "centre": CENTRE,
        "choices": await filter_choices(),
        "statuses": [(s, status_label(s)) for s in STATUSES],
    }
    return await page(request, "incidents/map.html", context)


def _bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in raw.split(","))
    except ValueError:
        raise ValidationException(
            gettext("bbox must be four numbers: min_lon,min_lat,max_lon,max_lat")
        ) from None
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ValidationException(
            gettext("bbox must run from west to east and south to north, within ±180/±90")
        )
    return min_lon, min_lat, max_lon, max_lat


async def _where(request: Request[Any, Any, Any]) -> tuple[Any, cell_counts.CellFilter]:
    """What this person may see, narrowed by the map's filters: as a Piccolo condition on
    Incident (the markers) and as the groups of incidents the clusters' cell counts sum."""
    principal = acting(request)
    condition = await visible_to(principal)
    scope = await department_scope(principal)
    # As `visible_to`: the scope's departments and the incidents no department owns.
    departments = None if scope is None else frozenset([*scope, None])
    params = request.query_params
    status = [s for s in params.getall("status", []) if s in STATUSES]
    filters: list[Any] = [Incident.status.is_in(status)] if status else []
    chosen: dict[str, int | None] = {}
    for key in ("category", "area", "department"):
        chosen[key] = value = chosen_id(params.get(key))
        if value is not None:
            filters.append(getattr(Incident, key) == value)
    for extra in filters:
        condition = extra if condition is None else condition & extra
    if chosen["department"] is not None:
        picked = frozenset([chosen["department"]])
        departments = picked if departments is None else departments & picked
    groups = cell_counts.CellFilter(
        statuses=frozenset(status) if status else None,
        departments=departments,
        categories=None if chosen["category"] is None else frozenset([chosen["category"]]),
        areas=None if chosen["area"] is None else frozenset([chosen["area"]]),
    )
    return condition, groups


@get(
    "/api/incidents.geojson",
    opt=VIEW,
    summary="Incidents in a box, as GeoJSON",
    responses=refusals(401, 403),
)
async def incidents_geojson(
    request: Request[Any, Any, Any],
    bbox: Annotated[str, Parameter(schema_extra={"pattern": BBOX_PATTERN})],
    zoom: Annotated[int, Parameter(schema_extra={"minimum": 0, "maximum": MAX_ZOOM})] = 18,
) -> dict[str, Any]:
    """Incidents the caller may see inside `bbox` (min_lon,min_lat,max_lon,max_lat). Below zoom
    15 the features are grid cells with a `count` (of every incident the filters keep in each
    cell the box touches); from 15 on, incidents (newest 2 000)."""
    box = _bbox(bbox)
    if not 0 <= zoom <= MAX_ZOOM:
        raise ValidationException(gettext("zoom must be between 0 and 22"))
    where, groups = await _where(request)
    if zoom < CLUSTER_BELOW_ZOOM:
        # The counts kept per cell (and group, for a filter or a reader's scope) answer at once.
        cells = await cell_counts.view_counts(*box, zoom, only=groups)
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [c["lon"], c["lat"]]},
                "properties": {"cluster": True, "count": c["count"]},
            }
            for c in cells
        ]
    else:
        ids = await spatial.in_bbox(*box, limit=MAX_POINTS, where=where)
        rows = (
            await Incident.select(
                Incident.id,
                Incident.code,
                Incident.title,
                Incident.status,
                Incident.sla_due_at,
                Incident.lon,
                Incident.lat,
            ).where(Incident.id.is_in(ids))
            if ids
            else []
        )
        features = [
            {
                "type": "Feature",
                "id": r["id"],
                "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                "properties": {
                    "code": r["code"],
                    "title": r["title"],
                    "status": r["status"],
                    "status_label": status_label(r["status"]),
                    "due_at": r["sla_due_at"].isoformat() if r["sla_due_at"] else None,
                    "due_label": _due_label(r["status"], r["sla_due_at"]),
                    "overdue": is_overdue(r["status"], r["sla_due_at"]),
                },
            }
            for r in rows
        ]
    return {"type": "FeatureCollection", "features": features}


def _due_label(status: str, due: dt.datetime | None) -> str:
    if due is None:
        return ""
    label = gettext("Due %(time)s") % {"time": local_time(due)}
    return f"{label} · {gettext('overdue')}" if is_overdue(status, due) else label


@get(
    "/api/areas.geojson",
    opt=VIEW,
    summary="Wards valid today, as GeoJSON",
    responses=refusals(401, 403),
)
async def wards_geojson() -> dict[str, Any]:
    return await areas_geojson()


ROUTES = [map_page, incidents_geojson, wards_geojson]
