"""Escalation up the department hierarchy and the decisions taken above.

Staff escalate an incident with a reason; it goes to the parent of the unit holding it (the
department, then city leadership, then the province). A member of that unit decides: approve
(budget or time) with a new expected date, reassign to another unit, return with instructions,
or escalate further. Each step is one change of the incident (`service.change`), so it is in the
timeline and sent as a domain event (`incident.escalated`, `incident.decided`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ioc_core.auth.errors import FormError
from ioc_core.auth.principal import Principal
from ioc_core.auth.tables import Department
from ioc_core.i18n import day_noon, day_start, gettext, local_today
from ioc_core.incidents import service
from ioc_core.incidents.tables import Incident
from ioc_core.incidents.workflow import OPEN_STATUSES
from ioc_core.sla import clock, routing
from ioc_core.sla.tables import Escalation

REASONS = ("needs_budget", "beyond_authority", "needs_other_agency", "needs_more_time")
# The reason of an escalation the SLA sweep makes when a due time passes.
OVERDUE = "overdue"
DECISIONS = ("approved", "reassigned", "returned")
# What the citizen is told when staff give no text of their own. Stored as data, in the
# language of the city's citizens.
PUBLIC_NOTES = {
    "needs_budget": "Đang chờ phê duyệt kinh phí",
    "beyond_authority": "Đã chuyển cấp có thẩm quyền xem xét",
    "needs_other_agency": "Đang phối hợp với cơ quan liên quan",
    "needs_more_time": "Cần thêm thời gian để xử lý",
    "approved": "Đã được cấp có thẩm quyền phê duyệt",
}
MAX_NOTE = 2000


def reason_label(reason: str) -> str:
    labels = {
        "needs_budget": gettext("Needs budget"),
        "beyond_authority": gettext("Beyond the department's authority"),
        "needs_other_agency": gettext("Needs another agency"),
        "needs_more_time": gettext("Needs more time"),
        OVERDUE: gettext("Overdue (automatic)"),
    }
    return labels.get(reason, reason)


def decision_label(decision: str) -> str:
    labels = {
        "approved": gettext("Approve"),
        "reassigned": gettext("Reassign"),
        "returned": gettext("Return with instructions"),
        "forwarded": gettext("Escalated further"),
    }
    return labels.get(decision, decision)


def may_decide(principal: Principal, escalated_to: int | None) -> bool:
    """Members of the unit the incident was escalated to decide (administrators too)."""
    if escalated_to is None:
        return False
    return principal.all_permissions or (
        principal.can("sla.decide") and escalated_to in principal.department_ids
    )


async def open_escalation(incident_id: int) -> dict[str, Any] | None:
    return await (
        Escalation.select()
        .where((Escalation.incident == incident_id) & (Escalation.decision == ""))
        .first()
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_note(note: str, field: str = "note", required: bool = False) -> dict[str, str]:
    if required and not note.strip():
        return {field: gettext("Write the instructions for the department.")}
    if len(note) > MAX_NOTE:
        return {field: gettext("At most %(n)s characters.") % {"n": MAX_NOTE}}
    return {}


def _check_expected(day: dt.date | None, required: bool) -> dict[str, str]:
    if day is None:
        return {"expected_at": gettext("Give the new expected date.")} if required else {}
    if day < local_today():
        return {"expected_at": gettext("The expected date cannot be in the past.")}
    return {}


def _public(incident: Incident) -> dict[str, Any]:
    expected = incident.expected_at.isoformat() if incident.expected_at else None
    return {"public_note": incident.public_note, "expected_at": expected}


def _holding(incident: Incident) -> dict[str, Any]:
    return {
        "escalated_to": incident.escalated_to,
        "escalation_level": incident.escalation_level,
        "escalation_reason": incident.escalation_reason,
        "department": incident.department,
        "sla_due_at": incident.sla_due_at.isoformat() if incident.sla_due_at else None,
    }


async def escalate(
    incident_id: int,
    actor: str,
    reason: str,
    note: str = "",
    *,
    public_note: str = "",
    expected_day: dt.date | None = None,
) -> Incident:
    """Send the incident one level up, with a reason and a note for the unit above."""
    errors = _check_note(note) | _check_note(public_note, "public_note")
    if reason not in REASONS:
        errors["reason"] = gettext("Choose a reason from the list.")
    errors |= _check_expected(expected_day, required=False)
    if errors:
        raise FormError(errors)
    return await service.change(
        incident_id,
        actor,
        "escalated",
        escalation_change(actor, reason, note, public_note or PUBLIC_NOTES[reason], expected_day),
        note=note,
    )


def escalation_change(
    actor: str,
    reason: str,
    note: str,
    public_note: str | None,
    expected_day: dt.date | None = None,
    automatic: bool = False,
) -> service.Change:
    """The change that moves an incident one level up (also used by the SLA sweep)."""

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        if incident.status not in OPEN_STATUSES:
            raise FormError({"reason": gettext("Only an open incident can be escalated.")})
        holder = incident.escalated_to or incident.department
        if holder is None:
            raise FormError(
                {"reason": gettext("Give the incident to a department before escalating it.")}
            )
        above = await Department.select(Department.parent).where(Department.id == holder).first()
        if above is None or above["parent"] is None:
            raise FormError({"reason": gettext("There is no level above the unit holding it.")})
        before = _holding(incident) | _public(incident)
        now = _now()
        await Escalation.update(
            {
                Escalation.decision: "forwarded",
                Escalation.decided_by: actor,
                Escalation.decided_at: now,
            }
        ).where((Escalation.incident == incident.id) & (Escalation.decision == ""))
        await Escalation.insert(
            Escalation(
                incident=incident.id,
                level=incident.escalation_level + 1,
                from_department=holder,
                to_department=above["parent"],
                reason=reason,
                note=note,
                automatic=automatic,
                raised_by=actor,
                raised_at=now,
            )
        )
        incident.escalation_level += 1
        incident.escalated_to = above["parent"]
        incident.escalation_reason = reason
        if public_note is not None:
            incident.public_note = public_note
        if expected_day is not None:
            incident.expected_at = day_noon(expected_day)
        return before, _holding(incident) | _public(incident)

    return apply


async def decide(
    incident_id: int,
    actor: str,
    decision: str,
    note: str = "",
    *,
    expected_day: dt.date | None = None,
    department_id: int | None = None,
    public_note: str = "",
    units: frozenset[int] | None = None,
) -> Incident:
    """The decision of the unit the incident was escalated to; the escalation is then closed
    and the responsible department carries on. With `units`, the decider's own units, it is
    refused unless the incident is (still) escalated to one of them."""
    errors = _check_note(note, required=decision == "returned")
    errors |= _check_note(public_note, "public_note")
    if decision not in DECISIONS:
        errors["decision"] = gettext("Choose a decision from the list.")
    errors |= _check_expected(expected_day, required=decision == "approved")
    if decision == "reassigned":
        if department_id is None:
            errors["department"] = gettext("Choose the department to take it over.")
        elif not await Department.exists().where(Department.id == department_id):
            errors["department"] = gettext("No such department.")
    if errors:
        raise FormError(errors)

    async def apply(incident: Incident) -> tuple[dict[str, Any], dict[str, Any]]:
        pending = await open_escalation(incident.id)
        if pending is None:
            raise FormError({"decision": gettext("This incident is not waiting for a decision.")})
        if units is not None and pending["to_department"] not in units:
            message = gettext("Only the unit the incident was escalated to decides it.")
            raise FormError({"decision": message})
        before = _holding(incident) | _public(incident)
        await Escalation.update(
            {
                Escalation.decision: decision,
                Escalation.decided_by: actor,
                Escalation.decided_at: _now(),
                Escalation.decision_note: note,
                Escalation.new_expected_at: day_noon(expected_day) if expected_day else None,
            }
        ).where(Escalation.id == pending["id"])
        incident.escalated_to = None
        incident.escalation_level = 0
        incident.escalation_reason = ""
        if decision == "approved" and expected_day is not None:
            await _approve(incident, expected_day)
        elif decision == "reassigned":
            incident.department, incident.assignee = department_id, None
        if public_note:
            incident.public_note = public_note
        after = _holding(incident) | _public(incident) | {"decision": decision}
        return before, after

    return await service.change(incident_id, actor, "decided", apply, note=note)


async def _approve(incident: Incident, expected_day: dt.date) -> None:
    """Budget or time granted: the citizen is told the new date, and the SLA runs to its end."""
    calendar = await clock.load_calendar()
    target = await routing.target_for(incident.category, incident.priority)
    warn = routing.hours(target["warn_hours"]) if target else None
    clock.set_due(incident, day_start(expected_day + dt.timedelta(days=1)), warn, calendar)
    incident.expected_at = day_noon(expected_day)
    incident.public_note = PUBLIC_NOTES["approved"]
