"""The citizen portal: report, track, rate or reopen, and the public map. No sign-in anywhere.

- `/report`: the service first, then its custom fields (swapped in by HTMX, or by a plain GET
  without JavaScript), a map pin (click, drag, the browser's location, or the GPS of a photo),
  a description, photos and an optional contact. Open reports of the same service nearby are
  offered to follow instead before a new one is filed. The answer is the ticket code and a
  private link to track, rate and reopen it.
- `/track/<code>`: the status, the public timeline, the city's note and expected date, photos.
- `/reports/map`: recent reports on a map, without any personal data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response
from litestar.static_files import create_static_files_router

from field_reports import citizen, intake, photos
from field_reports.intake import Limits, Submission, TooManyReports
from field_reports.public_timeline import told
from field_reports.tables import Report, Service
from ioc_core import i18n
from ioc_core.auth.errors import FormError
from ioc_core.geo import spatial
from ioc_core.i18n import gettext, local_time
from ioc_core.incidents.operations_map import CENTRE
from ioc_core.incidents.tables import Attachment, Category, Incident, IncidentEvent
from ioc_core.incidents.workflow import status_label
from ioc_core.web.forms import form_of
from ioc_core.web.pages import page, render_partial

PUBLIC = {"public": True}
PLUGIN = "field_reports"
STATIC = Path(__file__).resolve().parent / "static"
# The whole form with its photos: the default 5 photos of 8 MB and the fields, with room to
# spare. Each photo's own limit is the setting `max_photo_bytes`.
MAX_BODY_BYTES = 64_000_000
# The public map: reports of the last 90 days, the newest 500 in view.
MAP_DAYS = 90
MAP_MAX_POINTS = 500
# About 11 m: enough to find the pothole, too coarse to point at one house door.
MAP_DECIMALS = 4
# Neither a rejected report (spam, abuse) nor a duplicate of one already shown.
NOT_ON_MAP = ("rejected", "duplicate")
CONTACT_FIELDS = ("name", "email", "phone")


def _settings(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return request.app.state.runtime.registry.plugin_settings(PLUGIN)  # type: ignore[no-any-return]


def _english() -> bool:
    return i18n.current_language.get() == "en"


def _name(row: dict[str, Any], prefix: str = "name") -> str:
    """A row's English text when the visitor reads English and it has one."""
    english = row.get(f"{prefix}_en") if _english() else ""
    return english or row.get(f"{prefix}_vi") or ""


def _client(request: Request[Any, Any, Any]) -> str:
    return f"ip:{request.client.host if request.client else 'unknown'}"


async def _services() -> list[dict[str, Any]]:
    """Public services, grouped under their headings in the administrators' order."""
    rows = await (
        Service.select(
            Service.category.code.as_alias("code"),
            Service.category.name_vi.as_alias("name_vi"),
            Service.category.name_en.as_alias("name_en"),
            Service.group.name_vi.as_alias("group_vi"),
            Service.group.name_en.as_alias("group_en"),
        )
        .where(Service.public.eq(True), Service.category.active.eq(True))
        .order_by(Service.group.position)
        .order_by(Service.position)
        .order_by(Service.category.name_vi)
    )
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(_name(row, "group"), []).append({"code": row["code"], "name": _name(row)})
    return [{"name": name, "services": items} for name, items in groups.items()]


async def _fields(code: str) -> list[dict[str, Any]]:
    """The custom fields of a public service, with labels, help and options in the visitor's
    language; none for an unknown service."""
    service = await intake.public_service(code) if code else None
    if service is None:
        return []
    fields = []
    for spec in await intake.fields_of(service["id"]):
        fields.append(
            {
                "name": f"attribute[{spec['code']}]",
                "datatype": spec["datatype"],
                "required": spec["required"],
                "label": _name(spec, "label"),
                "help": _name(spec, "help"),
                "options": [(o["key"], _name(o)) for o in spec["options"] or ()],
            }
        )
    return fields


