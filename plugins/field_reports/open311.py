"""Open311 GeoReport v2 under /open311/v2/, in JSON and XML.

    GET  discovery.{fmt}                       the endpoint, its formats, how to get a key
    GET  services.{fmt}                        the public services
    GET  services/{service_code}.{fmt}         a service's custom fields (attributes)
    POST requests.{fmt}                        a report (an API key with field_reports.submit)
    GET  tokens/{token}.{fmt}                  the ticket code of a token
    GET  requests.{fmt}                        reports: by ids, service, dates, status
    GET  requests/{service_request_id}.{fmt}   one report
    GET  servicerequestupdates.{fmt}           public timeline events (mySociety's extension)

The format is the path's extension. Litestar's path parameters are whole segments, so each
route takes the last segment and splits the format off. Errors are the spec's list of
`{code, description}` in the format asked for; a path with no format we serve gets the
platform's own answers. Nothing personal (e-mail, phone, name) is ever answered.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import FormMultiDict, MultiDict
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.middleware import ASGIMiddleware
from litestar.params import FromPath
from litestar.types import ASGIApp, Receive, Scope, Send
from piccolo.columns.combination import Where

from field_reports import intake
from field_reports import open311_openapi as openapi
from field_reports.intake import Limits, Submission, TooManyReports
from field_reports.open311_format import answer, errors, parse_w3c, split_format, w3c
from field_reports.public_timeline import told
from field_reports.tables import Report, Service, ServiceField
from ioc_core import i18n
from ioc_core.auth.errors import FormError
from ioc_core.auth.principals import api_key_principal
from ioc_core.db.tables import AuditEvent
from ioc_core.i18n import gettext
from ioc_core.incidents.tables import Attachment, IncidentEvent
from ioc_core.incidents.workflow import OPEN_STATUSES
from ioc_core.web.access import error_page, not_signed_in
from ioc_core.web.forms import read_form

BASE = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
PERMISSION = "field_reports.submit"
# The spec's default answer: the last 90 days or the first 1,000 requests, whichever is less.
SPAN = dt.timedelta(days=90)
MAX_RESULTS = 1000
MAX_DESCRIPTION = 4000
LIST_TYPES = ("singlevaluelist", "multivaluelist")
# `attribute[CODE]=v`, and `attribute[CODE][]=v` as the spec writes a multivaluelist's values.
ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](?:\[\])?$")
# Timeline events that set the status: what an update's open/closed is read from.
STATUS_KINDS = ("created", "status")
# When nothing about the service catalogue was ever audited.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

Handler = Callable[[Request[Any, Any, Any], str], Awaitable[Response[bytes]]]


class Open311Error(Exception):
    """An answer in the spec's error format: the HTTP status and one (code, text) per problem."""

    def __init__(
        self,
        status: int,
        problems: Sequence[tuple[int, str]],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__("; ".join(text for _, text in problems))
        self.status = status
        self.problems = list(problems)
        self.headers = dict(headers or {})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _language(request: Request[Any, Any, Any]) -> str:
    """The supported language the client's Accept-Language prefers most; else the current one."""
    best: tuple[float, int, str] | None = None
    for index, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-")[0]
        if code not in i18n.LANGUAGES:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        # Higher quality wins; between equals, the one listed first.
        candidate = (-quality, index, code)
        if quality > 0 and (best is None or candidate < best):
            best = candidate
    return best[2] if best else i18n.current_language.get()


def _format_of(request: Request[Any, Any, Any]) -> str | None:
    return split_format(request.url.path.rsplit("/", 1)[-1])[1]


def _refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every error of these routes, the access guard's too, in the format the path asks for."""
    fmt = _format_of(request)
    if fmt is None:
        # No Open311 format asked for: the platform's own answer, a page for a browser.
        if isinstance(exc, NotAuthorizedException):
            return not_signed_in(request, exc)
        if isinstance(exc, HTTPException):
            return error_page(request, exc)
        return error_page(request, NotFoundException())
    with i18n.language(_language(request)):
        if isinstance(exc, Open311Error):
            return errors(fmt, exc.status, exc.problems, exc.headers)
        if isinstance(exc, NotAuthorizedException):
            # The spec answers a missing or unknown key with 403, not 401.
            text = gettext("Send a valid api_key: the API key given to your application.")
            return errors(fmt, 403, [(403, text)])
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        if status == 404:
            return errors(fmt, 404, [(404, gettext("There is nothing at this address."))])
        return errors(fmt, status, [(status, str(exc.detail))])


EXCEPTION_HANDLERS: dict[Any, Any] = {
    Open311Error: _refused,
    HTTPException: _refused,
    # Named too, or the app's own handler for it (a more specific class) would win.
    NotAuthorizedException: _refused,
}


class FormApiKey(ASGIMiddleware):
    """The spec sends `api_key` as a form field, and the platform reads keys from headers: read
    the form's key before the access guard looks for a principal, unless a header sent one."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("auth") != "api_key":
            # Litestar keeps the parsed form in the scope: the handler reads it again for free.
            form = await Request[Any, Any, Any](scope, receive).form()
            key = form.get("api_key")
            if isinstance(key, str) and key.strip():
                scope["user"] = await api_key_principal(key.strip())
                scope["auth"] = "api_key"
        await next_app(scope, receive, send)


# ---------------------------------------------------------------------------- reading filters


def _values(query: MultiDict[Any], name: str) -> list[str]:
    """A filter declared several times and/or comma delimited; empty means not declared."""
    found: list[str] = []
    for raw in query.getall(name, []):
        found += [v.strip() for v in str(raw).split(",") if v.strip()]
    return found


def _date(query: MultiDict[Any], name: str) -> dt.datetime | None:
    text = str(query.get(name) or "").strip()
    if not text:
        return None
    try:
        return parse_w3c(text)
    except ValueError:
        problem = gettext("%(name)s: give a date and time like 2026-01-15T08:30:00+07:00.")
        raise Open311Error(400, [(400, problem % {"name": name})]) from None


def _date_range(query: MultiDict[Any]) -> tuple[dt.datetime, dt.datetime]:
    """[start, end] of requested times: the last 90 days unless said; at most 90 days."""
    start, end = _date(query, "start_date"), _date(query, "end_date")
    if start is None and end is None:
        end = _now()
        return end - SPAN, end
    if start is None:
        assert end is not None
        return end - SPAN, end
    if end is None:
        return start, start + SPAN
    if end < start:
        raise Open311Error(400, [(400, gettext("end_date is before start_date."))])
    if end - start > SPAN:
        raise Open311Error(400, [(400, gettext("A search may span at most 90 days."))])
    return start, end


# ------------------------------------------------------------------------------------ answers


def _name(vi: str | None, en: str | None) -> str:
    if i18n.current_language.get() == "en" and en:
        return en
    return vi or ""


async def _changeset() -> str:
    """When the catalogue last changed, as far as the audit trail knows: the plugin enabled, or
    one of its administrative actions. Clients refresh cached services when it moves."""
    row = await (
        AuditEvent.select(AuditEvent.at)
        .where(AuditEvent.action.like("field_reports.%") | (AuditEvent.subject == "field_reports"))
        .order_by(AuditEvent.at, ascending=False)
        .first()
    )
    return str(w3c(row["at"] if row else EPOCH))


async def _discovery(request: Request[Any, Any, Any], fmt: str) -> Response[bytes]:
    public_url = request.app.state.runtime.settings.public_url.rstrip("/")
    changeset = await _changeset()
    data = {
        "changeset": changeset,
        "contact": gettext("The city's operations centre: %(url)s") % {"url": public_url},
        "key_service": gettext(
            "Ask the city's operations centre for an API key with the permission %(name)s."
        )
        % {"name": PERMISSION},
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": f"{public_url}{BASE}",
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return answer(fmt, "discovery", None, data)


async def _services(request: Request[Any, Any, Any], fmt: str) -> Response[bytes]:
    rows = await (
        Service.select(
            Service.id,
            Service.category.code.as_alias("code"),
            Service.category.name_vi.as_alias("name_vi"),
            Service.category.name_en.as_alias("name_en"),
            Service.description_vi,
            Service.description_en,
            Service.keywords,
            Service.group.name_vi.as_alias("group_vi"),
            Service.group.name_en.as_alias("group_en"),
        )
        .where(Service.public.eq(True), Service.category.active.eq(True))
        .order_by(Service.group.position)
        .order_by(Service.position)
        .order_by(Service.id)
    )
    with_fields = {
        r["service"]
        for r in await ServiceField.select(ServiceField.service).where(
            ServiceField.service.is_in([r["id"] for r in rows] or [0])
        )
    }
    data = [
        {
            "service_code": r["code"],
            "service_name": _name(r["name_vi"], r["name_en"]),
            "description": _name(r["description_vi"], r["description_en"]) or None,
            "metadata": r["id"] in with_fields,
            # We give the ticket code at once.
            "type": "realtime",
            "keywords": r["keywords"] or None,
            "group": _name(r["group_vi"], r["group_en"]) or None,
        }
        for r in rows
    ]
    return answer(fmt, "services", "service", data)


async def _service_definition(code: str, fmt: str) -> Response[bytes]:
    service = await intake.public_service(code)
    if service is None:
        raise Open311Error(404, [(404, gettext("No service %(code)s.") % {"code": code})])
    attributes = []
    # `order` must be a positive integer unique within the service: the rank of the position.
    for order, field in enumerate(await intake.fields_of(service["id"]), start=1):
        attribute: dict[str, Any] = {
            "variable": True,
            "code": field["code"],
            "datatype": field["datatype"],
            "required": field["required"],
            "datatype_description": _name(field["help_vi"], field["help_en"]) or None,
            "order": order,
            "description": _name(field["label_vi"], field["label_en"]),
        }
        if field["datatype"] in LIST_TYPES:
            attribute["values"] = [
                {"key": o["key"], "name": _name(o.get("name_vi"), o.get("name_en"))}
                for o in field["options"]
            ]
        attributes.append(attribute)
    data = {"service_code": code, "attributes": attributes}
    return answer(fmt, "service_definition", None, data)


async def _request_rows(site: str, *where: Where | Any) -> list[dict[str, Any]]:
    """Non-hidden reports matching `where`, newest first, at most 1,000, as the spec's
    requests."""
    incident = Report.incident
    rows = await (
        Report.select(
            incident.id.as_alias("incident_id"),
            incident.code.as_alias("code"),
            incident.status.as_alias("status"),
            incident.description.as_alias("description"),
            incident.public_note.as_alias("public_note"),
            incident.expected_at.as_alias("expected_at"),
            incident.sla_due_at.as_alias("sla_due_at"),
            incident.created_at.as_alias("created_at"),
            incident.updated_at.as_alias("updated_at"),
            incident.closed_at.as_alias("closed_at"),
            incident.address.as_alias("address"),
            incident.lat.as_alias("lat"),
            incident.lon.as_alias("lon"),
            incident.category.code.as_alias("service_code"),
            incident.category.name_vi.as_alias("service_vi"),
            incident.category.name_en.as_alias("service_en"),
            incident.department.name_vi.as_alias("agency_vi"),
            incident.department.name_en.as_alias("agency_en"),
            Report.media_url,
        )
        .where(Report.hidden.eq(False), *where)
        .order_by(incident.created_at, ascending=False)
        .order_by(Report.id, ascending=False)
        .limit(MAX_RESULTS)
    )
    ids = [r["incident_id"] for r in rows] or [0]
    photos: dict[int, int] = {}
    for photo in await (
        Attachment.select(Attachment.id, Attachment.incident)
        .where(Attachment.incident.is_in(ids), Attachment.public.eq(True))
        .order_by(Attachment.id, ascending=False)
    ):
        photos[photo["incident"]] = photo["id"]  # the first photo is written last
    return [_request(r, photos.get(r["incident_id"]), site) for r in rows]


def _request(row: Mapping[str, Any], photo: int | None, site: str) -> dict[str, Any]:
    closed = row["status"] not in OPEN_STATUSES
    # A photo sent to the portal first; else the address the app sent with its report.
    media = f"{site}/report-photos/{photo}" if photo else row["media_url"]
    return {
        "service_request_id": row["code"],
        "status": "closed" if closed else "open",
        # What the city published about the current state: its public note (staff's notes on
        # status changes are working notes, and the citizen's words are the citizen's).
        "status_notes": row["public_note"] or None,
        "service_name": _name(row["service_vi"], row["service_en"]) or None,
        "service_code": row["service_code"] or "",
        "description": row["description"][:MAX_DESCRIPTION] or None,
        "agency_responsible": _name(row["agency_vi"], row["agency_en"]) or None,
        "service_notice": row["public_note"] or None,
        "requested_datetime": w3c(row["created_at"]),
        # For a closed request, the spec's updated time is when it was closed.
        "updated_datetime": w3c((closed and row["closed_at"]) or row["updated_at"]),
        "expected_datetime": w3c(row["expected_at"] or row["sla_due_at"]),
        "address": row["address"] or None,
        # No master address repository and no postal codes here.
        "address_id": None,
        "zipcode": None,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": media or None,
    }


def _site(request: Request[Any, Any, Any]) -> str:
    return str(request.app.state.runtime.settings.public_url).rstrip("/")


async def _requests(request: Request[Any, Any, Any], fmt: str) -> Response[bytes]:
    query = request.query_params
    incident = Report.incident
    ids = _values(query, "service_request_id")
    where: list[Any] = []
    if ids:
        # The spec: ids override every other filter.
        where.append(incident.code.is_in(ids[:MAX_RESULTS]))
    else:
        start, end = _date_range(query)
        where += [incident.created_at >= start, incident.created_at <= end]
        codes = _values(query, "service_code")
        if codes:
            where.append(incident.category.code.is_in(codes))
        statuses = set(_values(query, "status"))
        unknown = sorted(statuses - {"open", "closed"})
        if unknown:
            problem = gettext("status: %(values)s; give open or closed.")
            raise Open311Error(400, [(400, problem % {"values": ", ".join(unknown)})])
        if statuses == {"open"}:
            where.append(incident.status.is_in(list(OPEN_STATUSES)))
        elif statuses == {"closed"}:
            where.append(incident.status.not_in(list(OPEN_STATUSES)))
    rows = await _request_rows(_site(request), *where)
    return answer(fmt, "service_requests", "request", rows)


async def _one_request(request: Request[Any, Any, Any], code: str, fmt: str) -> Response[bytes]:
    rows = await _request_rows(_site(request), Report.incident.code == code)
    if not rows:
        problem = gettext("No service request %(id)s.") % {"id": code}
        raise Open311Error(404, [(404, problem)])
    return answer(fmt, "service_requests", "request", rows)


async def _token(token: str, fmt: str) -> Response[bytes]:
    row = await (
        Report.select(Report.incident.code.as_alias("code"))
        .where(Report.token == token, Report.hidden.eq(False))
        .first()
    )
    if row is None:
        raise Open311Error(404, [(404, gettext("No service request has this token."))])
    data = [{"service_request_id": row["code"], "token": token}]
    return answer(fmt, "service_requests", "request", data)


def _update_text(event: Mapping[str, Any]) -> str | None:
    """An update's description: the city's words, else what happened."""
    said = told(event)
    return (said.detail or said.text) if said is not None else None


async def _updates(request: Request[Any, Any, Any], fmt: str) -> Response[bytes]:
    start, end = _date_range(request.query_params)
    shown = Report.select(Report.incident).where(Report.hidden.eq(False))
    events = await (
        IncidentEvent.select(
            IncidentEvent.id,
            IncidentEvent.incident,
            IncidentEvent.incident.code.as_alias("code"),
            IncidentEvent.at,
            IncidentEvent.kind,
            IncidentEvent.actor,
            IncidentEvent.after,
            IncidentEvent.note,
        )
        .where(
            IncidentEvent.public.eq(True),
            IncidentEvent.incident.is_in(shown),
            IncidentEvent.at >= start,
            IncidentEvent.at <= end,
        )
        .order_by(IncidentEvent.at, ascending=False)
        .order_by(IncidentEvent.id, ascending=False)
        .limit(MAX_RESULTS)
        .output(load_json=True)
    )
    # The status after each update: from the latest status-setting event up to it, which may
    # be older than the window.
    history: dict[int, list[tuple[dt.datetime, int, str]]] = {}
    for e in await (
        IncidentEvent.select(
            IncidentEvent.id, IncidentEvent.incident, IncidentEvent.at, IncidentEvent.after
        )
        .where(
            IncidentEvent.incident.is_in([e["incident"] for e in events] or [0]),
            IncidentEvent.kind.is_in(list(STATUS_KINDS)),
            IncidentEvent.public.eq(True),
        )
        .order_by(IncidentEvent.at)
        .order_by(IncidentEvent.id)
        .output(load_json=True)
    ):
        status = (e["after"] or {}).get("status")
        if status:
            history.setdefault(e["incident"], []).append((e["at"], e["id"], status))
    data = []
    for event in events:
        steps = history.get(event["incident"], [])
        at = bisect.bisect_right(steps, (event["at"], event["id"], "\uffff"))
        status = steps[at - 1][2] if at else "new"
        data.append(
            {
                "update_id": str(event["id"]),
                "service_request_id": event["code"],
                "status": "open" if status in OPEN_STATUSES else "closed",
                "updated_datetime": w3c(event["at"]),
                "description": _update_text(event),
                "media_url": None,
            }
        )
    return answer(fmt, "service_request_updates", "request_update", data)


# --------------------------------------------------------------------------------- submitting


def _coordinate(fields: Mapping[str, str], name: str, problems: dict[str, str]) -> float | None:
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        problems["location"] = gettext("lat and long: give numbers in degrees (WGS84).")
        # Not a number: the intake refuses a non-finite point, so nothing is stored.
        return math.nan


def _submission(form: FormMultiDict, api_key_id: int) -> tuple[Submission, dict[str, str]]:
    """The spec's form fields as a Submission, and what could not even be read."""
    attributes: dict[str, list[str]] = {}
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue  # a file: Open311 takes media as a media_url
        match = ATTRIBUTE.match(key)
        if match:
            attributes.setdefault(match.group(1), []).append(value)
        else:
            fields.setdefault(key, value)
    problems: dict[str, str] = {}
    lat = _coordinate(fields, "lat", problems)
    lon = _coordinate(fields, "long", problems)

    def text(name: str) -> str:
        return fields.get(name, "").strip()

    submission = Submission(
        service_code=text("service_code"),
        lat=lat,
        lon=lon,
        address=text("address_string"),
        description=fields.get("description", "").strip(),
        attributes=attributes,
        email=text("email"),
        phone=text("phone"),
        first_name=text("first_name"),
        last_name=text("last_name"),
        account_id=text("account_id"),
        device_id=text("device_id"),
        media_url=text("media_url"),
        channel="open311",
        api_key_id=api_key_id,
    )
    return submission, problems


def _intake_refusal(refused: Mapping[str, str], service_code: str) -> Open311Error:
    """The intake's problems, one error each, named by the spec's field names. An unknown
    service is the spec's 404; anything else the request can be fixed in is 400."""
    names = {"lon": "long", "address": "address_string"}
    problems = dict(refused)
    status = 400
    if "service_code" in problems:
        if service_code:
            status = 404
        else:
            problems["service_code"] = gettext("Give the service_code of one of the services.")
    return Open311Error(
        status,
        [
            (
                404 if field == "service_code" and status == 404 else 400,
                f"{names.get(field, field)}: {text}",
            )
            for field, text in problems.items()
        ],
    )


async def _create(request: Request[Any, Any, Any], fmt: str) -> Response[bytes]:
    principal = request.scope["user"]
    settings = request.app.state.runtime.registry.plugin_settings("field_reports")
    limits = Limits.of(settings)
    try:
        # Counted before the checks: a flood of bad requests is still a flood.
        await intake.throttle(f"key:{principal.id}", limits)
    except TooManyReports as exc:
        problem = gettext("Too many reports from this API key; try again in %(n)s seconds.")
        raise Open311Error(
            429,
            [(429, problem % {"n": exc.retry_after_s})],
            {"Retry-After": str(exc.retry_after_s)},
        ) from None
    submission, problems = _submission(await read_form(request), principal.id)
    try:
        incident, report = await intake.submit(submission, limits)
    except FormError as exc:
        raise _intake_refusal(exc.errors | problems, submission.service_code) from None
    data = [
        {
            "service_request_id": incident.code,
            "service_notice": incident.public_note or None,
            "account_id": report.account_id or None,
        }
    ]
    # The spec's "201 Created": the request exists now, under the ticket code answered.
    return answer(fmt, "service_requests", "request", data, status=201)


# ------------------------------------------------------------------------------------- routes

PUBLIC = {"public": True}
# Machine clients only, with an API key (see access.py); the form's api_key counts too.
SUBMIT = {"permission": PERMISSION, "exclude_from_csrf": True}
RESOURCES: dict[str, Handler] = {
    "discovery": _discovery,
    "services": _services,
    "requests": _requests,
    "servicerequestupdates": _updates,
}


def _split(name: str) -> tuple[str, str]:
    stem, fmt = split_format(name)
    if fmt is None:
        raise NotFoundException()
    return stem, fmt


def _unknown(stem: str) -> Open311Error:
    return Open311Error(404, [(404, gettext("No resource %(name)s.") % {"name": stem})])


@get(
    f"{BASE}/{{name:str}}",
    opt=PUBLIC,
    exception_handlers=EXCEPTION_HANDLERS,
    operation_class=openapi.RESOURCE,
)
async def resource(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    stem, fmt = _split(name)
    with i18n.language(_language(request)):
        handler = RESOURCES.get(stem)
        if handler is None:
            raise _unknown(stem)
        return await handler(request, fmt)


@get(
    f"{BASE}/services/{{name:str}}",
    opt=PUBLIC,
    exception_handlers=EXCEPTION_HANDLERS,
    operation_class=openapi.SERVICE_DEFINITION_OPERATION,
)
async def service_definition(
    request: Request[Any, Any, Any], name: FromPath[str]
) -> Response[bytes]:
    code, fmt = _split(name)
    with i18n.language(_language(request)):
        return await _service_definition(code, fmt)


@get(
    f"{BASE}/requests/{{name:str}}",
    opt=PUBLIC,
    exception_handlers=EXCEPTION_HANDLERS,
    operation_class=openapi.ONE_REQUEST,
)
async def one_request(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    code, fmt = _split(name)
    with i18n.language(_language(request)):
        return await _one_request(request, code, fmt)


@get(
    f"{BASE}/tokens/{{name:str}}",
    opt=PUBLIC,
    exception_handlers=EXCEPTION_HANDLERS,
    operation_class=openapi.TOKEN,
)
async def token(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    value, fmt = _split(name)
    with i18n.language(_language(request)):
        return await _token(value, fmt)


@post(
    f"{BASE}/{{name:str}}",
    opt=SUBMIT,
    middleware=[FormApiKey()],
    exception_handlers=EXCEPTION_HANDLERS,
    operation_class=openapi.CREATE,
)
async def create(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    stem, fmt = _split(name)
    with i18n.language(_language(request)):
        if stem != "requests":
            raise _unknown(stem)
        return await _create(request, fmt)


ROUTES: list[Any] = [resource, service_definition, one_request, token, create]
