"""Leaders' queues: escalated to me, overdue in my departments, waiting on budget; their counts
in the navigation, and decisions on many incidents at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response

from ioc_core.auth.departments import descendant_ids
from ioc_core.auth.errors import FormError
from ioc_core.auth.principal import Principal
from ioc_core.auth.routes import safe_next
from ioc_core.auth.tables import Department
from ioc_core.i18n import gettext
from ioc_core.incidents.tables import Incident
from ioc_core.incidents.workflow import status_label
from ioc_core.sla import escalation
from ioc_core.sla.incident_pages import decide_from_form
from ioc_core.sla.sweep import RUNNING
from ioc_core.web.forms import acting, done, form_of
from ioc_core.web.ids import row_id
from ioc_core.web.pages import page
from ioc_core.web.tables import Column, table_view

DECIDE = {"permission": "sla.decide"}
QUEUES = ("escalated", "overdue", "budget")
PATHS = {name: f"/sla/queues/{name}" for name in QUEUES}


def queue_title(name: str) -> str:
    titles = {
        "escalated": gettext("Escalated to me"),
        "overdue": gettext("Overdue in my departments"),
        "budget": gettext("Waiting on budget"),
    }
    return titles[name]


async def queue_condition(principal: Principal, name: str) -> Any:
    """Which incidents are in `principal`'s queue `name`: a Piccolo condition on Incident."""
    escalated = Incident.escalated_to.is_not_null()
    if name == "escalated":
        mine = _mine(principal, Incident.escalated_to, list(principal.department_ids))
        return escalated & mine
    below = list(await descendant_ids(list(principal.department_ids)))
    if name == "overdue":
        now = dt.datetime.now(dt.UTC)
        overdue = Incident.status.is_in(list(RUNNING)) & (Incident.sla_due_at <= now)
        return overdue & _mine(principal, Incident.department, below)
    budget = escalated & (Incident.escalation_reason == "needs_budget")
    return budget & (
        _mine(principal, Incident.escalated_to, list(principal.department_ids))
        | _mine(principal, Incident.department, below)
    )


def _mine(principal: Principal, column: Any, department_ids: list[int]) -> Any:
    if principal.all_permissions:
        return Incident.id.is_not_null()
    if not department_ids:
        return Incident.id < 0  # no department: an empty queue
    return column.is_in(sorted(department_ids))


def counts(principal: Principal) -> dict[str, Callable[[], Awaitable[int]]]:
    """The queues' sizes for the navigation, by path."""

    def counter(name: str) -> Callable[[], Awaitable[int]]:
        async def count() -> int:
            return await Incident.count().where(await queue_condition(principal, name))

        return count

    if not principal.can("sla.decide"):
        return {}
    return {PATHS[name]: counter(name) for name in QUEUES}


@get("/sla/queues/{name:str}", opt=DECIDE, include_in_schema=False)
async def queue_page(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[str]:
    if name not in QUEUES:
        raise NotFoundException()
    return await _queue(request, name)


async def _queue(
    request: Request[Any, Any, Any], name: str, errors: dict[str, str] | None = None
) -> Response[str]:
    principal = acting(request)
    columns = [
        Column("code", gettext("Ticket")),
        Column("title", gettext("Title")),
        Column("status", gettext("Status")),
        Column("escalation_reason", gettext("Reason"), sortable=False),
        Column("department", gettext("Department")),
        Column("sla_due_at", gettext("Due")),
        Column("expected_at", gettext("Expected")),
    ]
    view = await table_view(
        request,
        Incident,
        columns,
        search=[Incident.code, Incident.title],
        default_sort="sla_due_at",
        where=await queue_condition(principal, name),
    )
    counters = counts(principal)
    tabs = [
        {"name": q, "title": queue_title(q), "path": PATHS[q], "count": await counters[PATHS[q]]()}
        for q in QUEUES
    ]
    departments = {
        d["id"]: d["name_vi"] for d in await Department.select(Department.id, Department.name_vi)
    }
    context = {
        "name": name,
        "title": queue_title(name),
        "tabs": tabs,
        "view": view,
        "departments": departments,
        "status_label": status_label,
        "reason_label": escalation.reason_label,
        "decisions": [(d, escalation.decision_label(d)) for d in ("approved", "returned")],
        "errors": errors or {},
    }
    return await page(request, "sla/queue.html", context, status_code=422 if errors else 200)


@post("/sla/queues/decide", opt=DECIDE, include_in_schema=False)
async def queue_decide(request: Request[Any, Any, Any]) -> Response[Any]:
    """One decision for every ticked incident the leader may decide; each is its own change."""
    values, lists = await form_of(request)
    principal = acting(request)
    back = safe_next(values.get("back") or PATHS["escalated"])
    chosen = [i for i in (row_id(raw) for raw in lists.get("incident", [])) if i is not None]
    holders = {
        r["id"]: r["escalated_to"]
        for r in await Incident.select(Incident.id, Incident.escalated_to).where(
            Incident.id.is_in(chosen or [-1])
        )
    }
    mine = [i for i in chosen if escalation.may_decide(principal, holders.get(i))]
    name = next((q for q in QUEUES if back.startswith(PATHS[q])), "escalated")
    if not mine:
        problem = gettext("Tick at least one incident you may decide.")
        return await _queue(request, name, {"": problem})
    decided = 0
    for incident_id in mine:
        try:
            await decide_from_form(incident_id, principal, values)
        except FormError as exc:
            if decided == 0:  # the input itself is wrong: nothing was decided, show why
                return await _queue(request, name, exc.errors)
            continue  # this one changed meanwhile (decided by someone else)
        decided += 1
    message = gettext("%(n)s of %(total)s incidents decided.") % {
        "n": decided,
        "total": len(chosen),
    }
    return await done(request, message, back)


ROUTES = [queue_page, queue_decide]