async def _form_page(
    request: Request[Any, Any, Any],
    values: dict[str, str],
    lists: dict[str, list[str]],
    *,
    errors: dict[str, str] | None = None,
    duplicates: list[dict[str, Any]] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response[str]:
    settings = _settings(request)
    west, south, east, north = settings["bounds"]
    context = {
        "values": values,
        "lists": lists,
        "errors": errors or {},
        "services": await _services(),
        "fields": await _fields(values.get("service_code", "")),
        "duplicates": [
            {
                "code": d["code"],
                "status": status_label(d["status"]),
                "created": local_time(d["created_at"], "%d/%m/%Y"),
            }
            for d in duplicates or ()
        ],
        "notice": notice,
        "max_photos": settings["max_photos"],
        "max_mb": f"{int(settings['max_photo_bytes']) / 1_000_000:g}",
        "tiles": request.app.state.runtime.settings.map_tiles,
        "centre": CENTRE,
        "bounds": f"{west},{south},{east},{north}",
    }
    return await page(request, "field_reports/portal_report.html", context, status_code=status_code)


@get("/report", opt=PUBLIC, include_in_schema=False)
async def report_form(request: Request[Any, Any, Any]) -> Response[str]:
    """Without JavaScript, choosing a service sends this form back here to show its fields."""
    params = request.query_params
    values = {k: params.get(k, "") for k in params if k != "photos"}
    lists = {k: params.getall(k) for k in params}
    return await _form_page(request, values, lists)


@get("/report/fields", opt=PUBLIC, include_in_schema=False)
async def report_fields(
    request: Request[Any, Any, Any], service_code: FromQuery[str] = ""
) -> Response[str]:
    """The chosen service's custom fields, swapped into the form by HTMX."""
    context = {"fields": await _fields(service_code), "values": {}, "lists": {}, "errors": {}}
    body = render_partial(request, "field_reports/portal_fields.html", context)
    return Response(body, media_type="text/html")


def _coordinates(values: dict[str, str], errors: dict[str, str]) -> tuple[float | None, ...]:
    raw = [values.get("lat", ""), values.get("lon", "")]
    if not any(raw):
        return None, None
    try:
        lat, lon = (float(v.replace(",", ".")) for v in raw)
    except ValueError:
        errors["location"] = gettext("Give the place as two numbers, like 10.9289 and 108.1017.")
        return None, None
    return lat, lon


async def _uploads(request: Request[Any, Any, Any], max_bytes: int) -> list[tuple[str, bytes]]:
    """The files sent as `photos`; an empty file input sends one nameless, empty part."""
    form = await request.form()
    found = []
    for upload in form.getall("photos", []):
        if isinstance(upload, UploadFile) and (upload.filename or upload.size):
            # One byte past the limit is enough to refuse it; the rest is not read.
            found.append((upload.filename or "?", await upload.read(max_bytes + 1)))
    return found


@post(
    "/report",
    opt=PUBLIC,
    include_in_schema=False,
    request_max_body_size=MAX_BODY_BYTES,
)
async def report_submit(request: Request[Any, Any, Any]) -> Response[str]:
    settings = _settings(request)
    limits = Limits.of(settings)
    try:
        await intake.throttle(_client(request), limits)
    except TooManyReports as exc:
        return await _too_many(request, exc.retry_after_s)

    values, lists = await form_of(request)
    errors: dict[str, str] = {}
    lat, lon = _coordinates(values, errors)
    code = values.get("service_code", "")
    submission = Submission(
        service_code=code,
        lat=lat,
        lon=lon,
        address=values.get("address", ""),
        description=values.get("description", ""),
        attributes={
            key[len("attribute[") : -1]: given
            for key, given in lists.items()
            if key.startswith("attribute[") and key.endswith("]")
        },
        email=values.get("email", ""),
        phone=values.get("phone", ""),
        first_name=values.get("name", ""),
        channel="portal",
    )
    photo_limits = photos.PhotoLimits.of(settings)
    uploads = await _uploads(request, photo_limits.max_bytes)
    try:
        checked = await anyio.to_thread.run_sync(photos.check_all, uploads, photo_limits)
    except FormError as exc:
        errors |= exc.errors
        checked = []
    # The report's own checks too, so every problem shows at once.
    try:
        await intake.check(submission, limits)
    except FormError as exc:
        errors = exc.errors | errors
    located = next((p.gps for p in checked if p.gps), None)
    if lat is None and located is not None:
        # Offered, not imposed: the citizen checks the pin and sends again.
        values["lat"], values["lon"] = (f"{v:.6f}" for v in located)
        message = gettext("The place where your photo was taken is filled in: check the pin.")
        errors["location"] = message
    if errors:
        return await _form_page(request, values, lists, errors=errors, status_code=422)

    if values.get("confirm") != "1" and lat is not None and lon is not None:
        nearby = await intake.possible_duplicates(code, lon, lat)
        if nearby:
            return await _form_page(request, values, lists, duplicates=nearby)

    root = photos.media_root(request.app.state.runtime.settings)
    try:
        with photos.stored(checked, root) as stored:
            incident, report = await intake.submit(
                dataclasses.replace(submission, photos=stored), limits
            )
    except FormError as exc:
        return await _form_page(request, values, lists, errors=exc.errors, status_code=422)
    path = f"/track/{quote(incident.code)}?token={quote(report.token)}"
    base = request.app.state.runtime.settings.public_url.rstrip("/")
    # The link to follow is on this site; the address to keep is the public one.
    context = {"code": incident.code, "path": path, "link": base + path, "email": submission.email}
    return await page(request, "field_reports/portal_sent.html", context, status_code=201)


async def _too_many(request: Request[Any, Any, Any], retry_after_s: int) -> Response[str]:
    minutes = max(1, -(-retry_after_s // 60))
    message = gettext(
        "You have sent many reports in a short time. Please try again in %(minutes)s minutes."
    ) % {"minutes": minutes}
    context = {"message": message, "back": "/report"}
    response = await page(request, "message.html", context, status_code=429)
    response.headers["Retry-After"] = str(retry_after_s)
    return response


@post("/report/follow", opt=PUBLIC, include_in_schema=False)
async def report_follow(request: Request[Any, Any, Any]) -> Response[str]:
    """Follow an open report already filed instead of filing the same one again."""
    limits = Limits.of(_settings(request))
    try:
        await intake.throttle(_client(request), limits)
    except TooManyReports as exc:
        return await _too_many(request, exc.retry_after_s)
    values, _ = await form_of(request)
    code = values.get("follow", "")
    try:
        await citizen.follow_instead(code, values.get("email", ""))
    except citizen.NotPublic:
        raise NotFoundException() from None
    except FormError as exc:
        context = {"code": code, "email": values.get("email", ""), "errors": exc.errors}
        return await page(request, "field_reports/portal_follow.html", context, status_code=422)
    context = {"code": code.strip().upper(), "done": True, "errors": {}}
    return await page(request, "field_reports/portal_follow.html", context)


@get("/track", opt=PUBLIC, include_in_schema=False)
async def track_form(request: Request[Any, Any, Any], code: FromQuery[str] = "") -> Response[Any]:
    if code.strip():
        return Redirect(f"/track/{quote(code.strip().upper())}", status_code=303)
    return await page(request, "field_reports/portal_track_form.html", {"errors": {}})


async def _track_page(
    request: Request[Any, Any, Any],
    code: str,
    token: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    try:
        found = await citizen.tracked(code)
    except citizen.NotPublic:
        raise NotFoundException() from None
    incident, report = found.incident, found.report
    mine = found.owned_by(token)
    category = (
        await Category.select().where(Category.id == incident["category"]).first()
        if incident["category"]
        else None
    )
    pictures = await (
        Attachment.select(Attachment.id)
        .where(Attachment.incident == incident["id"], Attachment.public.eq(True))
        .order_by(Attachment.id)
    )
    finished = incident["status"] in citizen.FINISHED
    closed_at = incident["closed_at"]
    rated = report["rated_at"] is not None and closed_at is not None
    context = {
        "incident": incident,
        "status": status_label(incident["status"]),
        "service": _name(category) if category else "",
        "photos": [p["id"] for p in pictures],
        "timeline": await _public_timeline(incident["id"]),
        "mine": mine,
        "token": token if mine else "",
        "description": incident["description"] if mine else "",
        "can_rate": mine and finished and not (rated and report["rated_at"] >= closed_at),
        "rating": report["rating"],
        "can_reopen": mine
        and finished
        and report["reopen_count"] < int(_settings(request)["max_reopens"]),
        "reopen_limit_reached": mine
        and finished
        and report["reopen_count"] >= int(_settings(request)["max_reopens"]),
        "done": request.query_params.get("done", ""),
        "errors": errors or {},
        "values": values or {},
    }
    return await page(request, "field_reports/portal_track.html", context, status_code=status_code)


async def _public_timeline(incident_id: int) -> list[dict[str, str]]:
    """The public events of the timeline, as `public_timeline.told` tells them."""
    events = (
        await IncidentEvent.select()
        .where(IncidentEvent.incident == incident_id, IncidentEvent.public.eq(True))
        .order_by(IncidentEvent.at)
        .order_by(IncidentEvent.id)
        .output(load_json=True)
    )
    timeline = []
    for event in events:
        said = told(event)
        if said is not None:
            timeline.append(
                {"at": local_time(event["at"]), "text": said.text, "detail": said.detail}
            )
    return timeline


@get("/track/{code:str}", opt=PUBLIC, include_in_schema=False)
async def track_page(
    request: Request[Any, Any, Any], code: FromPath[str], token: FromQuery[str] = ""
) -> Response[str]:
    return await _track_page(request, code, token)


async def _citizen_action(
    request: Request[Any, Any, Any], code: str, action: Any, done: str
) -> Response[Any]:
    values, _ = await form_of(request)
    token = values.get("token", "")
    try:
        await action(values)
    except citizen.NotPublic:
        raise NotFoundException() from None
    except FormError as exc:
        return await _track_page(
            request, code, token, errors=exc.errors, values=values, status_code=422
        )
    target = f"/track/{quote(code.strip().upper())}?token={quote(token)}&done={done}"
    return Redirect(target, status_code=303)


@post("/track/{code:str}/rate", opt=PUBLIC, include_in_schema=False)
async def track_rate(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    async def rate(values: dict[str, str]) -> None:
        await citizen.rate(
            code, values.get("token", ""), values.get("rating", ""), values.get("comment", "")
        )

    return await _citizen_action(request, code, rate, "rated")


@post("/track/{code:str}/reopen", opt=PUBLIC, include_in_schema=False)
async def track_reopen(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    max_reopens = int(_settings(request)["max_reopens"])

    async def reopen(values: dict[str, str]) -> None:
        await citizen.reopen(code, values.get("token", ""), values.get("reason", ""), max_reopens)

    return await _citizen_action(request, code, reopen, "reopened")


@get("/reports/map", opt=PUBLIC, include_in_schema=False)
async def public_map(request: Request[Any, Any, Any]) -> Response[str]:
    context = {
        "tiles": request.app.state.runtime.settings.map_tiles,
        "centre": CENTRE,
        "days": MAP_DAYS,
    }
    return await page(request, "field_reports/portal_map.html", context)


def _bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in raw.split(","))
    except ValueError:
        raise ValidationException(
            gettext("bbox must be four numbers: min_lon,min_lat,max_lon,max_lat")
        ) from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise ValidationException(
            gettext("bbox must run from west to east and south to north, within ±180/±90")
        )
    return west, south, east, north


@get("/reports/map.geojson", opt=PUBLIC, summary="Recent citizen reports, as GeoJSON")
async def public_map_geojson(bbox: FromQuery[str]) -> dict[str, Any]:
    """Reports of the last 90 days in `bbox` (min_lon,min_lat,max_lon,max_lat), the newest 500:
    ticket code, service, status and day only, at about 11 m. No description, address, photo
    or contact: those may say who reported it."""
    box = _bbox(bbox)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=MAP_DAYS)
    hidden = Report.select(Report.incident).where(Report.hidden.eq(True))
    where = (
        (Incident.source == intake.SOURCE)
        & (Incident.created_at >= since)
        & Incident.status.not_in(list(NOT_ON_MAP))
        & Incident.id.not_in(hidden)
    )
    ids = await spatial.in_bbox(*box, limit=MAP_MAX_POINTS, where=where)
    rows = (
        await Incident.select(
            Incident.code,
            Incident.status,
            Incident.created_at,
            Incident.lon,
            Incident.lat,
            Incident.category.name_vi.as_alias("name_vi"),
            Incident.category.name_en.as_alias("name_en"),
        )
        .where(Incident.id.is_in(ids))
        .order_by(Incident.id, ascending=False)
        if ids
        else []
    )
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [round(r["lon"], MAP_DECIMALS), round(r["lat"], MAP_DECIMALS)],
            },
            "properties": {
                "code": r["code"],
                "service": _name(r),
                "status": r["status"],
                "status_label": status_label(r["status"]),
                "created": local_time(r["created_at"], "%d/%m/%Y"),
            },
        }
        for r in rows
    ]
    return {"type": "FeatureCollection", "features": features}


STATIC_ROUTER = create_static_files_router(
    path="/static/field_reports", directories=[STATIC], opt=PUBLIC, include_in_schema=False
)

ROUTES: list[Any] = [
    report_form,
    report_fields,
    report_submit,
    report_follow,
    track_form,
    track_page,
    track_rate,
    track_reopen,
    public_map,
    public_map_geojson,
    photos.report_photo,
    STATIC_ROUTER,
]
