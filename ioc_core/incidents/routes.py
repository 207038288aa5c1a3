"""Staff pages for incidents: the list with filters, the detail with its timeline and actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Stream

from ioc_core.auth.errors import AuthError
from ioc_core.auth.routes import safe_next
from ioc_core.auth.tables import Department, User
from ioc_core.i18n import day_noon, day_start, gettext, parse_day
from ioc_core.incidents import service
from ioc_core.incidents.export import FORMATS, export
from ioc_core.incidents.tables import Area, Category, Incident, IncidentEvent, IncidentFollower
from ioc_core.incidents.visibility import can_see, visible_to
from ioc_core.incidents.workflow import (
    STATUSES,
    TRANSITIONS,
    TransitionError,
    priority_labels,
    status_label,
)
from ioc_core.web.forms import acting, errors_of, form_of, refusal
from ioc_core.web.ids import chosen_id, row_id
from ioc_core.web.pages import page
from ioc_core.web.tables import Column, Filter, table_view

VIEW = {"permission": "incidents.view"}
WORK = {"permission": "incidents.work"}
ASSIGN = {"permission": "incidents.assign"}


async def department_choices() -> list[tuple[str, str]]:
    departments = await Department.select(Department.id, Department.name_vi).order_by(
        Department.name_vi
    )
    return [(str(d["id"]), d["name_vi"]) for d in departments]


async def filter_choices() -> dict[str, list[tuple[str, str]]]:
    categories = await Category.select(Category.id, Category.name_vi).order_by(Category.name_vi)
    areas = (
        await Area.select(Area.id, Area.name_vi)
        .where(Area.valid_to.is_null())
        .order_by(Area.name_vi)
    )
    return {
        "category": [(str(c["id"]), c["name_vi"]) for c in categories],
        "department": await department_choices(),
        "area": [(str(a["id"]), a["name_vi"]) for a in areas],
    }


@get("/incidents", opt=VIEW, include_in_schema=False)
async def incidents_list(request: Request[Any, Any, Any]) -> Response[str]:
    choices = await filter_choices()
    columns = [
        Column("code", gettext("Ticket")),
        Column("title", gettext("Title")),
        Column("status", gettext("Status")),
        Column("priority", gettext("Priority")),
        Column("created_at", gettext("Reported")),
        Column("sla_due_at", gettext("Due")),
    ]
    filters = [
        Filter("status", gettext("Status"), [(s, status_label(s)) for s in STATUSES]),
        Filter("category", gettext("Category"), choices["category"], int),
        Filter("area", gettext("Ward"), choices["area"], int),
        Filter("department", gettext("Department"), choices["department"], int),
    ]
    view = await table_view(
        request,
        Incident,
        columns,
        search=[Incident.code, Incident.title, Incident.address],
        filters=filters,
        default_sort="created_at",
        default_descending=True,
        where=await visible_to(acting(request)),
    )
    context = {
        "view": view,
        "status_label": status_label,
        "priorities": priority_labels(),
        "departments": choices["department"],
    }
    return await page(request, "incidents/list.html", context)


@get("/incidents/{incident_id:int}", opt=VIEW, include_in_schema=False)
async def incident_detail(
    request: Request[Any, Any, Any], incident_id: FromPath[int]
) -> Response[str]:
    return await detail_page(request, incident_id)


async def detail_page(
    request: Request[Any, Any, Any],
    incident_id: int,
    errors: dict[str, str] | None = None,
) -> Response[str]:
    if not await can_see(acting(request), incident_id):
        raise access_denied_or_missing()
    incident = await Incident.objects().get(Incident.id == incident_id)
    principal = acting(request)
    events = (
        await IncidentEvent.select()
        .where(IncidentEvent.incident == incident_id)
        .order_by(IncidentEvent.at, ascending=False)
        .output(load_json=True)
    )
    context = {
        "incident": incident,
        "events": events,
        "status_label": status_label,
        "next_statuses": TRANSITIONS.get(incident.status, ()),
        "priorities": priority_labels(),
        "departments": await department_choices(),
        "users": await User.select(User.id, User.username, User.full_name)
        .where(User.is_active.eq(True))
        .order_by(User.username),
        "categories": await Category.select(Category.id, Category.code, Category.name_vi)
        .where(Category.active.eq(True))
        .order_by(Category.name_vi),
        "following": principal.kind == "user"
        and await IncidentFollower.exists().where(
            (IncidentFollower.incident == incident_id) & (IncidentFollower.user == principal.id)
        ),
        "panels": await _panels(request, incident, errors or {}),
        "errors": errors or {},
    }
    return await page(request, "incidents/detail.html", context, status_code=422 if errors else 200)


async def _panels(
    request: Request[Any, Any, Any], incident: Incident, errors: dict[str, str]
) -> list[str]:
    """What enabled plugins add to the page (the SLA and escalation panel, say)."""
    runtime = request.app.state.runtime
    enabled = await runtime.states.enabled()
    panels = []
    for name, answers in runtime.registry.per_plugin("incident_panels").items():
        if name in enabled:
            for render in (r for answer in answers for r in answer or ()):
                html = await render(request, incident, errors)
                if html:
                    panels.append(html)
    return panels


def access_denied_or_missing() -> NotFoundException:
    """The same 404 for an incident that does not exist and one the user may not see."""
    return NotFoundException()


async def act(request: Request[Any, Any, Any], incident_id: int, action: Any) -> Response[Any]:
    """Run one change from a form; its errors show on the detail page beside the form (the
    forms of plugins' panels too)."""
    if not await can_see(acting(request), incident_id):
        raise access_denied_or_missing()
    try:
        await action()
    except TransitionError as exc:
        return await detail_page(request, incident_id, {"status": str(exc)})
    except AuthError as exc:
        return await detail_page(request, incident_id, errors_of(exc))
    return Redirect(f"/incidents/{incident_id}", status_code=303)


@post("/incidents/{incident_id:int}/status", opt=WORK, include_in_schema=False)
async def incident_status(
    request: Request[Any, Any, Any], incident_id: FromPath[int]
) -> Response[Any]:
    values, _ = await form_of(request)
    actor = acting(request).actor
    target, note = values.get("status", ""), values.get("note", "")
    return await act(
        request, incident_id, lambda: service.change_status(incident_id, target, actor, note)
    )


@post("/incidents/{incident_id:int}/assign", opt=ASSIGN, include_in_schema=False)
async def incident_assign(
    request: Request[Any, Any, Any], incident_id: FromPath[int]
) -> Response[Any]:
    values, _ = await form_of(request)
    actor = acting(request).actor
    department, assignee = chosen_id(values.get("department")), chosen_id(values.get("assignee"))
    return await act(
        request,
        incident_id,
        lambda: service.assign(incident_id, actor, department_id=department, assignee_id=assignee),
    )


@post("/incidents/{incident_id:int}/comment", opt=WORK, include_in_schema=False)
async def incident_comment(
    request: Request[Any, Any, Any], incident_id: FromPath[int]
) -> Response[Any]:
    values, _ = await form_of(request)
    actor = acting(request).actor
    public = values.get("public") == "on"
    return await act(
        request,
        incident_id,
        lambda: service.comment(incident_id, actor, values.get("comment", ""), public=public),
    )


@post("/incidents/{incident_id:int}/public-note", opt=WORK, include_in_schema=False)
async def incident_public_note(
    request: Request[Any, Any, Any], incident_id: FromPath[int]
) -> Response[Any]:
    values, _ = await form_of(request)
    actor = acting(request).actor
    try:
        expected = _local_date(values.get("expected_at", ""))
    except ValueError:
        return await detail_page(
            request, incident_id, {"expected_at": gettext("Use a date like 15/01/2027.")}
        )
    note = values.get("public_note", "")
    return await act(
        request,
        incident_id,
        lambda: service.set_public_note(incident_id, actor, note, expected),
    )


@post("/incidents/{incident_id:int}/category", opt=ASSIGN, include_in_schema=False)
async def incident_category(
    request: Request[Any, Any, Any], incident_id: FromPath[int]
) -> Response[Any]:
    values, _ = await form_of(request)
    actor = acting(request).actor
    code = values.get("category", "")
    return await act(request, incident_id, lambda: service.recategorise(incident_id, actor, code))


@post("/incidents/{incident_id:int}/follow", opt=VIEW, include_in_schema=False)
async def incident_follow(
    request: Request[Any, Any, Any], incident_id: FromPath[int]
) -> Response[Any]:
    """Follow (or, with `stop`, unfollow): be told when what the citizen sees changes."""
    values, _ = await form_of(request)
    principal = acting(request)
    if principal.kind != "user":
        raise ValidationException(gettext("Only a signed-in person can follow an incident."))
    change = service.unfollow if values.get("stop") else service.follow
    return await act(request, incident_id, lambda: change(incident_id, principal.id))


def _local_date(text: str) -> dt.datetime | None:
    day = parse_day(text)
    return day_noon(day) if day else None


def _local_day(text: str) -> dt.datetime | None:
    day = parse_day(text)
    return day_start(day) if day else None


@post("/incidents/bulk-assign", opt=ASSIGN, include_in_schema=False)
async def incidents_bulk_assign(request: Request[Any, Any, Any]) -> Response[Any]:
    """Assign many at once; each incident gets its own timeline event."""
    values, lists = await form_of(request)
    principal = acting(request)
    back = safe_next(values.get("back") or "/incidents")
    department = row_id(values.get("department"))
    if values.get("department") and (
        department is None or not await Department.exists().where(Department.id == department)
    ):
        return await refusal(request, gettext("Choose a department from the list."), 422, back)
    for incident_id in (row_id(raw) for raw in lists.get("incident", [])):
        if incident_id is not None and await can_see(principal, incident_id):
            await service.assign(incident_id, principal.actor, department_id=department)
    return Redirect(back, status_code=303)


@get("/incidents/export", opt={"permission": "incidents.export"}, include_in_schema=False)
async def incidents_export(
    what: FromQuery[str] = "incidents",
    format: FromQuery[str] = "csv",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
) -> Stream:
    """The same stream as `ioc export`, as a download; dates are days in the city's calendar."""
    if what not in ("incidents", "events") or format not in FORMATS:
        raise ValidationException(gettext("Choose incidents or events, and csv or geojson."))
    try:
        start, end = _local_day(since), _local_day(until)
    except ValueError:
        raise ValidationException(gettext("Use a date like 15/01/2027.")) from None
    media = "text/csv" if format == "csv" else "application/geo+json"
    filename = f"{what}.{format}"
    return Stream(
        export(what, format, start, end),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


ROUTES = [
    incidents_list,
    incident_detail,
    incident_status,
    incident_assign,
    incident_comment,
    incident_public_note,
    incident_category,
    incident_follow,
    incidents_bulk_assign,
    incidents_export,
]
