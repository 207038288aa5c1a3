"""The SLA and escalation panel of a staff incident page, and its two forms: escalate, decide."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from typing import Any

from litestar import Request, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Response

from ioc_core.auth.errors import FormError
from ioc_core.auth.principal import Principal
from ioc_core.auth.tables import Department
from ioc_core.i18n import gettext, parse_day
from ioc_core.incidents.routes import access_denied_or_missing, act, department_choices
from ioc_core.incidents.tables import Incident
from ioc_core.incidents.visibility import can_see
from ioc_core.incidents.workflow import OPEN_STATUSES
from ioc_core.sla import escalation
from ioc_core.sla.tables import Escalation
from ioc_core.web.forms import acting, form_of
from ioc_core.web.ids import row_id
from ioc_core.web.pages import render_partial

ESCALATE = {"permission": "sla.escalate"}
DECIDE = {"permission": "sla.decide"}


async def sla_panel(
    request: Request[Any, Any, Any], incident: Incident, errors: dict[str, str]
) -> str:
    principal = acting(request)
    history = (
        await Escalation.select()
        .where(Escalation.incident == incident.id)
        .order_by(Escalation.id, ascending=False)
    )
    names = {
        d["id"]: d["name_vi"] for d in await Department.select(Department.id, Department.name_vi)
    }
    context = {
        "incident": incident,
        "history": history,
        "names": names,
        "errors": errors,
        "reasons": [(r, escalation.reason_label(r)) for r in escalation.REASONS],
        "decisions": [(d, escalation.decision_label(d)) for d in escalation.DECISIONS],
        "reason_label": escalation.reason_label,
        "decision_label": escalation.decision_label,
        "may_escalate": principal.can("sla.escalate") and incident.status in OPEN_STATUSES,
        "may_decide": escalation.may_decide(principal, incident.escalated_to),
        "departments": await department_choices(),
    }
    return render_partial(request, "sla/incident_panel.html", context)


def expected_day(values: dict[str, str]) -> dt.date | None:
    """The form's expected date; a date that cannot be read is refused as a form error."""
    try:
        return parse_day(values.get("expected_at", ""))
    except ValueError:
        raise FormError({"expected_at": gettext("Use a date like 15/01/2027.")}) from None


async def _prefixed_form(request: Request[Any, Any, Any], prefix: str) -> dict[str, str]:
    """The panel's fields carry a prefix, so they and their errors stay apart from the incident
    page's own forms (both have a note, a public note and an expected date)."""
    values, _ = await form_of(request)
    return {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}


async def _errors_prefixed(prefix: str, action: Awaitable[Incident]) -> Incident:
    try:
        return await action
    except FormError as exc:
        raise FormError({f"{prefix}{k}": v for k, v in exc.errors.items()}) from None


@post("/incidents/{incident_id:int}/escalate", opt=ESCALATE, include_in_schema=False)
async def incident_escalate(
    request: Request[Any, Any, Any], incident_id: FromPath[int]
) -> Response[Any]:
    values = await _prefixed_form(request, "escalate_")
    actor = acting(request).actor

    async def escalate() -> Incident:
        return await escalation.escalate(
            incident_id,
            actor,
            values.get("reason", ""),
            values.get("note", ""),
            public_note=values.get("public_note", ""),
            expected_day=expected_day(values),
        )

    return await act(request, incident_id, lambda: _errors_prefixed("escalate_", escalate()))


@post("/incidents/{incident_id:int}/decide", opt=DECIDE, include_in_schema=False)
async def incident_decide(
    request: Request[Any, Any, Any], incident_id: FromPath[int]
) -> Response[Any]:
    values = await _prefixed_form(request, "decide_")
    principal = acting(request)
    if not await can_see(principal, incident_id):
        raise access_denied_or_missing()
    holder = await Incident.select(Incident.escalated_to).where(Incident.id == incident_id).first()
    if (
        holder
        and holder["escalated_to"]
        and not escalation.may_decide(principal, holder["escalated_to"])
    ):
        raise PermissionDeniedException(
            gettext("Only the unit the incident was escalated to decides it.")
        )
    decision = decide_from_form(incident_id, principal, values)
    return await act(request, incident_id, lambda: _errors_prefixed("decide_", decision))


async def decide_from_form(
    incident_id: int, principal: Principal, values: dict[str, str]
) -> Incident:
    """One decision from a form's fields: the incident page's form and the queue's bulk form."""
    department = values.get("department", "")
    return await escalation.decide(
        incident_id,
        principal.actor,
        values.get("decision", ""),
        values.get("note", ""),
        expected_day=expected_day(values),
        department_id=row_id(department),
        public_note=values.get("public_note", ""),
        units=None if principal.all_permissions else frozenset(principal.department_ids),
    )


ROUTES = [incident_escalate, incident_decide]
